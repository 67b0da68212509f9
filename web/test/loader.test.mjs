// Unit tests of the runtime's loader modules, in Node: node --test web/test/
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import { Sha256, sha256Hex, isSha256Hex } from '../loader/sha256.js';
import { parseManifest, safeRelativePath } from '../loader/manifest.js';
import { runPipeline } from '../loader/scheduler.js';
import { createProgress } from '../loader/progress.js';
import { headerLength, parseHeader } from '../loader/safetensors.js';
import { AlibiError, toAlibiError } from '../loader/errors.js';
import { readBody } from '../loader/fetchers.js';
import { runLoad, generationDefaults } from '../loader/load.js';
import { chunkKey, normalizeSourceURL } from '../loader/cache.js';

const nodeSha = (b) => crypto.createHash('sha256').update(b).digest('hex');

function rand(n, seed = 1) {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = x & 255;
  }
  return b;
}

test('sha256: pure JS matches node:crypto for sizes around block edges, in any split', () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 4097]) {
    const b = rand(n, n + 7);
    assert.equal(new Sha256().update(b).hex(), nodeSha(b), `n=${n}`);
    const h = new Sha256();
    for (let i = 0; i < n; i += 13) h.update(b.subarray(i, Math.min(n, i + 13)));
    assert.equal(h.hex(), nodeSha(b), `split n=${n}`);
  }
  assert.equal(new Sha256().update(new TextEncoder().encode('abc')).hex(),
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('sha256Hex: WebCrypto and fallback agree', async () => {
  const b = rand(100000, 3);
  assert.equal(await sha256Hex(b), nodeSha(b));
  assert.equal(await sha256Hex(b, { subtle: null }), nodeSha(b));
  assert.ok(isSha256Hex(nodeSha(b)));
  assert.ok(!isSha256Hex('ABC'));
});

const H = 'a'.repeat(64);
function manifest(over = {}) {
  return {
    format: 'alibi-web', version: 1,
    model: { architecture: 'bloom', config: 'config.json', tokenizer: 'tokenizer.json' },
    files: [{ name: 'model.safetensors', size: 30, sha256: H, chunks: [
      { path: 'model.safetensors.000', offset: 0, size: 16, sha256: H },
      { path: 'model.safetensors.001', offset: 16, size: 14, sha256: H },
    ] }],
    ...over,
  };
}

test('manifest: a valid manifest parses', () => {
  const m = parseManifest(JSON.stringify(manifest()));
  assert.equal(m.totalBytes, 30);
  assert.equal(m.files[0].chunks.length, 2);
  assert.equal(m.model.config, 'config.json');
});

test('manifest: bad manifests are format errors naming the field', () => {
  const cases = [
    ['not json', '{', /not JSON/],
    ['format', manifest({ format: 'x' }), /format/],
    ['gap', manifest({ files: [{ name: 'm', size: 30, chunks: [{ path: 'a', offset: 0, size: 10, sha256: H }, { path: 'b', offset: 11, size: 19, sha256: H }] }] }), /offset 11, want 10/],
    ['short', manifest({ files: [{ name: 'm', size: 31, chunks: [{ path: 'a', offset: 0, size: 30, sha256: H }] }] }), /cover 30 bytes, size is 31/],
    ['escape', manifest({ files: [{ name: 'm', size: 1, chunks: [{ path: '../x', offset: 0, size: 1, sha256: H }] }] }), /path/],
    ['absolute', manifest({ files: [{ name: 'm', size: 1, chunks: [{ path: 'https://evil/x', offset: 0, size: 1, sha256: H }] }] }), /path/],
    ['hash', manifest({ files: [{ name: 'm', size: 1, chunks: [{ path: 'x', offset: 0, size: 1, sha256: 'zz' }] }] }), /sha256/],
    ['dup', manifest({ files: [manifest().files[0], manifest().files[0]] }), /twice/],
    ['config', manifest({ model: { config: '/etc/passwd', tokenizer: 'tokenizer.json' } }), /model.config/],
  ];
  for (const [name, input, re] of cases) {
    assert.throws(() => parseManifest(typeof input === 'string' ? input : JSON.stringify(input)), (e) => {
      assert.ok(e instanceof AlibiError, name);
      assert.equal(e.type, 'format', name);
      assert.match(e.message, re, name);
      return true;
    });
  }
  assert.throws(() => parseManifest(JSON.stringify(manifest({ version: 2 }))), (e) => e.type === 'unsupported');
});

test('manifest: safeRelativePath', () => {
  for (const p of ['a', 'a/b.000', 'model.safetensors']) assert.ok(safeRelativePath(p), p);
  for (const p of ['', '/a', '../a', 'a/../b', 'a//b', 'C:x', 'http://x', 'a\\b', './a']) assert.ok(!safeRelativePath(p), p);
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('scheduler: consumes in order, never holds more than `concurrency` items', async () => {
  for (const concurrency of [1, 2, 3, 4]) {
    const items = Array.from({ length: 20 }, (_, i) => i);
    let held = 0;
    let maxHeld = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    const order = [];
    await runPipeline(items, {
      concurrency,
      onHeld: (h) => { held = h; maxHeld = Math.max(maxHeld, h); },
      fetch: async (i) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await sleep((i * 7) % 5); // finish out of order
        inFlight--;
        return i * 10;
      },
      consume: async (i, v) => {
        assert.equal(v, i * 10);
        order.push(i);
        await sleep(i % 3 === 0 ? 4 : 0); // a slow consumer: back-pressure
      },
    });
    assert.deepEqual(order, items);
    assert.ok(maxHeld <= concurrency, `held ${maxHeld} > ${concurrency}`);
    assert.ok(maxInFlight <= concurrency);
    assert.equal(maxHeld, Math.min(concurrency, items.length), 'uses the window');
    assert.equal(held, 0);
  }
});

test('scheduler: a fetch error stops the pipeline and aborts the others', async () => {
  const seen = [];
  await assert.rejects(runPipeline([0, 1, 2, 3, 4, 5], {
    concurrency: 3,
    fetch: async (i, _k, signal) => {
      if (i === 1) throw new AlibiError('integrity', 'bad 1');
      await sleep(20);
      seen.push([i, signal.aborted]);
      return i;
    },
    consume: async () => {},
  }), (e) => e.type === 'integrity');
  await sleep(30);
  for (const [, aborted] of seen) assert.ok(aborted);
});

test('scheduler: an abort signal rejects with aborted', async () => {
  const ctl = new AbortController();
  const p = runPipeline([0, 1, 2, 3], {
    concurrency: 2, signal: ctl.signal,
    fetch: async (i, _k, signal) => { await sleep(10); if (signal.aborted) throw new Error('x'); return i; },
    consume: async (i) => { if (i === 1) ctl.abort(); },
  });
  await assert.rejects(p, (e) => e.type === 'aborted');
});

test('progress: throttled, monotone, trailing event, ready at total', async () => {
  let t = 0;
  const timers = [];
  const events = [];
  const p = createProgress((e) => events.push(e), {
    interval: 100, now: () => t,
    schedule: (fn, ms) => { timers.push({ fn, at: t + ms }); return timers.length; },
    cancel: () => {},
  });
  p.setTotal(1000);
  for (let i = 0; i < 50; i++) { t += 10; p.report('download', 'a', 10); }
  // 500 ms of reports every 10 ms: about one event per 100 ms.
  assert.ok(events.length >= 4 && events.length <= 6, `events ${events.length}`);
  t += 200;
  for (const tm of timers.splice(0)) tm.fn();
  assert.equal(events[events.length - 1].loaded, 500, 'trailing event carries the last state');
  p.report('load', 'a', 0);
  p.report('ready', null, 0);
  const last = events[events.length - 1];
  assert.equal(last.status, 'ready');
  assert.equal(last.loaded, 1000);
  assert.equal(last.total, 1000);
  for (let i = 1; i < events.length; i++) assert.ok(events[i].loaded >= events[i - 1].loaded, 'monotone');
  p.report('download', 'x', 5);
  assert.equal(events[events.length - 1].status, 'ready', 'nothing after ready');
});

test('progress: loaded never exceeds total, a throwing listener is ignored', () => {
  const p = createProgress(() => { throw new Error('listener'); }, { interval: 0 });
  p.setTotal(10);
  p.report('download', 'a', 25);
  assert.equal(p.loaded, 10);
});

function stFile(tensors) {
  let off = 0;
  const hdr = {};
  const datas = [];
  for (const [name, n] of tensors) {
    hdr[name] = { dtype: 'F32', shape: [n / 4], data_offsets: [off, off + n] };
    datas.push(rand(n, n));
    off += n;
  }
  let json = new TextEncoder().encode(JSON.stringify(hdr));
  const pad = (8 - (json.length % 8)) % 8;
  json = new TextEncoder().encode(JSON.stringify(hdr) + ' '.repeat(pad));
  const out = new Uint8Array(8 + json.length + off);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  let p = 8 + json.length;
  for (const d of datas) { out.set(d, p); p += d.length; }
  return out;
}

test('safetensors: header parse, truncation and garbage are format errors', () => {
  const f = stFile([['a', 16], ['b', 8]]);
  const h = parseHeader(f, { fileSize: f.length });
  assert.equal(h.size, f.length);
  assert.equal(h.tensors.length, 2);
  assert.throws(() => parseHeader(f, { fileSize: f.length - 1 }), (e) => e.type === 'format' && /truncated/.test(e.message));
  assert.throws(() => headerLength(new Uint8Array(4)), (e) => e.type === 'format');
  const bad = new Uint8Array(16);
  new DataView(bad.buffer).setUint32(0, 8, true);
  bad.set(new TextEncoder().encode('not json'), 8);
  assert.throws(() => parseHeader(bad), (e) => e.type === 'format');
  const huge = new Uint8Array(8);
  new DataView(huge.buffer).setUint32(4, 1, true);
  assert.throws(() => headerLength(huge), (e) => e.type === 'format');
});

test('errors: classification', () => {
  assert.equal(toAlibiError(Object.assign(new Error('x'), { name: 'AbortError' })).type, 'aborted');
  assert.equal(toAlibiError(new TypeError('fetch failed')).type, 'download');
  assert.equal(toAlibiError({ type: 'memory', message: 'm' }).type, 'memory');
  assert.equal(new AlibiError('nonsense', 'x').type, 'format');
});

test('readBody: streams with progress, flags short and long bodies', async () => {
  const data = rand(1000, 9);
  const body = (parts) => new ReadableStream({ start(c) { for (const p of parts) c.enqueue(p); c.close(); } });
  let seen = 0;
  const got = await readBody({ body: body([data.subarray(0, 300), data.subarray(300)]) }, 1000, undefined, (n) => { seen += n; });
  assert.deepEqual(got, data);
  assert.equal(seen, 1000);
  assert.equal((await readBody({ body: body([data.subarray(0, 10)]) }, 1000)).length, 10);
  assert.equal((await readBody({ body: body([data]) }, 999)).length, 1000, 'one extra byte shows the mismatch');
});

test('readBody: byte streams are read into the given buffer (BYOB)', async () => {
  const data = rand(5000, 11);
  const byteBody = (parts) => {
    let i = 0;
    return new ReadableStream({
      type: 'bytes',
      pull(c) {
        if (i >= parts.length) { c.close(); if (c.byobRequest) c.byobRequest.respond(0); return; }
        const p = parts[i++];
        const req = c.byobRequest;
        if (req) {
          const n = Math.min(p.length, req.view.byteLength);
          new Uint8Array(req.view.buffer, req.view.byteOffset, n).set(p.subarray(0, n));
          req.respond(n);
          if (n < p.length) parts.splice(i, 0, p.subarray(n));
        } else {
          c.enqueue(p.slice());
        }
      },
    });
  };
  const into = new Uint8Array(new ArrayBuffer(8000), 0, 5000);
  let seen = 0;
  const got = await readBody({ body: byteBody([data.subarray(0, 1000), data.subarray(1000, 4000), data.subarray(4000)]) }, 5000, undefined, (n) => { seen += n; }, into);
  assert.deepEqual(got, data);
  assert.equal(seen, 5000);
  assert.equal(got.byteOffset, 0);
  assert.equal(into.buffer.byteLength, 0, 'the buffer was transferred to the stream and back');
  assert.equal((await readBody({ body: byteBody([data.subarray(0, 10)]) }, 5000)).length, 10, 'short');
  assert.equal((await readBody({ body: byteBody([data]) }, 4999)).length, 5000, 'long');
});

test('cache keys: distinct per hash, stable source URLs', () => {
  assert.notEqual(chunkKey('http://h/m/a.000', H), chunkKey('http://h/m/a.000', 'b'.repeat(64)));
  assert.equal(normalizeSourceURL('http://h/m/manifest.json'), 'http://h/m/');
  assert.equal(normalizeSourceURL('http://h/m'), 'http://h/m/');
});

// A fake engine that records the bytes written per file.
function fakeEngine() {
  const files = new Map();
  let fid = 0;
  const e = {
    calls: [],
    files,
    async beginLoad(config, opts) { e.calls.push(['beginLoad', opts]); return { load: 1, estimate: 123, limit: 456, architecture: 'bloom' }; },
    async setTokenizer() { e.calls.push(['setTokenizer']); },
    async setIndex() { e.calls.push(['setIndex']); },
    async openFile(load, name, size) { files.set(++fid, { name, size, parts: [] }); e.calls.push(['openFile', name, size]); return fid; },
    async write(f, bytes) { files.get(f).parts.push(bytes.slice()); },
    async closeFile(f, sha) {
      const x = files.get(f);
      const all = Buffer.concat(x.parts);
      if (sha && nodeSha(all) !== sha) throw new AlibiError('integrity', 'file hash');
      e.calls.push(['closeFile', x.name]);
      return nodeSha(all);
    },
    async finish() { e.calls.push(['finish']); return { model: 7, info: { vocab: 3 } }; },
    async abortLoad() { e.calls.push(['abortLoad']); },
  };
  return e;
}

function fakePlan(file, chunkSize, { tamper = new Map() } = {}) {
  const pieces = [];
  const opens = [];
  for (let off = 0, k = 0; off < file.length; off += chunkSize, k++) {
    const bytes = file.subarray(off, Math.min(file.length, off + chunkSize));
    const label = `model.safetensors.${String(k).padStart(3, '0')}`;
    pieces.push({
      label, size: bytes.length, sha256: nodeSha(bytes), cacheKey: null,
      open: async () => {
        opens.push(label);
        const n = tamper.get(label) || 0;
        if (n > 0) {
          tamper.set(label, n - 1);
          const bad = bytes.slice();
          bad[0] ^= 1;
          return { bytes: bad };
        }
        return { bytes };
      },
    });
  }
  return {
    plan: {
      kind: 'web', key: 'k', fx: { cacheable: false }, config: new TextEncoder().encode('{}'), tokenizer: new Uint8Array(2), index: null,
      files: [{ name: 'model.safetensors', size: file.length, sha256: nodeSha(file), pieces }], small: new Set(), totalBytes: file.length, name: 'k',
    },
    opens,
  };
}

test('runLoad: bytes reach the engine in order; progress reaches total', async () => {
  const file = stFile([['a', 4000], ['b', 1000]]);
  const { plan } = fakePlan(file, 512);
  const eng = fakeEngine();
  const events = [];
  const res = await runLoad(plan, eng, { progress: createProgress((e) => events.push(e), { interval: 0 }), concurrency: 3 });
  assert.equal(res.model, 7);
  const written = Buffer.concat(eng.files.get(1).parts);
  assert.deepEqual(new Uint8Array(written), file);
  assert.equal(eng.files.get(1).size, file.length);
  const last = events[events.length - 1];
  assert.deepEqual([last.status, last.loaded, last.total], ['ready', file.length, file.length]);
  for (let i = 1; i < events.length; i++) assert.ok(events[i].loaded >= events[i - 1].loaded);
  assert.deepEqual(eng.calls.map((c) => c[0]).slice(-2), ['closeFile', 'finish']);
});

test('runLoad: a bad chunk is refetched once', async () => {
  const file = stFile([['a', 4000]]);
  const { plan, opens } = fakePlan(file, 1024, { tamper: new Map([['model.safetensors.002', 1]]) });
  const eng = fakeEngine();
  await runLoad(plan, eng, { progress: createProgress(null) });
  assert.equal(opens.filter((o) => o === 'model.safetensors.002').length, 2);
  assert.deepEqual(new Uint8Array(Buffer.concat(eng.files.get(1).parts)), file);
});

test('runLoad: a chunk bad twice fails with integrity naming it, and the load is aborted', async () => {
  const file = stFile([['a', 4000]]);
  const { plan } = fakePlan(file, 1024, { tamper: new Map([['model.safetensors.001', 2]]) });
  const eng = fakeEngine();
  await assert.rejects(runLoad(plan, eng, { progress: createProgress(null) }), (e) => {
    assert.equal(e.type, 'integrity');
    assert.match(e.message, /model\.safetensors\.001/);
    return true;
  });
  assert.ok(eng.calls.some((c) => c[0] === 'abortLoad'));
  assert.ok(!eng.calls.some((c) => c[0] === 'finish'));
});

test('runLoad: an abort signal stops the load with aborted', async () => {
  const file = stFile([['a', 8000]]);
  const { plan } = fakePlan(file, 512);
  const eng = fakeEngine();
  const ctl = new AbortController();
  const write = eng.write;
  let n = 0;
  eng.write = async (f, b) => { if (++n === 3) ctl.abort(); return write(f, b); };
  await assert.rejects(runLoad(plan, eng, { progress: createProgress(null), signal: ctl.signal }), (e) => e.type === 'aborted');
  assert.ok(eng.calls.some((c) => c[0] === 'abortLoad'));
});

test('runLoad: memory estimate refusal happens before any weight byte is fetched', async () => {
  const file = stFile([['a', 4000]]);
  const { plan, opens } = fakePlan(file, 1024);
  const eng = fakeEngine();
  eng.beginLoad = async () => { throw new AlibiError('memory', 'too big'); };
  await assert.rejects(runLoad(plan, eng, { progress: createProgress(null) }), (e) => e.type === 'memory');
  assert.equal(opens.length, 0);
});

test('BufferPool: reuses buffers that fit, keeps at most max', async () => {
  const { BufferPool } = await import('../loader/load.js');
  const p = new BufferPool(2);
  const a = p.take(100);
  const b = p.take(50);
  assert.equal(p.allocated, 2);
  p.give(a);
  p.give(b);
  p.give(new Uint8Array(10));
  assert.equal(p.free.length, 2);
  const c = p.take(80);
  assert.equal(c.buffer, a.buffer, 'the 100-byte buffer serves an 80-byte chunk');
  assert.equal(c.length, 80);
  const d = p.take(200);
  assert.equal(p.allocated, 3);
  assert.equal(d.length, 200);
});

// fakeHTTP serves files from a map with Range support and an ETag per file.
function fakeHTTP(files, etags = {}) {
  const log = [];
  const fetch = async (url, init = {}) => {
    const name = new URL(url).pathname.split('/').pop();
    const body = files[name];
    const range = init.headers && init.headers.Range;
    log.push({ name, range });
    if (!body) return new Response('not found', { status: 404 });
    const headers = { etag: etags[name] || `"w-${body.length}"` };
    if (range) {
      const m = /bytes=(\d+)-(\d+)/.exec(range);
      const a = Number(m[1]);
      const b = Math.min(Number(m[2]), body.length - 1);
      if (a >= body.length) return new Response('', { status: 416, headers: { 'content-range': `bytes */${body.length}` } });
      return new Response(body.slice(a, b + 1), { status: 206, headers: { ...headers, 'content-range': `bytes ${a}-${b}/${body.length}` } });
    }
    return new Response(body, { status: 200, headers: { ...headers, 'content-length': String(body.length) } });
  };
  return { fetch, log };
}

test('HF source over http: header by Range, pieces in order, whole-file SHA-256 from the ETag', async () => {
  const { resolvePlan } = await import('../loader/load.js');
  const st = stFile([['a', 3000], ['b', 1000]]);
  const files = { 'config.json': new TextEncoder().encode('{"model_type":"bloom"}'), 'tokenizer.json': new TextEncoder().encode('{}'), 'model.safetensors': st };
  const sha = nodeSha(st);
  for (const [etag, ok] of [[`"${sha}"`, true], [`"${'0'.repeat(64)}"`, false], ['"not-a-hash"', true]]) {
    const { fetch, log } = fakeHTTP(files, { 'model.safetensors': etag });
    const plan = await resolvePlan({ url: 'http://h/m/', fetch }, { pieceSize: 1000 });
    assert.equal(plan.kind, 'hf');
    const eng = fakeEngine();
    const opened = [];
    const open = eng.openFile;
    eng.openFile = async (l, n, size, hash) => { opened.push({ n, size, hash }); return open(l, n, size); };
    const p = runLoad(plan, eng, { progress: createProgress(null) });
    if (!ok) {
      await assert.rejects(p, (e) => e.type === 'integrity');
      continue;
    }
    await p;
    assert.deepEqual(new Uint8Array(Buffer.concat(eng.files.get(1).parts)), st);
    assert.deepEqual(opened, [{ n: 'model.safetensors', size: st.length, hash: etag.includes(sha) }]);
    const heads = log.filter((q) => q.name === 'model.safetensors' && q.range && (q.range === 'bytes=0-7' || q.range.startsWith('bytes=8-')));
    assert.equal(heads.length, 2, 'two header requests');
    assert.ok(log.filter((q) => q.name === 'model.safetensors').every((q) => q.range), 'only Range requests');
  }
});

test('HF source: a truncated file is a format error before any weight byte is read', async () => {
  const { resolvePlan } = await import('../loader/load.js');
  const st = stFile([['a', 3000]]);
  const files = { 'config.json': new TextEncoder().encode('{}'), 'tokenizer.json': new TextEncoder().encode('{}'), 'model.safetensors': st.subarray(0, 2000) };
  const { fetch } = fakeHTTP(files);
  const plan = await resolvePlan({ url: 'http://h/m/', fetch }, { pieceSize: 1000 });
  const eng = fakeEngine();
  await assert.rejects(runLoad(plan, eng, { progress: createProgress(null) }), (e) => e.type === 'format' && /truncated/.test(e.message));
  assert.ok(!eng.calls.some((c) => c[0] === 'openFile'));
});

test('generationDefaults maps generation_config.json like transformers and alibi run', () => {
  const enc = (o) => new TextEncoder().encode(typeof o === 'string' ? o : JSON.stringify(o));
  const cases = [
    [null, {}],
    [enc('not json'), {}],
    [enc([1, 2]), {}],
    [enc({ temperature: 0.8, top_p: 0.9, top_k: 40, repetition_penalty: 1.2 }),
      { temperature: 0.8, topP: 0.9, topK: 40, repetitionPenalty: 1.2 }],
    // do_sample false: greedy, but the repetition penalty still applies.
    [enc({ do_sample: false, temperature: 0.8, repetition_penalty: 1.1 }), { repetitionPenalty: 1.1 }],
    [enc({ temperature: 'hot', top_p: null }), {}],
  ];
  for (const [bytes, want] of cases) assert.deepEqual(generationDefaults(bytes), want);
});

test('autoPieceSize: 8 MiB pieces for large files, about eight of at least 1 MiB for small ones', async () => {
  const { autoPieceSize, DEFAULT_PIECE_SIZE } = await import('../loader/load.js');
  assert.equal(autoPieceSize(2e9), DEFAULT_PIECE_SIZE);
  assert.equal(autoPieceSize(64 << 20), DEFAULT_PIECE_SIZE);
  assert.equal(Math.ceil(8422440 / autoPieceSize(8422440)), 8); // the bundled model
  assert.equal(autoPieceSize(100), 1 << 20);
  const s = autoPieceSize(20 << 20);
  assert.ok(s >= 1 << 20 && s <= DEFAULT_PIECE_SIZE && s % 65536 === 0 && Math.ceil((20 << 20) / s) === 8, String(s));
});

// fakeCache: Cache Storage as runLoad uses it. put copies the bytes as it
// starts (like `new Response(bytes)`) and finishes later, so a load goes
// on while pieces are being written.
function fakeCache({ failPuts = false, delay = 3 } = {}) {
  const c = { entries: new Map(), records: [], pending: 0, maxPending: 0, fail: failPuts };
  c.headers = new Map();
  c.put = async (key, bytes, headers = {}) => {
    const copy = bytes.slice();
    c.headers.set(key, headers);
    c.pending++;
    c.maxPending = Math.max(c.maxPending, c.pending);
    try {
      await new Promise((r) => setTimeout(r, delay));
      if (c.fail) throw new Error('QuotaExceededError');
      c.entries.set(key, copy);
    } finally {
      c.pending--;
    }
  };
  c.readInto = async (key, size, into) => {
    const e = c.entries.get(key);
    if (!e) return null;
    into.set(e.subarray(0, Math.min(size, e.length)));
    return into.subarray(0, e.length);
  };
  c.get = async (key) => {
    const e = c.entries.get(key);
    const h = c.headers.get(key) || {};
    return e ? { bytes: e.slice(), headers: { get: (name) => (name in h ? h[name] : null) } } : null;
  };
  c.delete = async (key) => c.entries.delete(key);
  c.putRecord = async (_url, record) => { c.records.push({ ...record, pendingAtWrite: c.pending }); };
  c.record = async () => (c.records.length ? c.records[c.records.length - 1] : null);
  return c;
}

function cacheablePlan(file, chunkSize) {
  const { plan, opens } = fakePlan(file, chunkSize);
  plan.fx = { cacheable: true };
  for (const p of plan.files[0].pieces) p.cacheKey = `key:${p.label}`;
  return { plan, opens };
}

test('runLoad: pieces are cached while the load goes on; a second load reads them all from the cache', async () => {
  const file = stFile([['a', 20000], ['b', 3000]]);
  const cache = fakeCache();
  const reads = [];
  const readInto = cache.readInto;
  cache.readInto = async (key, ...a) => { reads.push(key); return readInto(key, ...a); };
  const first = cacheablePlan(file, 1000);
  const res = await runLoad(first.plan, fakeEngine(), { progress: createProgress(null), concurrency: 3, cache });
  assert.equal(res.cached, true);
  assert.equal(reads.length, 0, 'a first visit (no record) asks the cache for no piece');
  const n = first.plan.files[0].pieces.length;
  assert.equal(cache.entries.size, n);
  assert.ok(cache.maxPending > 1 && cache.maxPending <= 4, `puts pending at once: ${cache.maxPending}`);
  const last = cache.records[cache.records.length - 1];
  assert.equal(last.complete, true);
  assert.equal(last.pendingAtWrite, 0, 'the complete record is written after every piece');
  // The pool reuses buffers: each cached piece must still hold its own bytes.
  for (const p of first.plan.files[0].pieces) assert.equal(nodeSha(cache.entries.get(p.cacheKey)), p.sha256, p.label);

  const second = cacheablePlan(file, 1000);
  const eng = fakeEngine();
  const events = [];
  const res2 = await runLoad(second.plan, eng, { progress: createProgress((e) => events.push(e), { interval: 0 }), concurrency: 3, cache });
  assert.equal(res2.cached, true);
  assert.equal(second.opens.length, 0, 'no piece fetched again');
  assert.equal(reads.length, n, 'each piece read from the cache once');
  assert.deepEqual(new Uint8Array(Buffer.concat(eng.files.get(1).parts)), file);
  const end = events[events.length - 1];
  assert.deepEqual([end.cached, end.network], [file.length, 0]);
});

test('runLoad: the compact tokenizer is kept in the cache and read instead of tokenizer.json by the same build', async () => {
  const file = stFile([['a', 2000]]);
  const cache = fakeCache({ delay: 0 });
  const text = (b) => new TextDecoder().decode(b);
  const engineOf = (build, { refuse = false } = {}) => {
    const e = fakeEngine();
    e.build = build;
    e.setTokenizer = async (load, bytes, o = {}) => {
      e.calls.push(['setTokenizer', o.compact ? 'compact' : 'json', text(bytes), !!o.wantCompact]);
      if (o.compact && (refuse || !text(bytes).startsWith('C:'))) throw new AlibiError('format', 'bad compact form');
      return o.wantCompact ? new TextEncoder().encode(`C:${text(bytes)}`) : null;
    };
    return e;
  };
  const load = async (eng, tok = 'TOK1') => {
    const { plan } = cacheablePlan(file, 1000);
    plan.fx.url = (name) => `http://h/m/${name}`;
    plan.tokenizer = new TextEncoder().encode(tok);
    const events = [];
    await runLoad(plan, eng, { progress: createProgress((e) => events.push(e), { interval: 0 }), cache });
    const calls = eng.calls.filter((c) => c[0] === 'setTokenizer').map((c) => c.slice(1).join(' '));
    return { calls, compact: events[events.length - 1].compactTokenizer || 0, small: [...plan.small] };
  };
  const key = 'http://h/m/tokenizer.json?alibi-compact=1';
  let r = await load(engineOf('b1'));
  assert.deepEqual(r.calls, ['json TOK1 true']);
  assert.ok(r.small.includes(key), 'listed in the record, deleted with the model');
  assert.equal(text(cache.entries.get(key)), 'C:TOK1');
  r = await load(engineOf('b1'));
  assert.deepEqual([r.calls, r.compact], [['compact C:TOK1 false'], 1]);
  // Another build, or another tokenizer.json: read the file, replace the entry.
  r = await load(engineOf('b2'));
  assert.deepEqual([r.calls, r.compact], [['json TOK1 true'], 0]);
  assert.equal(cache.headers.get(key)['x-alibi-build'], 'b2');
  r = await load(engineOf('b2'), 'TOK2');
  assert.deepEqual(r.calls, ['json TOK2 true']);
  assert.equal(text(cache.entries.get(key)), 'C:TOK2');
  // Damaged in the cache (its SHA-256 differs): not given to the engine.
  cache.entries.get(key)[0] ^= 1;
  r = await load(engineOf('b2'), 'TOK2');
  assert.deepEqual(r.calls, ['json TOK2 true']);
  r = await load(engineOf('b2'), 'TOK2');
  assert.deepEqual(r.calls, ['compact C:TOK2 false']);
  // Refused by the engine: tokenizer.json, and the entry written again.
  const before = cache.headers.get(key);
  r = await load(engineOf('b2', { refuse: true }), 'TOK2');
  assert.deepEqual(r.calls, ['compact C:TOK2 false', 'json TOK2 true']);
  assert.notEqual(cache.headers.get(key), before);
  // An engine without a build (files served unversioned) reads tokenizer.json only.
  r = await load(engineOf(''), 'TOK2');
  assert.deepEqual(r.calls, ['json TOK2 false']);
});

test('runLoad: a load cut short leaves a record; the next load reads the pieces it stored and fetches the rest', async () => {
  const file = stFile([['a', 20000]]);
  const cache = fakeCache({ delay: 0 });
  const first = cacheablePlan(file, 1000);
  const n = first.plan.files[0].pieces.length;
  // The network fails from the 12th piece on (each piece is fetched twice before the load gives up).
  for (const [i, p] of first.plan.files[0].pieces.entries()) {
    const open = p.open;
    p.open = async (...a) => { if (i >= 11) throw new AlibiError('download', `alibi: ${p.label}: offline`); return open(...a); };
  }
  await assert.rejects(runLoad(first.plan, fakeEngine(), { progress: createProgress(null), concurrency: 2, cache }), (e) => e.type === 'download');
  await sleep(20); // writes started before the failure finish
  const stored = cache.entries.size;
  assert.ok(stored >= 5 && stored < n, `pieces stored before the failure: ${stored}`);
  assert.equal(cache.records[cache.records.length - 1].complete, false);

  const second = cacheablePlan(file, 1000);
  const eng = fakeEngine();
  const res = await runLoad(second.plan, eng, { progress: createProgress(null), concurrency: 2, cache });
  assert.equal(res.cached, true);
  assert.equal(second.opens.length, n - stored, 'only the pieces not stored are fetched');
  assert.deepEqual(new Uint8Array(Buffer.concat(eng.files.get(1).parts)), file);
});

test('runLoad: a failing cache write leaves the model loaded and marked not cached', async () => {
  const file = stFile([['a', 6000]]);
  const cache = fakeCache({ failPuts: true });
  const { plan } = cacheablePlan(file, 1000);
  const eng = fakeEngine();
  const res = await runLoad(plan, eng, { progress: createProgress(null), cache });
  assert.equal(res.cached, false);
  assert.deepEqual(new Uint8Array(Buffer.concat(eng.files.get(1).parts)), file);
  assert.equal(cache.records[cache.records.length - 1].complete, false);
});

// gatedEngine: fakeEngine whose beginLoad answers only when open() is called
// (an engine still booting), or rejects with `refuse`.
function gatedEngine(refuse = null) {
  const eng = fakeEngine();
  let open;
  const gate = new Promise((r) => { open = r; });
  const begin = eng.beginLoad;
  eng.beginLoad = async (...a) => {
    await gate;
    if (refuse) throw refuse;
    return begin(...a);
  };
  eng.open = open;
  return eng;
}

test('runLoad: cached pieces are read while the engine boots; nothing is fetched before it accepts the config', async () => {
  const file = stFile([['a', 20000]]);
  const cache = fakeCache();
  const first = cacheablePlan(file, 1000);
  await runLoad(first.plan, fakeEngine(), { progress: createProgress(null), concurrency: 3, cache });

  // Cached: up to `concurrency` pieces are read before beginLoad answers.
  const reads = [];
  const readInto = cache.readInto;
  cache.readInto = async (key, ...a) => { reads.push(key); return readInto(key, ...a); };
  const second = cacheablePlan(file, 1000);
  const eng = gatedEngine();
  const done = runLoad(second.plan, eng, { progress: createProgress(null), concurrency: 3, cache });
  await sleep(20);
  assert.equal(reads.length, 3, 'pieces read from the cache before the engine answered');
  assert.equal(eng.files.size, 0, 'nothing reached the engine');
  eng.open();
  await done;
  assert.equal(second.opens.length, 0);
  assert.deepEqual(new Uint8Array(Buffer.concat(eng.files.get(1).parts)), file);

  // Not cached: no request until the engine answered; a refusal requests nothing.
  const fresh = cacheablePlan(file, 1000);
  const eng2 = gatedEngine(new AlibiError('memory', 'alibi: too large'));
  const refused = runLoad(fresh.plan, eng2, { progress: createProgress(null), cache: fakeCache() });
  await sleep(20);
  assert.equal(fresh.opens.length, 0);
  eng2.open();
  await assert.rejects(refused, (e) => e.type === 'memory');
  assert.equal(fresh.opens.length, 0, 'a refused model costs no weight request');
  assert.ok(!eng2.calls.some((c) => c[0] === 'abortLoad'), 'no load began, none is aborted');
});

test('an HF plan reads its safetensors headers before beginLoad answers only when the cache holds the model complete', async () => {
  const { resolvePlan } = await import('../loader/load.js');
  const st = stFile([['a', 4000]]);
  const files = { 'config.json': new TextEncoder().encode('{"model_type":"bloom"}'), 'tokenizer.json': new TextEncoder().encode('{}'), 'model.safetensors': st };
  for (const complete of [false, true]) {
    const { fetch, log } = fakeHTTP(files);
    const cache = fakeCache();
    cache.record = async () => ({ complete });
    const heads = () => log.filter((q) => q.name === 'model.safetensors' && (q.range === 'bytes=0-7' || /^bytes=8-/.test(q.range))).length;
    const plan = await resolvePlan({ url: 'http://h/m/', fetch }, { cache, pieceSize: 1000 });
    // Read by the plan already, while the engine would be booting.
    assert.equal(!!(await plan.early), complete);
    assert.equal(heads(), complete ? 2 : 0, `complete=${complete}: header requests before runLoad`);
    const eng = gatedEngine();
    const done = runLoad(plan, eng, { progress: createProgress(null), cache });
    await sleep(20);
    assert.equal(heads(), complete ? 2 : 0, `complete=${complete}: header requests before the engine answered`);
    assert.ok(!log.some((q) => q.name === 'model.safetensors' && /^bytes=(?!0-7$|8-)/.test(q.range)), 'no weight byte requested');
    eng.open();
    await done;
    assert.equal(heads(), 2);
    assert.deepEqual(new Uint8Array(Buffer.concat(eng.files.get(1).parts)), st);
  }
});

// storeCache is an in-memory model cache with the interface of
// openModelCache(): entries with headers, records, readInto.
function storeCache() {
  const entries = new Map();
  const records = new Map();
  return {
    entries,
    records,
    async put(key, bytes, headers = {}) { entries.set(key, { bytes: bytes.slice(), headers: new Headers(headers) }); },
    async get(key) { const e = entries.get(key); return e ? { bytes: e.bytes.slice(), headers: e.headers } : null; },
    async response(key) { const e = entries.get(key); return e ? new Response(e.bytes, { headers: e.headers }) : null; },
    async readInto(key, size, into) {
      const e = entries.get(key);
      if (!e) return null;
      into.set(e.bytes.subarray(0, Math.min(size, e.bytes.length)));
      return into.subarray(0, e.bytes.length);
    },
    async delete(key) { return entries.delete(key); },
    async record(url) { return records.get(url) || null; },
    async putRecord(url, r) { records.set(url, structuredClone(r)); },
  };
}

test('a load from the cache reads ahead up to 8 MiB of pieces; one from the network holds `concurrency`', async () => {
  const { resolvePlan } = await import('../loader/load.js');
  const enc = (s) => new TextEncoder().encode(s);
  for (const [pieceSize, tensorBytes, cachedMax] of [[1000, 12000, null], [2 << 20, 12 << 20, 4], [4 << 20, 12 << 20, 3]]) {
    const st = stFile([['a', tensorBytes]]);
    const files = { 'config.json': enc('{"model_type":"bloom"}'), 'tokenizer.json': enc('{}'), 'model.safetensors': st };
    const cache = storeCache();
    const load = async () => {
      const plan = await resolvePlan({ url: 'http://h/m/', fetch: fakeHTTP(files).fetch }, { cache, pieceSize });
      const eng = fakeEngine();
      const write = eng.write;
      eng.write = async (f, b) => { await sleep(2); return write(f, b); }; // a slower engine: reads pile up
      let maxHeld = 0;
      await runLoad(plan, eng, { progress: createProgress(null), cache, concurrency: 3, onHeld: (h) => { maxHeld = Math.max(maxHeld, h); } });
      assert.deepEqual(new Uint8Array(Buffer.concat(eng.files.get(1).parts)), st);
      await plan.revalidated;
      return { fromCache: !!plan.fromCache, maxHeld, pieces: Math.ceil(st.length / pieceSize) };
    };
    const first = await load();
    assert.equal(first.fromCache, false);
    assert.ok(first.maxHeld <= 3, `network: held ${first.maxHeld}`);
    const again = await load();
    assert.equal(again.fromCache, true);
    assert.equal(again.maxHeld, cachedMax ?? again.pieces, `pieces of ${pieceSize} bytes from the cache: held ${again.maxHeld}`);
  }
  // Pieces a cached plan does not find after all go to the network 3 at a time.
  const st = stFile([['a', 12000]]);
  const files = { 'config.json': enc('{"model_type":"bloom"}'), 'tokenizer.json': enc('{}'), 'model.safetensors': st };
  const cache = storeCache();
  const http = fakeHTTP(files);
  await runLoad(await resolvePlan({ url: 'http://h/m/', fetch: http.fetch }, { cache, pieceSize: 1000 }), fakeEngine(),
    { progress: createProgress(null), cache });
  for (const k of [...cache.entries.keys()]) if (k.includes('model.safetensors') && !k.includes('prefix')) cache.entries.delete(k);
  let inFlight = 0, maxInFlight = 0;
  const counting = async (...a) => {
    const weights = a[1] && a[1].headers && /^bytes=(?!0-7$)\d+-/.test(a[1].headers.Range || '');
    if (weights) { inFlight++; maxInFlight = Math.max(maxInFlight, inFlight); await sleep(3); }
    try { return await http.fetch(...a); } finally { if (weights) inFlight--; }
  };
  const plan = await resolvePlan({ url: 'http://h/m/', fetch: counting }, { cache, pieceSize: 1000 });
  assert.ok(plan.fromCache, 'planned from the cache');
  const eng = fakeEngine();
  await runLoad(plan, eng, { progress: createProgress(null), cache, concurrency: 3 });
  assert.deepEqual(new Uint8Array(Buffer.concat(eng.files.get(1).parts)), st);
  assert.ok(maxInFlight >= 2 && maxInFlight <= 3, `${maxInFlight} weight requests in flight`);
});

test('a model the cache holds whole is planned and loaded from the cache without the network, then checked against it', async () => {
  const { resolvePlan } = await import('../loader/load.js');
  const st = stFile([['a', 4000]]);
  const enc = (s) => new TextEncoder().encode(s);
  const files = { 'config.json': enc('{"model_type":"bloom"}'), 'tokenizer.json': enc('{"v":1}'), 'model.safetensors': st };
  const src = (fetch) => ({ url: 'http://h/m/', fetch });
  const cache = storeCache();
  const load = async (fetch) => {
    const plan = await resolvePlan(src(fetch), { cache, pieceSize: 1000 });
    const eng = fakeEngine();
    const res = await runLoad(plan, eng, { progress: createProgress(null), cache });
    return { plan, eng, res, fresh: await plan.revalidated };
  };

  // First visit: from the network, into the cache.
  let r = await load(fakeHTTP(files).fetch);
  assert.equal(r.plan.fromCache, undefined, 'nothing cached yet: a network plan');
  assert.equal(r.res.cached, true);

  // Returning visit: every request hangs, yet the model loads; the source
  // is asked afterwards.
  const gated = fakeHTTP(files);
  let release;
  const gate = new Promise((res) => { release = res; });
  const slow = async (...a) => { await gate; return gated.fetch(...a); };
  const plan = await resolvePlan(src(slow), { cache, pieceSize: 1000 });
  assert.ok(plan.fromCache, 'planned from the cache');
  assert.deepEqual(plan.tokenizer, files['tokenizer.json']);
  const eng = fakeEngine();
  const res = await Promise.race([runLoad(plan, eng, { progress: createProgress(null), cache }), sleep(1000).then(() => null)]);
  assert.ok(res && res.cached, 'loaded while the network is silent');
  assert.deepEqual(new Uint8Array(Buffer.concat(eng.files.get(1).parts)), st);
  assert.equal(gated.log.length, 0, 'no request before the model is ready');
  release();
  assert.equal(await plan.revalidated, true);
  assert.ok(gated.log.length > 0 && gated.log.every((q) => q.name !== 'model.safetensors' || q.range === 'bytes=0-7'), 'the check reads no weight byte');

  // Offline: the cache alone, and the check cannot say it changed.
  r = await load(async () => { throw new TypeError('Failed to fetch'); });
  assert.ok(r.plan.fromCache);
  assert.equal(r.fresh, true);

  // The source changed: this load still gets the cached (whole, older)
  // model, marks it stale, and the next load comes from the network.
  const changed = { ...files, 'tokenizer.json': enc('{"v":2}') };
  r = await load(fakeHTTP(changed).fetch);
  assert.deepEqual(r.plan.tokenizer, files['tokenizer.json']);
  assert.equal(r.fresh, false);
  assert.equal((await cache.record(r.plan.key)).stale, true);
  r = await load(fakeHTTP(changed).fetch);
  assert.equal(r.plan.fromCache, undefined, 'a stale model is planned from the network');
  assert.deepEqual(r.plan.tokenizer, changed['tokenizer.json']);
  r = await load(fakeHTTP(changed).fetch);
  assert.ok(r.plan.fromCache, 'and then from the cache again');
  assert.deepEqual(r.plan.tokenizer, changed['tokenizer.json']);
  assert.equal(r.fresh, true);

  // A new weight file (another ETag) and a file that appeared are changes too.
  r = await load(fakeHTTP(changed, { 'model.safetensors': '"other"' }).fetch);
  assert.equal(r.fresh, false);
  await load(fakeHTTP(changed).fetch);
  r = await load(fakeHTTP(changed).fetch);
  assert.equal(r.fresh, true);
  r = await load(fakeHTTP({ ...changed, 'generation_config.json': enc('{}') }).fetch);
  assert.equal(r.fresh, false);
});
