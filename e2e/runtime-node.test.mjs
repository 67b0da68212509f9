// The same alibi.js API in Node 20 (worker_threads): a directory path, a
// file: URL and an http URL served by `alibi serve`, against the native CLI.
//   node --test e2e/runtime-node.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { need, site, startServer, native, maxRelDiff, FIXTURES, repo } from './lib/harness.mjs';

let dir;
let server;
let missing = '';

before(async () => {
  try {
    dir = await site();
    server = await startServer(dir);
  } catch (e) {
    missing = `cannot build the site: ${e.message.split('\n')[0]}`;
  }
});

after(async () => { await server?.stop(); });

const ref = (f) => JSON.parse(fs.readFileSync(path.join(repo, 'engine/testdata', f, 'reference.json'), 'utf8'));

for (const f of FIXTURES) {
  test(`node: ${f} from a path, a file: URL and http gives the native tokens and logits`, async (t) => {
    if (!need(t, !missing, missing)) return;
    const { loadModel } = await import(pathToFileURL(path.join(dir, 'alibi.js')).href);
    const ids = ref(f).ids.slice(0, 10);
    const hf = path.join(dir, 'hf', f);
    const wantLogits = (await native(['logits', '--model', hf, '--ids', ids.join(',')])).logits;
    const wantIds = (await native(['run', '--model', hf, '--ids', ids.join(','), '--max-tokens', '6', '--temperature', '0'])).ids;
    for (const src of [hf, pathToFileURL(path.join(dir, 'models', f)).href + '/', `${server.url}models/${f}/`, `${server.url}hf/${f}/`]) {
      const events = [];
      const m = await loadModel(src, { onProgress: (e) => events.push(e) });
      assert.equal(m.info.runtime, 'node');
      const logits = await m.logits(ids);
      assert.ok(maxRelDiff(Array.from(logits), wantLogits) < 1e-4, `${src}: logits`);
      const got = [];
      for await (const tok of m.generate(ids, { maxTokens: 6 })) got.push(tok.id);
      assert.deepEqual(got, wantIds.slice(0, got.length), `${src}: tokens`);
      const text = await m.detokenize(await m.tokenize('the small model'));
      assert.equal(typeof text, 'string');
      assert.equal(events[events.length - 1].status, 'ready');
      await m.dispose();
      await assert.rejects(m.logits(ids), (e) => e.type === 'aborted');
    }
  });
}

test('node: errors carry their type', async (t) => {
  if (!need(t, !missing, missing)) return;
  const { loadModel } = await import(pathToFileURL(path.join(dir, 'alibi.js')).href);
  await assert.rejects(loadModel(path.join(dir, 'hf', 'unknown-arch')), (e) => e.type === 'unsupported');
  await assert.rejects(loadModel(path.join(dir, 'hf', 'truncated')), (e) => e.type === 'format');
  await assert.rejects(loadModel(path.join(dir, 'nothing-here')), (e) => e.type === 'download');
  await assert.rejects(loadModel(`${server.url}models/tampered/`), (e) => e.type === 'integrity' && /\.000/.test(e.message));
  await assert.rejects(loadModel(path.join(dir, 'hf', FIXTURES[0]), { quant: 'int4' }), (e) => e.type === 'unsupported');
  const ctl = new AbortController();
  ctl.abort();
  await assert.rejects(loadModel(path.join(dir, 'hf', FIXTURES[0]), { signal: ctl.signal }), (e) => e.type === 'aborted');
  const m = await loadModel(path.join(dir, 'hf', FIXTURES[0]));
  await assert.rejects(m.logits([100000]), (e) => e.type === 'format');
  const big = Array.from({ length: m.info.contextLength + 1 }, () => 5);
  await assert.rejects(m.logits(big), (e) => e.type === 'context');
  await m.dispose();
});

test('node: the rest of the model API (text prompts, stop strings, token bytes, slopes, memory)', async (t) => {
  if (!need(t, !missing, missing)) return;
  const { loadModel } = await import(pathToFileURL(path.join(dir, 'alibi.js')).href);
  const m = await loadModel(path.join(dir, 'hf', FIXTURES[0]));
  const ids = await m.tokenize('The small model reads');
  const viaText = [];
  for await (const tok of m.generate('The small model reads', { maxTokens: 5 })) viaText.push(tok.id);
  const viaIds = [];
  for await (const tok of m.generate(ids, { maxTokens: 5 })) viaIds.push(tok.id);
  assert.deepEqual(viaText, viaIds, 'a text prompt is its tokenization');
  // A stop string cuts the stream where it appears.
  let all = '';
  for await (const tok of m.generate(ids, { maxTokens: 12, ignoreEOS: true })) all += tok.text;
  if (all.length > 2) {
    const stop = all.slice(1, 3);
    let cut = '';
    const it = m.generate(ids, { maxTokens: 12, ignoreEOS: true, stop: [stop] });
    for await (const tok of it) cut += tok.text;
    assert.equal(cut, all.slice(0, all.indexOf(stop)));
    assert.equal(it.stats.reason, 'stop');
  }
  let steps = 0;
  for await (const tok of m.generate(ids, { maxTokens: 3, ignoreEOS: true, attention: { layer: 0 } })) {
    assert.equal(tok.attention.length, m.info.heads);
    assert.equal(tok.attention[0].length, ids.length + steps);
    assert.ok(Math.abs(tok.attention[0].reduce((a, b) => a + b, 0) - 1) < 1e-3);
    steps++;
  }
  assert.equal(steps, 3);
  for await (const tok of m.generate(ids, { maxTokens: 1 })) assert.equal(tok.attention, undefined);
  // An abort after the worker finished still ends the loop with 'aborted'.
  const ctl = new AbortController();
  const it2 = m.generate(ids, { maxTokens: 3, ignoreEOS: true, signal: ctl.signal });
  const first = await it2.next();
  assert.equal(first.done, false);
  await new Promise((r) => setTimeout(r, 300));
  ctl.abort();
  await assert.rejects(it2.next(), (e) => e.type === 'aborted');
  assert.deepEqual(await it2.next(), { value: undefined, done: true });
  const bytes = await m.tokenBytes(ids.slice(0, 3));
  assert.equal(bytes.length, 3);
  assert.ok(bytes.every((b) => b instanceof Uint8Array));
  const slopes = await m.slopes();
  assert.equal(slopes.length, m.info.heads);
  assert.ok(slopes[0] > slopes[slopes.length - 1]);
  const mem = await m.memory();
  assert.ok(mem.wasmBytes > 0 && mem.heapAlloc > 0);
  const all2 = await m.logits(ids, { all: true });
  assert.equal(all2.length, ids.length);
  assert.equal(all2[0].length, m.info.vocab);
  assert.ok(maxRelDiff(Array.from(all2[ids.length - 1]), Array.from(await m.logits(ids))) < 1e-4);
  await m.dispose();
});

test('node: { files } (File objects) loads like the directory', async (t) => {
  if (!need(t, !missing, missing)) return;
  const { loadModel } = await import(pathToFileURL(path.join(dir, 'alibi.js')).href);
  const f = FIXTURES[1]; // sharded: index + shards
  const hf = path.join(dir, 'hf', f);
  const names = fs.readdirSync(hf).filter((n) => /\.(json|safetensors)$/.test(n) && !['reference.json', 'greedy.json', 'fixture.json'].includes(n));
  const files = names.map((n) => new File([fs.readFileSync(path.join(hf, n))], n));
  const a = await loadModel({ files });
  const b = await loadModel(hf);
  const ids = [5, 6, 7, 8];
  assert.deepEqual(Array.from(await a.logits(ids)), Array.from(await b.logits(ids)));
  await a.dispose();
  await b.dispose();
});
