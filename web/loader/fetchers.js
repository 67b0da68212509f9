// Fetchers give the loader one interface over the places model files come
// from: an http(s) directory (fetch, Range requests), a local directory in
// Node (fs), or File objects picked by the user. Each has
//   url(name)                       a stable string naming the file (cache keys, messages)
//   get(name, signal, {optional})   the whole file as a Uint8Array (null when optional and absent)
//   open(name, signal, {start, end, reload})
//                                   a body for bytes [start, end) (the whole file without start/end):
//                                   { body: ReadableStream } or { bytes: Uint8Array }, plus
//                                   { total, etag } when known (total: the file's size)
//   cacheable                       whether Cache Storage applies (http only)

import { AlibiError, abortError } from './errors.js';

function downloadError(url, what) {
  return new AlibiError('download', `alibi: ${url}: ${what}`);
}

function rethrowFetch(e, url, signal) {
  if (signal && signal.aborted) throw abortError(signal);
  if (e instanceof AlibiError) throw e;
  throw downloadError(url, e && e.message ? e.message : String(e));
}

function parseContentRange(v) {
  // "bytes 0-99/1234" or "bytes */1234"
  const m = /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/i.exec((v || '').trim());
  if (!m) return null;
  return { start: m[1] === undefined ? null : Number(m[1]), end: m[2] === undefined ? null : Number(m[2]) + 1, total: m[3] === '*' ? null : Number(m[3]) };
}

export function httpFetcher(base, { fetch = globalThis.fetch.bind(globalThis) } = {}) {
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
        return new Uint8Array(await res.arrayBuffer());
      } catch (e) {
        rethrowFetch(e, u, signal);
      }
    },
    async open(name, signal, { start, end, reload = false } = {}) {
      const u = url(name);
      const ranged = start !== undefined;
      const headers = ranged ? { Range: `bytes=${start}-${end - 1}` } : {};
      let res;
      try {
        res = await fetch(u, { signal, headers, cache: reload ? 'reload' : 'default' });
      } catch (e) {
        rethrowFetch(e, u, signal);
      }
      const etag = res.headers.get('x-linked-etag') || res.headers.get('etag') || '';
      if (res.status === 416) {
        res.body?.cancel().catch(() => {});
        const cr = parseContentRange(res.headers.get('content-range'));
        throw new AlibiError('format', `alibi: ${u}: bytes ${start}-${end - 1} are past the end of the file${cr && cr.total !== null ? ` (${cr.total} bytes): truncated?` : ''}`);
      }
      if (!res.ok) {
        res.body?.cancel().catch(() => {});
        throw downloadError(u, `HTTP ${res.status}`);
      }
      if (!ranged) {
        const len = res.headers.get('content-length');
        return { body: res.body, total: len === null || res.headers.get('content-encoding') ? undefined : Number(len), etag };
      }
      if (res.status === 200) {
        // The server ignored the Range header. Fine only if it sent exactly the range asked for.
        const len = Number(res.headers.get('content-length'));
        if (start === 0 && Number.isFinite(len) && len <= end && !res.headers.get('content-encoding')) {
          return { body: res.body, total: len, etag };
        }
        res.body?.cancel().catch(() => {});
        throw new AlibiError('download', `alibi: ${u}: the server does not answer Range requests; serve the model with \`alibi serve\` or convert it with \`alibi convert --to web\``);
      }
      const cr = parseContentRange(res.headers.get('content-range'));
      if (!cr || cr.start !== start) {
        res.body?.cancel().catch(() => {});
        throw downloadError(u, `bad Content-Range ${JSON.stringify(res.headers.get('content-range'))} for bytes ${start}-${end - 1}`);
      }
      return { body: res.body, total: cr.total === null ? undefined : cr.total, etag };
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
    onBytes(Math.min(res.bytes.length, limit));
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
