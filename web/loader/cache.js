// Cache Storage for model files. Weight chunks are immutable and keyed by
// their URL plus their SHA-256 (or, for Range pieces of an HF checkpoint
// without a manifest, URL + validator + byte range), so a changed file never
// matches an old entry. Small files (manifest, config, tokenizer) are
// network-first with the cached copy as the offline fallback. One record per
// model lists its entries for listCachedModels / deleteCachedModel.

import { fetchHelper, readBody } from './fetchers.js';

export const CACHE_NAME = 'alibi-models-v1';
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

export function recordKey(sourceURL) {
  return withParams(sourceURL, { [RECORD_PARAM]: '1' });
}

export function cacheAvailable() {
  return typeof globalThis.caches !== 'undefined' && globalThis.caches !== null;
}

// openModelCache returns a small wrapper over one Cache, or null where
// Cache Storage does not exist (Node, insecure contexts).
export async function openModelCache(name = CACHE_NAME) {
  if (!cacheAvailable()) return null;
  let cache;
  try {
    cache = await caches.open(name);
  } catch {
    return null;
  }
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
    // its own thread while this one feeds the engine.
    async readInto(key, size, into, signal) {
      const helper = await fetchHelper();
      if (helper) {
        const r = await helper.readCached(name, key, size, { into, signal });
        return r && r.bytes;
      }
      const res = await cache.match(key);
      if (!res) return null;
      return readBody({ body: res.body }, size, signal, () => {}, into);
    },
    async has(key) {
      return !!(await cache.match(key));
    },
    async put(key, bytes, headers = {}) {
      await cache.put(key, new Response(bytes, {
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length), ...headers },
      }));
    },
    async delete(key) {
      return cache.delete(key);
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
