// Kernel threads in the browser runtime (loadModel({ threads })): real
// Chromium, the real worker, alibi-mt.wasm on a shared memory with helper
// workers (engine/kernels/simd/threads.mjs).
//   node --test e2e/threads.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { browserMissing, need, site, startServer, launch, openPage, MID } from './lib/harness.mjs';

let missing = '';
let dir;
let server; // alibi serve: COOP/COEP, so pages are cross-origin isolated
let plain; // a static server without those headers
let browser;

const MIME = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.html': 'text/html' };

function plainServer(root) {
  const srv = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file = path.join(root, path.normalize(rel));
    if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'Content-Type': MIME[path.extname(file)] || 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${srv.address().port}/`,
    stop: () => new Promise((r) => srv.close(r)),
  })));
}

before(async () => {
  missing = await browserMissing();
  if (missing) return;
  dir = await site();
  server = await startServer(dir);
  plain = await plainServer(dir);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await plain?.stop();
});

// run loads src with options in the page, takes the logits of a 40-token
// prompt (a prefill the threads split by tokens) and 12 greedy tokens.
// failedRequests records the page's failed requests (to name the 404 if any).
function failedRequests(page) {
  const out = [];
  page.on('response', (r) => { if (r.status() >= 400) out.push(`${r.status()} ${r.url()}`); });
  return out;
}

async function run(page, src, options) {
  return page.evaluate(async ({ src, options }) => {
    const { loadModel } = await import('/alibi.js');
    try {
      const m = await loadModel(src, { cache: false, ...options });
      const ids = Array.from({ length: 40 }, (_, i) => (i * 37 + 11) % 4000);
      const logits = Array.from(await m.logits(ids));
      const gen = [];
      for await (const t of m.generate(ids.slice(0, 5), { maxTokens: 12, temperature: 0 })) gen.push(t.id);
      const info = m.info;
      await m.dispose();
      return { ok: true, info, logits, gen, isolated: self.crossOriginIsolated };
    } catch (e) {
      return { ok: false, type: e.type, message: e.message };
    }
  }, { src, options });
}

test('threads: 2 on a cross-origin isolated page: same logits and tokens as one thread, f32 and int8', async (t) => {
  if (!need(t, !missing, missing)) return;
  const page = await openPage(await browser.newContext(), `${server.url}e2e.html`);
  const failed = failedRequests(page);
  assert.equal(await page.evaluate(() => self.crossOriginIsolated), true, 'alibi serve pages must be cross-origin isolated');
  for (const quant of ['none', 'int8']) {
    const src = `${server.url}hf/${MID}/`;
    const one = await run(page, src, { quant, threads: 1 });
    const two = await run(page, src, { quant, threads: 2 });
    assert.ok(one.ok, one.message);
    assert.ok(two.ok, two.message);
    assert.equal(one.info.threads, 1);
    assert.equal(two.info.threads, 2, `fallback: ${two.info.threadsFallback}`);
    assert.equal(two.info.threadsFallback, undefined);
    assert.equal(two.logits.length, one.logits.length);
    for (let i = 0; i < one.logits.length; i++) {
      if (!Object.is(one.logits[i], two.logits[i])) assert.fail(`${quant}: logit ${i}: ${two.logits[i]} with 2 threads, ${one.logits[i]} with 1`);
    }
    assert.deepEqual(two.gen, one.gen, quant);
  }
  // An HF directory is probed for optional files (a web manifest, a shard
  // index, generation_config.json): their 404s are expected, nothing else.
  const optional = /\/(manifest\.json|model\.safetensors\.index\.json|generation_config\.json)$/;
  assert.deepEqual(failed.filter((f) => !(f.startsWith('404 ') && optional.test(f))), []);
  assert.deepEqual(page.errors.filter((e) => !/Failed to load resource: the server responded with a status of 404/.test(e)), []);
});

test('threads: 2 on a page that is not cross-origin isolated falls back to one thread and works', async (t) => {
  if (!need(t, !missing, missing)) return;
  const page = await openPage(await browser.newContext(), `${plain.url}e2e.html`);
  assert.equal(await page.evaluate(() => self.crossOriginIsolated), false);
  const r = await run(page, `${plain.url}models/${MID}/`, { threads: 2 }); // a web directory: no Range requests
  assert.ok(r.ok, r.message);
  assert.equal(r.info.threads, 1);
  assert.match(r.info.threadsFallback, /cross-origin isolated/);
  assert.equal(r.gen.length, 12);
  // Again in the same page: the fallback's compiled engine is handed over.
  const again = await run(page, `${plain.url}models/${MID}/`, { threads: 2 });
  assert.ok(again.ok, again.message);
  assert.equal(again.info.threads, 1);
  assert.deepEqual(again.logits, r.logits);
  assert.deepEqual(again.gen, r.gen);
});
