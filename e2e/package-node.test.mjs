// examples/node: the packed alibi-wasm installed into a Node 20 project; the
// script loads the bundled model from a path (the site's web directory and
// the repository's HF folder) and generates greedily; the tokens must be the
// native CLI's greedy tokens.
//   node --test e2e/package-node.test.mjs
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { need, native, repo } from './lib/harness.mjs';
import { pack, installExample, sh, siteDir, gateReason, MODEL } from './package-common.mjs';

let missing = '';
let work;

before(async () => {
  missing = gateReason();
  if (missing) return;
  const { tgz } = await pack();
  work = installExample('node', tgz);
});

const TOKENS = 12;

test('node example: greedy tokens from a path equal the native CLI', async (t) => {
  if (!need(t, !missing, missing)) return;
  const hf = path.join(repo, 'models', MODEL);
  const web = path.join(siteDir, 'models', MODEL);
  assert.ok(fs.existsSync(path.join(web, 'manifest.json')), `bundled model at ${web}`);
  const runs = [web, hf].map((dir) => JSON.parse(sh('node', ['generate.mjs', dir, '--tokens', String(TOKENS), '--json'], { cwd: work })));
  for (const r of runs) {
    assert.equal(r.architecture, 'bloom');
    assert.equal(r.threads, 1);
    assert.ok(r.ids.length > 0 && r.ids.length <= TOKENS, `ids: ${r.ids}`);
    assert.ok(r.text.length > 0);
  }
  assert.deepEqual(runs[0], runs[1], 'web directory and HF folder give the same output');
  // Both apply generation_config.json's repetition penalty by default (greedy: temperature 0).
  const want = (await native(['run', '--model', hf, '--ids', runs[0].prompt.join(','), '--max-tokens', String(TOKENS), '--temperature', '0'])).ids;
  assert.deepEqual(runs[0].ids, want.slice(0, runs[0].ids.length), 'native greedy tokens');
  // The human-readable form streams the prompt and the completion.
  const out = sh('node', ['generate.mjs', web, '--tokens', '4'], { cwd: work });
  assert.match(out, /^The jury said.+\n\[alibi-wasm \d+\.\d+\.\d+: bloom, \d+ parameters, \d+ tokens, simd (true|false)\]\n$/s);
});

test('node example: the installed package is the packed one (exports, files)', async (t) => {
  if (!need(t, !missing, missing)) return;
  const meta = JSON.parse(fs.readFileSync(path.join(work, 'node_modules/alibi-wasm/package.json'), 'utf8'));
  const version = fs.readFileSync(path.join(repo, 'VERSION'), 'utf8').trim();
  assert.equal(meta.version, version);
  // Only the exported entry points resolve.
  const probe = `
    import('alibi-wasm').then((m) => console.log(JSON.stringify(Object.keys(m).sort())));
  `;
  const keys = JSON.parse(sh('node', ['--input-type=module', '-e', probe], { cwd: work }));
  for (const k of ['loadModel', 'AlibiError', 'ERROR_TYPES', 'VERSION', 'listCachedModels', 'deleteCachedModel', 'storageEstimate']) {
    assert.ok(keys.includes(k), `export ${k}: ${keys}`);
  }
  const deep = `import('alibi-wasm/loader/errors.js').then(() => console.log('resolved'), (e) => console.log(e.code))`;
  assert.equal(sh('node', ['--input-type=module', '-e', deep], { cwd: work }).trim(), 'ERR_PACKAGE_PATH_NOT_EXPORTED');
});
