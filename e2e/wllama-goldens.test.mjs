// llama.cpp (wllama 2.3.7 in headless Chromium) still reproduces the committed greedy.json goldens
// on GGUFs written by engine/gguf's ConvertBLOOM: the same 32 greedy tokens, the numpy greedy
// tokens, and log-softmax within 2e-2 of numpy. This is the check that the converter's output stays
// loadable and correct for llama.cpp; the goldens themselves are regenerated only by
// `node tools/reference/wllama_goldens.mjs` (make goldens).
//   node --test e2e/wllama-goldens.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { need, repo, browserMissing } from './lib/harness.mjs';

test('wllama (llama.cpp) reproduces greedy.json on converted GGUFs', async (t) => {
  const missing = await browserMissing();
  if (!need(t, !missing, missing)) return;
  const wllama = path.join(repo, 'node_modules', '@wllama', 'wllama', 'esm', 'single-thread', 'wllama.wasm');
  if (!need(t, fs.existsSync(wllama), 'node_modules/@wllama/wllama 2.3.7 is not installed (npm ci)')) return;
  if (!need(t, fs.existsSync('/usr/bin/python3'), '/usr/bin/python3 with numpy is required')) return;
  const r = spawnSync(process.execPath, [path.join(repo, 'tools/reference/wllama_goldens.mjs'), '--check'], {
    cwd: repo, encoding: 'utf8', timeout: 10 * 60 * 1000,
  });
  assert.equal(r.status, 0, `wllama_goldens.mjs --check failed:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /bloom-f32-h4-l2/);
});
