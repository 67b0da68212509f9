// The model cache. Weight chunks are immutable and keyed by their URL plus
// their SHA-256 (or, for Range pieces of an HF checkpoint without a
// manifest, URL + validator + byte range), so a changed file never matches
// an old entry. Small files (manifest, config, tokenizer) are network-first
// with the cached copy as the offline fallback. One record per model lists
// its entries for listCachedModels / deleteCachedModel.
//
// Small files and records live in Cache Storage. Weight chunks live in the
// origin private file system where the helper workers can use it: one file
// per chunk, named by the SHA-256 of its key, in the directory CACHE_NAME,
// written by the store helper and read by the fetch helper with
// synchronous access handles. Those read at 3.2-4.2 GB/s where Cache Storage
// entries read at ~0.65 GB/s (Chromium 156, 8 MiB entries, this machine),
// which left a cached 560m-shaped model waiting on the cache. Elsewhere
// chunks go to Cache Storage, and chunks found there (an older version put
// them there) are still read.

import { fetchHelper, storeHelper, readBody } from './fetchers.js';
import { sha256Hex } from './sha256.js';

export const CACHE_NAME = 'alibi-models-v1';

// digests maps the bytes readInto returned to their SHA-256 (hex) where the
// fetch helper computed it, so the caller need not hash them again.
export const digests = new WeakMap();
const RECORD_PARAM = 'alibi-model';

function withParams(url, params) {
  const u = new URL(url);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.href;
}

export function chunkKey(url, sha256) {
  return withParams(url, { 'alibi-sha256': sha256 });
}

export function rangeKey(url, validator, start, end) {
  return withParams(url, { 'alibi-validator': validator, 'alibi-range': `${start}-${end}` });
}

export function prefixKey(url) {
  return withParams(url, { 'alibi-prefix': '1' });
}

// compactKey names the compact form of a model's tokenizer (its
// tokenizer.json's URL): one entry per model, replaced when the file or the
// engine's build changes (load.js, tokenizerSetter).
export function compactKey(url) {
  return withParams(url, { 'alibi-compact': '1' });
}

export function recordKey(sourceURL) {
  return withParams(sourceURL, { [RECORD_PARAM]: '1' });
}

export function cacheAvailable() {
  return typeof globalThis.caches !== 'undefined' && globalThis.caches !== null;
}

// isChunkKey reports whether a cache key names a weight chunk.
function isChunkKey(key) {
  const q = new URL(key).searchParams;
  return q.has('alibi-sha256') || q.has('alibi-range');
}

// chunkDir returns the private file system directory of the chunks, or
// null where there is none.
async function chunkDir(name) {
  try {
    const st = globalThis.navigator && globalThis.navigator.storage;
    if (!st || !st.getDirectory) return null;
    return await (await st.getDirectory()).getDirectoryHandle(name, { create: true });
  } catch {
    return null;
  }
}

const chunkFile = (key) => sha256Hex(new TextEncoder().encode(key));

// openModelCache returns a small wrapper over one Cache and its chunk
// directory, or null where Cache Storage does not exist (Node, insecure
// contexts).
export async function openModelCache(name = CACHE_NAME) {
  if (!cacheAvailable()) return null;
  let cache;
  try {
    cache = await caches.open(name);
  } catch {
    return null;
  }
  // Opened while the caller goes on: only chunk operations wait for it.
  const dirP = chunkDir(name);
  // The chunk directory and file name of key, or null for keys kept in
  // Cache Storage only.
  const fileOf = async (key) => {
    if (!isChunkKey(key)) return null;
    const dir = await dirP;
    return dir ? { dir, file: await chunkFile(key) } : null;
  };
  let legacy = false;
  return {
    async get(key) {
      const res = await cache.match(key);
      if (!res) return null;
      return { bytes: new Uint8Array(await res.arrayBuffer()), headers: res.headers };
    },
    // response returns the cached Response (its body is read as a stream).
    async response(key) {
      return (await cache.match(key)) || null;
    },
    // readInto reads the entry `key`, expected to be `size` bytes, into the
    // buffer `into` (a Uint8Array of size bytes): the bytes read (shorter,
    // or one byte longer, when the entry's size differs), or null when
    // there is no entry. Where the fetch helper runs, it reads the entry on
    // its own thread while this one feeds the engine; with hash, it also
    // hashes a chunk file it read whole, and `digests` maps the bytes to
    // that SHA-256.
    // A chunk is looked for in the private file system first, then in
    // Cache Storage; once a load finds chunks only in Cache Storage (an
    // older version stored the model), it looks there first.
    async readInto(key, size, into, signal, { hash = false } = {}) {
      const helper = await fetchHelper();
      const f = await fileOf(key);
      const fromFile = async () => {
        if (helper && helper.opfs) {
          const r = await helper.readCached(name, key, size, { into, signal, opfs: f.file, hash });
          into = new Uint8Array(r.bytes.buffer, 0, size); // back from the helper
          if (r.miss) return null;
          if (r.sha256) digests.set(r.bytes, r.sha256);
          return r.bytes;
        }
        const fh = await f.dir.getFileHandle(f.file).catch(() => null);
        return fh ? readBody({ body: (await fh.getFile()).stream() }, size, signal, () => {}, into) : null;
      };
      const fromCache = async () => {
        if (helper) {
          const r = await helper.readCached(name, key, size, { into, signal });
          into = new Uint8Array(r.bytes.buffer, 0, size);
          return r.miss ? null : r.bytes;
        }
        const res = await cache.match(key);
        return res ? readBody({ body: res.body }, size, signal, () => {}, into) : null;
      };
      if (!f) return fromCache();
      if (legacy) return (await fromCache()) || fromFile();
      const got = await fromFile();
      if (got) return got;
      const old = await fromCache();
      if (old) legacy = true;
      return old;
    },
    async has(key) {
      const f = await fileOf(key);
      if (f && (await f.dir.getFileHandle(f.file).then(() => true, () => false))) return true;
      return !!(await cache.match(key));
    },
    // put stores a copy of bytes, taken before it returns: the caller may
    // reuse the buffer at once. A chunk goes to the private file system
    // when the store helper can write there, anything else to Cache Storage.
    async put(key, bytes, headers = {}) {
      if (isChunkKey(key)) {
        const copy = bytes.slice();
        const [f, store] = await Promise.all([fileOf(key), storeHelper()]);
        if (f && store && store.opfs) {
          await store.putChunk(name, f.file, copy);
          return;
        }
        bytes = copy;
      }
      await cache.put(key, new Response(bytes, {
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length), ...headers },
      }));
    },
    async delete(key) {
      const f = await fileOf(key);
      const gone = f ? await f.dir.removeEntry(f.file).then(() => true, () => false) : false;
      return (await cache.delete(key)) || gone;
    },
    async putRecord(sourceURL, record) {
      await cache.put(recordKey(sourceURL), new Response(JSON.stringify(record), { headers: { 'content-type': 'application/json' } }));
    },
    async records() {
      const out = [];
      for (const req of await cache.keys()) {
        if (!new URL(req.url).searchParams.has(RECORD_PARAM)) continue;
        const res = await cache.match(req);
        try {
          out.push(await res.json());
        } catch { /* a broken record is skipped */ }
      }
      return out;
    },
    // record returns the model's record, or null.
    async record(sourceURL) {
      const res = await cache.match(recordKey(sourceURL));
      return res ? res.json() : null;
    },
    async deleteRecord(sourceURL) {
      return cache.delete(recordKey(sourceURL));
    },
  };
}

// normalizeSourceURL gives the key a model is listed under.
export function normalizeSourceURL(url) {
  const u = new URL(url, globalThis.location ? globalThis.location.href : undefined);
  if (u.pathname.endsWith('/manifest.json')) u.pathname = u.pathname.slice(0, -'manifest.json'.length);
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  u.hash = '';
  return u.href;
}

// listCachedModels returns the models with a record: their URL, name, the
// bytes cached and whether every weight chunk is present.
export async function listCachedModels() {
  const c = await openModelCache();
  if (!c) return [];
  const out = [];
  for (const r of await c.records()) {
    let cached = 0;
    let complete = (r.entries || []).length > 0;
    for (const e of r.entries || []) {
      if (await c.has(e.key)) cached += e.size || 0;
      else complete = false;
    }
    out.push({ url: r.url, name: r.name, architecture: r.architecture, bytes: r.bytes, cachedBytes: cached, complete, date: r.date });
  }
  return out;
}

// deleteCachedModel removes a model's record and every entry it lists.
export async function deleteCachedModel(url) {
  const c = await openModelCache();
  if (!c) return false;
  const key = normalizeSourceURL(url);
  const r = (await c.records()).find((x) => x.url === key);
  if (!r) return false;
  for (const e of r.entries || []) await c.delete(e.key);
  for (const k of r.small || []) await c.delete(k);
  await c.deleteRecord(key);
  return true;
}

// storageEstimate reports Cache Storage usage and quota where known.
export async function storageEstimate() {
  const nav = globalThis.navigator;
  if (!nav || !nav.storage || !nav.storage.estimate) return { usage: null, quota: null, persisted: null };
  const { usage = null, quota = null } = await nav.storage.estimate();
  let persisted = null;
  try {
    persisted = nav.storage.persisted ? await nav.storage.persisted() : null;
  } catch { /* not allowed here */ }
  return { usage, quota, persisted };
}
