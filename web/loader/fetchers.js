// Fetchers give the loader one interface over the places model files come
// from: an http(s) directory (fetch, Range requests), a local directory in
// Node (fs), or File objects picked by the user. Each has
//   url(name)                       a stable string naming the file (cache keys, messages)
//   get(name, signal, {optional})   the whole file as a Uint8Array (null when optional and absent)
//   open(name, signal, {start, end, reload, into, onBytes})
//                                   a body for bytes [start, end) (the whole file without start/end):
//                                   { body: ReadableStream } or { bytes: Uint8Array }, plus
//                                   { total, etag } when known (total: the file's size); an http
//                                   fetcher with a fetch helper reads a range whole into `into`
//                                   and says so with { counted: true } (see fetchHelper)
//   cacheable                       whether Cache Storage applies (http only)

import { AlibiError, abortError } from './errors.js';
import { toHex } from './sha256.js';

function downloadError(url, what) {
  return new AlibiError('download', `alibi: ${url}: ${what}`);
}

function rethrowFetch(e, url, signal) {
  if (signal && signal.aborted) throw abortError(signal);
  if (e instanceof AlibiError) throw e;
  throw downloadError(url, e && e.message ? e.message : String(e));
}

// rangeCheck checks the answer to a request for bytes [start, end) of u
// (the whole file when start is undefined): { ok: true, total, etag } or
// { ok: false, type, message }. Self-contained: the fetch helper runs it too.
function rangeCheck(u, status, header, start, end) {
  const etag = header('x-linked-etag') || header('etag') || '';
  const fail = (type, message) => ({ ok: false, type, message: `alibi: ${u}: ${message}` });
  const contentRange = (v) => {
    // "bytes 0-99/1234" or "bytes */1234"
    const m = /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/i.exec((v || '').trim());
    if (!m) return null;
    return { start: m[1] === undefined ? null : Number(m[1]), total: m[3] === '*' ? null : Number(m[3]) };
  };
  if (status === 416) {
    const cr = contentRange(header('content-range'));
    return fail('format', `bytes ${start}-${end - 1} are past the end of the file${cr && cr.total !== null ? ` (${cr.total} bytes): truncated?` : ''}`);
  }
  if (status < 200 || status > 299) return fail('download', `HTTP ${status}`);
  if (start === undefined) {
    const len = header('content-length');
    return { ok: true, total: len === null || header('content-encoding') ? undefined : Number(len), etag };
  }
  if (status === 200) {
    // The server ignored the Range header. Fine only if it sent exactly the range asked for.
    const len = Number(header('content-length'));
    if (start === 0 && Number.isFinite(len) && len <= end && !header('content-encoding')) return { ok: true, total: len, etag };
    return fail('download', 'the server does not answer Range requests; serve the model with `alibi serve` or convert it with `alibi convert --to web`');
  }
  const cr = contentRange(header('content-range'));
  if (!cr || cr.start !== start) return fail('download', `bad Content-Range ${JSON.stringify(header('content-range'))} for bytes ${start}-${end - 1}`);
  return { ok: true, total: cr.total === null ? undefined : cr.total, etag };
}

// helperMain is the fetch helper: a worker of its own that downloads weight
// pieces straight into buffers the runtime worker transfers to it and back.
// Reading a response body costs the reading thread about as much CPU as
// the engine's conversion of the same bytes (Chromium allocates and faults
// in memory for every network chunk), so on its own thread the download
// keeps going while the engine converts the previous piece.
// It also reads cached pieces (private file system chunks, or Cache Storage
// entries) the same way, so a load from the cache overlaps reading piece
// i+1 with the engine converting piece i. A second instance (storeHelper)
// writes the chunk files.
// Messages in: { id, url, start, end, whole, reload, buf } (buf transferred;
// whole: no Range header, the file is expected to be end bytes long),
// { id, cache, key, start: 0, end: size, buf, hash } (a Cache Storage entry, or
// with opfs: the file opfs of the private file system's directory cache;
// hash: give the SHA-256 of a private file system piece read whole),
// { id, op: 'put', cache, opfs, buf } (store a chunk file),
// { abort: id }. Out: { ready, opfs }, { id, progress: n },
// { id, buf, n, longer, total, etag, miss, sha256 } (buf transferred), { id, error: { type, message } }.
// It is serialized with Function.prototype.toString, so it uses nothing
// but its arguments (rangeCheck and sha256.js's toHex) and the worker's globals.
function helperMain(check, hex) {
  const ctl = new Map();
  const post = (m, t) => self.postMessage(m, t || []);
  // The private file system, where this worker can read and write files
  // with synchronous access handles (and rename them).
  const opfs = !!(self.navigator && navigator.storage && navigator.storage.getDirectory && self.FileSystemFileHandle &&
    'createSyncAccessHandle' in FileSystemFileHandle.prototype && 'move' in FileSystemFileHandle.prototype);
  const dirs = new Map();
  const chunkDir = (name) => {
    if (!dirs.has(name)) dirs.set(name, navigator.storage.getDirectory().then((r) => r.getDirectoryHandle(name, { create: true })));
    return dirs.get(name);
  };
  // putChunk writes m.buf to the file m.opfs of directory m.cache: to a
  // ".part" file first, flushed, then renamed, so a chunk file is always
  // whole; a failed write leaves no file.
  async function putChunk(m) {
    const dir = await chunkDir(m.cache);
    const part = m.opfs + '.part';
    let h = null;
    try {
      const fh = await dir.getFileHandle(part, { create: true });
      h = await fh.createSyncAccessHandle();
      h.truncate(0);
      const n = h.write(new Uint8Array(m.buf), { at: 0 });
      if (n !== m.buf.byteLength) throw new Error(`wrote ${n} of ${m.buf.byteLength} bytes`);
      h.flush();
      h.close();
      h = null;
      await fh.move(m.opfs);
      return {};
    } catch (err) {
      if (h) h.close();
      await dir.removeEntry(part).catch(() => {});
      const quota = err && err.name === 'QuotaExceededError';
      return { error: { type: quota ? 'memory' : 'download', message: `alibi: storing ${m.opfs}: ${err && err.message ? err.message : String(err)}` } };
    }
  }
  async function read(m, signal) {
    let res;
    let c;
    if (m.opfs) {
      // A cached piece in the private file system: file m.opfs of
      // directory m.cache, read with a synchronous access handle.
      let h;
      try {
        h = await (await (await chunkDir(m.cache)).getFileHandle(m.opfs)).createSyncAccessHandle();
      } catch {
        return { buf: m.buf, n: 0, miss: true }; // absent, or being written
      }
      let r;
      try {
        const limit = m.end - m.start;
        const size = h.getSize();
        const n = h.read(new Uint8Array(m.buf, 0, Math.min(size, limit)), { at: 0 });
        r = { buf: m.buf, n, longer: size > limit };
      } finally {
        h.close();
      }
      // The piece's SHA-256, here rather than on the runtime worker's
      // thread, which a load from the cache keeps busy with the engine.
      if (m.hash && r.n === m.end - m.start && !r.longer && self.crypto && crypto.subtle) {
        const d = new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(r.buf, 0, r.n)));
        r.sha256 = hex(d);
      }
      return r;
    }
    if (m.cache) {
      // A cached piece: Cache Storage entry m.key of cache m.cache.
      res = await (await caches.open(m.cache)).match(m.key);
      if (!res) return { buf: m.buf, n: 0, miss: true };
      c = { ok: true };
    } else {
      // m.whole: the whole file (a web directory's chunk), at most end bytes.
      const headers = m.whole ? {} : { Range: `bytes=${m.start}-${m.end - 1}` };
      res = await fetch(m.url, { signal, headers, cache: m.reload ? 'reload' : 'default' });
      c = check(m.url, res.status, (k) => res.headers.get(k), m.whole ? undefined : m.start, m.end);
    }
    if (!c.ok) {
      res.body?.cancel().catch(() => {});
      return { error: { type: c.type, message: c.message } };
    }
    const limit = m.end - m.start;
    let buf = m.buf;
    let off = 0;
    let told = 0;
    const tell = (force) => {
      if (off - told >= (1 << 20) || (force && off > told)) {
        post({ id: m.id, progress: off - told });
        told = off;
      }
    };
    let byob = null;
    try {
      byob = res.body.getReader({ mode: 'byob' });
    } catch {
      byob = null;
    }
    let longer = false;
    if (byob) {
      while (off < limit) {
        const r = await byob.read(new Uint8Array(buf, off, limit - off));
        if (r.value) buf = r.value.buffer;
        if (r.done) break;
        off += r.value.byteLength;
        tell(false);
      }
      if (off === limit) {
        const extra = await byob.read(new Uint8Array(1)).catch(() => ({ done: true }));
        longer = !extra.done && !!extra.value && extra.value.byteLength > 0;
      }
      byob.cancel().catch(() => {});
    } else {
      const reader = res.body.getReader();
      const out = new Uint8Array(buf);
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        const v = r.value;
        if (off + v.length > limit) {
          out.set(v.subarray(0, limit - off), off);
          off = limit;
          longer = true;
          reader.cancel().catch(() => {});
          break;
        }
        out.set(v, off);
        off += v.length;
        tell(false);
      }
    }
    tell(true);
    return { buf, n: off, longer, total: c.total, etag: c.etag };
  }
  self.onmessage = async (e) => {
    const m = e.data;
    if (m.abort !== undefined) {
      const c = ctl.get(m.abort);
      if (c) c.abort();
      return;
    }
    if (m.op === 'put') {
      post({ id: m.id, ...(await putChunk(m)) });
      return;
    }
    const c = new AbortController();
    ctl.set(m.id, c);
    try {
      const r = await read(m, c.signal);
      if (r.error) post({ id: m.id, error: r.error });
      else post({ id: m.id, ...r }, [r.buf]);
    } catch (err) {
      post({ id: m.id, error: { type: 'download', message: `alibi: ${m.url || m.key}: ${err && err.message ? err.message : String(err)}` } });
    } finally {
      ctl.delete(m.id);
    }
  };
  post({ ready: true, opfs });
}

let helperState = null; // Promise of the helper client, or of null when it cannot run
let storeState = null; // the same for the store helper

// fetchHelper starts the shared fetch helper (once per runtime worker) and
// resolves to its client, or to null where no worker can be started (Node,
// a Content-Security-Policy without blob: workers): callers then read
// responses on their own thread.
export function fetchHelper() {
  if (!helperState) helperState = startHelper('alibi-fetch').then((c) => (c ? readerPool(c) : null));
  return helperState;
}

// readerPool spreads network reads over two fetch helpers once a read of
// LARGE_READ bytes or more shows a large download. Reading a fetch body
// costs a Chromium worker thread about 3.5 s of CPU per GB here (BYOB,
// default reader or arrayBuffer() alike), so one helper caps a download at
// 240-280 MB/s on this 2-core VM, and two read 300-320 MB/s (1.1 GB in 16
// MiB Range pieces, three or four in flight). A small model never starts
// the second helper: its start-up would cost a returning visitor's load
// more than the reads gain. Cached reads and writes stay with the first.
const LARGE_READ = 4 << 20;

function readerPool(first) {
  const clients = [first];
  const busy = new Map([[first, 0]]);
  let second = false; // whether the second helper was started
  const pick = () => clients.reduce((a, b) => (busy.get(b) < busy.get(a) ? b : a));
  return {
    opfs: first.opfs,
    putChunk: (...a) => first.putChunk(...a),
    readCached: (...a) => first.readCached(...a),
    read(url, opts) {
      if (!second && opts.end - opts.start >= LARGE_READ) {
        second = true;
        startHelper('alibi-fetch-2').then((c) => {
          if (c) { clients.push(c); busy.set(c, 0); }
        });
      }
      const c = pick();
      busy.set(c, busy.get(c) + 1);
      return c.read(url, opts).finally(() => busy.set(c, busy.get(c) - 1));
    },
  };
}

// storeHelper starts a second instance of the helper that writes cached
// chunks (client.putChunk), so the synchronous writes never hold up the
// fetch helper's downloads.
export function storeHelper() {
  if (!storeState) storeState = startHelper('alibi-store');
  return storeState;
}

function startHelper(name) {
  return new Promise((resolve) => {
    let w;
    let revoke = () => {};
    try {
      // Node has no Worker global (and wasm_exec.js defines a stand-in
      // `process` in browsers, so that is no test).
      const node = !!(globalThis.process && globalThis.process.versions && globalThis.process.versions.node);
      if (node || typeof Worker !== 'function' || typeof Blob !== 'function' || !(globalThis.URL && URL.createObjectURL)) {
        resolve(null);
        return;
      }
      const src = `"use strict";(${helperMain.toString()})(${rangeCheck.toString()}, ${toHex.toString()});`;
      const url = URL.createObjectURL(new Blob([src], { type: 'text/javascript' }));
      w = new Worker(url, { name });
      // The URL is revoked once the helper runs (or failed): revoking it now
      // could stop the worker's script from loading.
      revoke = () => URL.revokeObjectURL(url);
    } catch {
      resolve(null);
      return;
    }
    const pending = new Map();
    let next = 0;
    let ready = false;
    const failAll = (message) => {
      for (const p of pending.values()) p.reject(new AlibiError('download', `alibi: the fetch helper failed: ${message}`));
      pending.clear();
    };
    w.addEventListener('error', (e) => {
      if (e.preventDefault) e.preventDefault();
      revoke();
      if (!ready) resolve(null); // never started (blocked): read in this thread
      else failAll(e.message || 'error');
    });
    w.addEventListener('message', (e) => {
      const m = e.data;
      if (m.ready) {
        ready = true;
        revoke();
        client.opfs = !!m.opfs;
        resolve(client);
        return;
      }
      const p = pending.get(m.id);
      if (!p) return;
      if (m.progress !== undefined) {
        p.onBytes(m.progress);
        return;
      }
      pending.delete(m.id);
      if (m.error) p.reject(new AlibiError(m.error.type, m.error.message));
      else p.resolve(m);
    });
    const client = {
      opfs: false, // whether the helper reads and writes private file system chunks
      // putChunk stores bytes as the file `file` of the private file system
      // directory cacheName. The bytes' buffer goes to the helper (the
      // caller gives it up) when they fill it, else a copy does.
      putChunk(cacheName, file, bytes) {
        const id = ++next;
        const buf = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer;
        return new Promise((resolve2, reject) => {
          pending.set(id, { onBytes() {}, resolve: () => resolve2(), reject });
          w.postMessage({ id, op: 'put', cache: cacheName, opfs: file, buf }, [buf]);
        });
      },
      // read fetches bytes [start, end) of url into the ArrayBuffer of
      // `into` (transferred away and back): { bytes, total, etag, counted };
      // with whole, all of url (start 0, end its expected size).
      read(url, opts) {
        return request({ url, start: opts.start, end: opts.end, whole: !!opts.whole, reload: !!opts.reload }, opts);
      },
      // readCached reads a cached piece (size bytes expected) into the
      // ArrayBuffer of `into`: the Cache Storage entry `key` of cache
      // cacheName, or with opfs (a file name) that file of the private file
      // system's directory cacheName. It gives { bytes } as read (shorter or
      // one byte longer when the entry's size differs) and miss: true when
      // there is no such entry; then bytes is empty and its buffer is into's,
      // back from the helper. With hash, a private file system piece read
      // whole comes with its SHA-256 (hex) as sha256.
      readCached(cacheName, key, size, { into, signal, opfs, hash = false }) {
        return request({ cache: cacheName, key, opfs, start: 0, end: size, hash }, { into, signal });
      },
    };
    function request(msg, { into, signal, onBytes = () => {} }) {
      const { start, end } = msg;
      if (signal && signal.aborted) return Promise.reject(abortError(signal));
      const id = ++next;
      const limit = end - start;
      return new Promise((resolve2, reject) => {
        const onAbort = () => {
          if (!pending.has(id)) return;
          pending.delete(id);
          w.postMessage({ abort: id });
          reject(abortError(signal));
        };
        const done = (f) => (v) => {
          if (signal) signal.removeEventListener('abort', onAbort);
          f(v);
        };
        pending.set(id, {
          onBytes,
          reject: done(reject),
          resolve: done((m) => {
            let bytes = new Uint8Array(m.buf, 0, m.n);
            if (m.longer) bytes = new Uint8Array(limit + 1); // one extra byte shows the mismatch
            resolve2({ bytes, total: m.total, etag: m.etag, counted: true, miss: !!m.miss, sha256: m.sha256 });
          }),
        });
        if (signal) signal.addEventListener('abort', onAbort, { once: true });
        const buf = into.byteOffset === 0 && into.byteLength >= limit ? into.buffer : new ArrayBuffer(limit);
        w.postMessage({ ...msg, id, buf }, [buf]);
      });
    }
  });
}

// etags maps the bytes an http fetcher's get returned to the response's
// ETag, so the loader can tell an unchanged small file from a new one
// without reading its cached copy.
export const etags = new WeakMap();

export function httpFetcher(base, { fetch = globalThis.fetch.bind(globalThis), helper = null } = {}) {
  const baseURL = new URL(base);
  if (!baseURL.pathname.endsWith('/')) baseURL.pathname += '/';
  const url = (name) => new URL(name, baseURL).href;
  return {
    kind: 'http',
    base: baseURL.href,
    cacheable: true,
    url,
    async get(name, signal, { optional = false, reload = false } = {}) {
      const u = url(name);
      let res;
      try {
        res = await fetch(u, { signal, cache: reload ? 'reload' : 'default' });
      } catch (e) {
        rethrowFetch(e, u, signal);
      }
      if (res.status === 404 && optional) {
        res.body?.cancel().catch(() => {});
        return null;
      }
      if (!res.ok) {
        res.body?.cancel().catch(() => {});
        throw downloadError(u, `HTTP ${res.status}`);
      }
      try {
        const bytes = new Uint8Array(await res.arrayBuffer());
        const etag = res.headers.get('etag');
        if (etag) etags.set(bytes, etag);
        return bytes;
      } catch (e) {
        rethrowFetch(e, u, signal);
      }
    },
    // open: with `into` (a buffer for the bytes: the range's, or the whole
    // file's expected size) and `helper` (a Promise of fetchHelper()'s
    // client, or null), the range or file is read by the fetch helper and
    // returned as { bytes, counted: true } (onBytes called as they arrive);
    // otherwise as a body stream for readBody.
    async open(name, signal, { start, end, reload = false, into, onBytes } = {}) {
      const u = url(name);
      const ranged = start !== undefined;
      const h = into ? await helper : null;
      if (h) {
        const range = ranged ? { start, end } : { start: 0, end: into.length, whole: true };
        return h.read(u, { ...range, reload, into, signal, onBytes });
      }
      const headers = ranged ? { Range: `bytes=${start}-${end - 1}` } : {};
      let res;
      try {
        res = await fetch(u, { signal, headers, cache: reload ? 'reload' : 'default' });
      } catch (e) {
        rethrowFetch(e, u, signal);
      }
      const c = rangeCheck(u, res.status, (k) => res.headers.get(k), start, end);
      if (!c.ok) {
        res.body?.cancel().catch(() => {});
        throw new AlibiError(c.type, c.message);
      }
      return { body: res.body, total: c.total, etag: c.etag };
    },
  };
}

// nodeFetcher reads a local directory (Node only).
export async function nodeFetcher(dir) {
  const fs = await import(/* webpackIgnore: true */ 'node:fs/promises');
  const path = await import(/* webpackIgnore: true */ 'node:path');
  const root = path.resolve(dir);
  const file = (name) => {
    const p = path.resolve(root, name);
    if (p !== root && !p.startsWith(root + path.sep)) throw new AlibiError('format', `alibi: ${name}: outside ${root}`);
    return p;
  };
  const notFound = (e) => e && e.code === 'ENOENT';
  return {
    kind: 'fs',
    base: root,
    cacheable: false,
    url: (name) => file(name),
    async get(name, signal, { optional = false } = {}) {
      if (signal && signal.aborted) throw abortError(signal);
      try {
        return new Uint8Array(await fs.readFile(file(name), { signal }));
      } catch (e) {
        if (signal && signal.aborted) throw abortError(signal);
        if (notFound(e) && optional) return null;
        throw downloadError(file(name), e.message);
      }
    },
    async open(name, signal, { start, end } = {}) {
      if (signal && signal.aborted) throw abortError(signal);
      let fh;
      try {
        fh = await fs.open(file(name), 'r');
        const { size } = await fh.stat();
        const s = start === undefined ? 0 : start;
        const e = end === undefined ? size : end;
        if (s >= size && e > s) throw new AlibiError('format', `alibi: ${file(name)}: bytes ${s}-${e - 1} are past the end of the file (${size} bytes): truncated?`);
        const n = Math.max(0, Math.min(e, size) - s);
        const bytes = new Uint8Array(n);
        let off = 0;
        while (off < n) {
          const { bytesRead } = await fh.read(bytes, off, n - off, s + off);
          if (bytesRead === 0) break;
          off += bytesRead;
        }
        return { bytes: bytes.subarray(0, off), total: size };
      } catch (e) {
        if (e instanceof AlibiError) throw e;
        throw downloadError(file(name), e.message);
      } finally {
        await fh?.close();
      }
    },
  };
}

// filesFetcher serves File/Blob objects by their base name (names[i] when
// given, else files[i].name).
export function filesFetcher(files, names = []) {
  const byName = new Map();
  for (const [i, f] of files.entries()) {
    const name = String(names[i] || f.name || '').split('/').pop();
    if (name) byName.set(name, f);
  }
  const lookup = (name) => byName.get(String(name).split('/').pop());
  return {
    kind: 'files',
    base: 'files:',
    cacheable: false,
    names: [...byName.keys()],
    has: (name) => byName.has(String(name).split('/').pop()),
    url: (name) => `file:${name}`,
    async get(name, signal, { optional = false } = {}) {
      const f = lookup(name);
      if (!f) {
        if (optional) return null;
        throw new AlibiError('download', `alibi: no file named ${name} among the files given`);
      }
      if (signal && signal.aborted) throw abortError(signal);
      return new Uint8Array(await f.arrayBuffer());
    },
    async open(name, signal, { start, end } = {}) {
      const f = lookup(name);
      if (!f) throw new AlibiError('download', `alibi: no file named ${name} among the files given`);
      if (signal && signal.aborted) throw abortError(signal);
      const s = start === undefined ? 0 : start;
      const e = end === undefined ? f.size : end;
      if (s >= f.size && e > s) throw new AlibiError('format', `alibi: ${name}: bytes ${s}-${e - 1} are past the end of the file (${f.size} bytes): truncated?`);
      return { bytes: new Uint8Array(await f.slice(s, Math.min(e, f.size)).arrayBuffer()), total: f.size };
    },
  };
}

// readBody reads a body of at most `limit` bytes into one buffer, calling
// onBytes(n) as bytes arrive. It returns the bytes read (possibly fewer).
// `into`, when given, is a Uint8Array of `limit` bytes to read into (a
// pooled buffer), so streaming a model allocates no buffer per chunk.
export async function readBody(res, limit, signal, onBytes = () => {}, into = null) {
  if (res.bytes) {
    if (signal && signal.aborted) throw abortError(signal);
    if (!res.counted) onBytes(Math.min(res.bytes.length, limit));
    return res.bytes.length > limit ? res.bytes.subarray(0, limit + 1) : res.bytes;
  }
  const out = into && into.length === limit ? into : new Uint8Array(limit);
  let byob = null;
  try {
    byob = res.body.getReader({ mode: 'byob' });
  } catch {
    byob = null; // not a byte stream (Node's fetch): copy from the default reader
  }
  if (byob) return readBYOB(byob, out, limit, signal, onBytes);
  let off = 0;
  const reader = res.body.getReader();
  const onAbort = () => reader.cancel().catch(() => {});
  if (signal) signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      let r;
      try {
        r = await reader.read();
      } catch (e) {
        if (signal && signal.aborted) throw abortError(signal);
        throw new AlibiError('download', `alibi: reading a response: ${e.message}`);
      }
      if (signal && signal.aborted) throw abortError(signal);
      if (r.done) break;
      const v = r.value;
      if (off + v.length > limit) {
        // Longer than expected: keep one extra byte so the caller sees the mismatch.
        const room = limit - off;
        out.set(v.subarray(0, room), off);
        onBytes(room);
        reader.cancel().catch(() => {});
        const longer = new Uint8Array(limit + 1);
        longer.set(out);
        return longer;
      }
      out.set(v, off);
      off += v.length;
      onBytes(v.length);
    }
  } finally {
    if (signal) signal.removeEventListener('abort', onAbort);
  }
  return off === limit ? out : out.subarray(0, off);
}

// readBYOB lets the stream write straight into out (no buffer per network
// read, so no garbage while streaming a model). Each read transfers the
// ArrayBuffer; the result is a view of the last one.
async function readBYOB(reader, out, limit, signal, onBytes) {
  let buf = out;
  let off = 0;
  const onAbort = () => reader.cancel().catch(() => {});
  if (signal) signal.addEventListener('abort', onAbort, { once: true });
  try {
    while (off < limit) {
      let r;
      try {
        r = await reader.read(new Uint8Array(buf.buffer, buf.byteOffset + off, limit - off));
      } catch (e) {
        if (signal && signal.aborted) throw abortError(signal);
        throw new AlibiError('download', `alibi: reading a response: ${e.message}`);
      }
      if (signal && signal.aborted) throw abortError(signal);
      if (r.value) buf = new Uint8Array(r.value.buffer, r.value.byteOffset - off, limit);
      if (r.done) return buf.subarray(0, off);
      off += r.value.byteLength;
      onBytes(r.value.byteLength);
    }
    // Full: one more read tells whether the body is longer than expected.
    const extra = await reader.read(new Uint8Array(1)).catch(() => ({ done: true }));
    if (!extra.done && extra.value && extra.value.byteLength > 0) {
      reader.cancel().catch(() => {});
      const longer = new Uint8Array(limit + 1);
      longer.set(buf);
      return longer;
    }
    return buf;
  } finally {
    if (signal) signal.removeEventListener('abort', onAbort);
    try { reader.releaseLock(); } catch { /* a read is pending after cancel */ }
  }
}
