import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { start, skipReason, siteFiles, largestModelFile } from './server.mjs';

const skip = skipReason() || false;
let srv;
before(async () => { if (!skip) srv = await start(); });
after(async () => { if (srv) await srv.stop(); });

test('index.html: isolation headers, MIME, short caching, ETag', { skip }, async () => {
  const res = await fetch(srv.url + '/');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(res.headers.get('cross-origin-opener-policy'), 'same-origin');
  assert.equal(res.headers.get('cross-origin-embedder-policy'), 'require-corp');
  assert.equal(res.headers.get('cross-origin-resource-policy'), 'same-origin');
  assert.equal(res.headers.get('cache-control'), 'public, max-age=60, must-revalidate');
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.match(res.headers.get('etag'), /^"[0-9a-f]{32}"$/);
  const body = Buffer.from(await res.arrayBuffer());
  assert.deepEqual(body, readFileSync(join(srv.site, 'index.html')));
});

test('wasm files are application/wasm and isolated', { skip }, async () => {
  const wasm = Object.keys(siteFiles()).filter((f) => f.endsWith('.wasm'));
  assert.ok(wasm.length > 0, 'the site has no .wasm file');
  for (const f of wasm) {
    const res = await fetch(`${srv.url}/${f}`, { method: 'HEAD' });
    assert.equal(res.status, 200, f);
    assert.equal(res.headers.get('content-type'), 'application/wasm', f);
    assert.equal(Number(res.headers.get('content-length')), siteFiles()[f].size, f);
  }
});

test('Range requests return the exact bytes of the file', { skip }, async () => {
  const name = largestModelFile();
  const file = readFileSync(join(srv.site, name));
  const size = file.length;
  const cases = [
    [`bytes=0-99`, 0, 100],
    [`bytes=${size - 50}-`, size - 50, 50],
    [`bytes=-77`, size - 77, 77],
    [`bytes=${Math.floor(size / 3)}-${Math.floor(size / 3) + 12345}`, Math.floor(size / 3), Math.min(12346, size - Math.floor(size / 3))],
    [`bytes=${size - 10}-${size + 1000}`, size - 10, 10],
  ];
  for (const [range, start, len] of cases) {
    const res = await fetch(`${srv.url}/${name}`, { headers: { Range: range } });
    assert.equal(res.status, 206, range);
    assert.equal(res.headers.get('content-range'), `bytes ${start}-${start + len - 1}/${size}`, range);
    assert.equal(Number(res.headers.get('content-length')), len, range);
    const body = Buffer.from(await res.arrayBuffer());
    assert.ok(body.equals(file.subarray(start, start + len)), `${range}: bytes differ`);
  }
  const full = await fetch(`${srv.url}/${name}`);
  assert.equal(full.status, 200);
  assert.ok(Buffer.from(await full.arrayBuffer()).equals(file), 'full file differs');
});

test('unsatisfiable range is 416, multi-range falls back to 200', { skip }, async () => {
  const name = largestModelFile();
  const size = siteFiles()[name].size;
  let res = await fetch(`${srv.url}/${name}`, { headers: { Range: `bytes=${size}-` } });
  assert.equal(res.status, 416);
  assert.equal(res.headers.get('content-range'), `bytes */${size}`);
  await res.arrayBuffer();
  res = await fetch(`${srv.url}/${name}`, { headers: { Range: 'bytes=0-1,5-6' } });
  assert.equal(res.status, 200);
  assert.equal((await res.arrayBuffer()).byteLength, size);
});

test('HEAD, ETag, If-None-Match -> 304, If-Range', { skip }, async () => {
  const name = largestModelFile();
  const head = await fetch(`${srv.url}/${name}`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(Number(head.headers.get('content-length')), siteFiles()[name].size);
  const etag = head.headers.get('etag');
  assert.equal(etag, `"${siteFiles()[name].sha256.slice(0, 32)}"`);
  const nm = await fetch(`${srv.url}/${name}`, { headers: { 'If-None-Match': etag } });
  assert.equal(nm.status, 304);
  assert.equal(nm.headers.get('etag'), etag);
  assert.equal((await nm.arrayBuffer()).byteLength, 0);
  const other = await fetch(`${srv.url}/${name}`, { headers: { 'If-None-Match': '"nope"' }, method: 'HEAD' });
  assert.equal(other.status, 200);
  const ir = await fetch(`${srv.url}/${name}`, { headers: { Range: 'bytes=0-9', 'If-Range': etag } });
  assert.equal(ir.status, 206);
  await ir.arrayBuffer();
  const stale = await fetch(`${srv.url}/${name}`, { headers: { Range: 'bytes=0-9', 'If-Range': '"old"' }, method: 'HEAD' });
  assert.equal(stale.status, 200);
  const idx = await fetch(`${srv.url}/index.html`, { headers: { 'If-None-Match': (await fetch(srv.url + '/index.html', { method: 'HEAD' })).headers.get('etag') } });
  assert.equal(idx.status, 304);
});

test('model files: CORS for any origin, preflight answered, short or immutable caching', { skip }, async () => {
  const name = largestModelFile();
  const res = await fetch(`${srv.url}/${name}`, { method: 'HEAD', headers: { Origin: 'https://elsewhere.example' } });
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  assert.equal(res.headers.get('cross-origin-resource-policy'), 'cross-origin');
  assert.match(res.headers.get('access-control-expose-headers'), /Content-Range/);
  assert.equal(res.headers.get('cross-origin-embedder-policy'), null);
  const pre = await fetch(`${srv.url}/${name}`, {
    method: 'OPTIONS',
    headers: { Origin: 'https://elsewhere.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'range' },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), '*');
  assert.match(pre.headers.get('access-control-allow-methods'), /GET/);
  assert.match(pre.headers.get('access-control-allow-headers'), /Range/);
  const manifestName = Object.keys(siteFiles()).find((f) => f.startsWith('models/') && f.endsWith('/manifest.json'));
  if (manifestName) {
    const m = await fetch(`${srv.url}/${manifestName}`, { method: 'HEAD' });
    assert.equal(m.headers.get('cache-control'), 'public, max-age=60, must-revalidate');
    assert.equal(m.headers.get('content-type'), 'application/json');
  }
  for (const f of Object.keys(siteFiles())) {
    const base = f.split('/').pop();
    if (!base.split(/[._-]/).some((e) => e.length >= 8 && /^[0-9a-f]+$/i.test(e)) || /^(index\.html|manifest\.json|assets\.json)$/.test(base)) continue;
    const h = await fetch(`${srv.url}/${f}`, { method: 'HEAD' });
    assert.equal(h.headers.get('cache-control'), 'public, max-age=31536000, immutable', f);
  }
});

test('wrong method on a file is 405, unknown file is 404 without internals', { skip }, async () => {
  const post = await fetch(`${srv.url}/index.html`, { method: 'POST', body: 'x' });
  assert.equal(post.status, 405);
  assert.match(post.headers.get('allow'), /GET/);
  const res = await fetch(`${srv.url}/no/such/file.js`);
  assert.equal(res.status, 404);
  const text = await res.text();
  assert.doesNotMatch(text, /goroutine|\.go:\d|at .*\.mjs|Error:/);
});
