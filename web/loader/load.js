// A load: resolve a source into a plan (small files + the weight files cut
// into pieces), then stream the pieces through the scheduler into the
// engine's loader writers, checking each piece's SHA-256 before it reaches
// the engine and keeping verified pieces in Cache Storage.
//
// The engine is an object with the methods of the Go namespace (see
// wasm/main.go), adapted by the worker: beginLoad, setTokenizer, setIndex,
// openFile, write, closeFile, finish, abortLoad. Tests pass a fake.

import { AlibiError, abortError, throwIfAborted, toAlibiError } from './errors.js';
import { httpFetcher, nodeFetcher, filesFetcher, readBody, fetchHelper, etags } from './fetchers.js';
import { parseManifest } from './manifest.js';
import { headerLength, parseHeader } from './safetensors.js';
import { sha256Hex, isSha256Hex } from './sha256.js';
import { runPipeline } from './scheduler.js';
import { chunkKey, rangeKey, prefixKey, compactKey, normalizeSourceURL, digests } from './cache.js';

export const DEFAULT_PIECE_SIZE = 8 << 20;

// autoPieceSize cuts a file into pieces of DEFAULT_PIECE_SIZE, or into about
// eight pieces of at least 1 MiB when it is smaller than 64 MiB, so that
// reading piece i+1 overlaps the engine converting piece i even for a small
// model.
export function autoPieceSize(total) {
  const eighth = Math.ceil(total / 8 / 65536) * 65536;
  return Math.min(DEFAULT_PIECE_SIZE, Math.max(1 << 20, eighth));
}
const now = () => (globalThis.performance ? performance.now() : Date.now());
const yieldTask = () => new Promise((resolve) => setTimeout(resolve, 0));
const MAX_PUTS = 4; // cache writes of pieces pending at once (see runLoad)

// fetcherFor turns a message-safe source description into a fetcher:
// { url } (http/https/file URL of a directory), { path } (Node directory),
// { files } (File objects).
export async function fetcherFor(source) {
  if (source.files) {
    const names = source.files.map((f, i) => (source.names && source.names[i]) || f.name);
    return { fx: filesFetcher(source.files, names), key: 'files:' + [...names].sort().join(',') };
  }
  if (source.path) return { fx: await nodeFetcher(source.path), key: source.path };
  const u = new URL(source.url);
  if (u.protocol === 'file:') {
    const { fileURLToPath } = await import(/* webpackIgnore: true */ 'node:url');
    let p = fileURLToPath(u);
    if (p.endsWith('/manifest.json')) p = p.slice(0, -'manifest.json'.length);
    return { fx: await nodeFetcher(p), key: u.href };
  }
  const key = normalizeSourceURL(u.href);
  // Weight pieces are read by the fetch helper (its own thread) unless the
  // caller supplies its own fetch.
  return { fx: httpFetcher(key, source.fetch ? { fetch: source.fetch } : { helper: fetchHelper() }), key };
}

// getSmall fetches a small file network-first, falling back to the cache
// when the network fails. The cached copy is refreshed in the background
// (opt.puts collects the writes; runLoad waits for them at the end) and
// only when the file changed: the cache entry keeps the response's ETag.
async function getSmall(fx, name, { cache, signal, optional = false, small, puts }) {
  const url = fx.url(name);
  try {
    const bytes = await fx.get(name, signal, { optional });
    if (bytes && cache && fx.cacheable) {
      if (small) small.add(url);
      const put = refreshSmall(cache, url, bytes, etags.get(bytes));
      if (puts) puts.push(put);
      else await put;
    }
    return bytes;
  } catch (e) {
    const err = toAlibiError(e, 'download');
    if (err.type === 'download' && cache && fx.cacheable) {
      const hit = await cache.get(url);
      if (hit) {
        if (small) small.add(url);
        return hit.bytes;
      }
      // Offline and never cached: an optional file counts as absent.
      if (optional && !(signal && signal.aborted)) return null;
    }
    throw err;
  }
}

async function refreshSmall(cache, url, bytes, etag) {
  try {
    if (etag) {
      const old = await cache.response(url);
      if (old) {
        const same = old.headers.get('x-alibi-etag') === etag && old.headers.get('content-length') === String(bytes.length);
        old.body?.cancel().catch(() => {});
        if (same) return;
      }
    }
    await cache.put(url, bytes, etag ? { 'x-alibi-etag': etag } : {});
  } catch { /* the cache is a convenience here: the load goes on without it */ }
}

// generationDefaults reads the sampling defaults of a generation_config.json
// (Hugging Face keys) as generate() options, the way transformers and
// `alibi run` apply them: temperature/top-k/top-p unless do_sample is false,
// the repetition penalty always. A missing or unreadable file gives {}.
export function generationDefaults(bytes) {
  if (!bytes) return {};
  let g;
  try {
    g = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return {};
  }
  if (!g || typeof g !== 'object') return {};
  const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const out = {};
  if (g.do_sample !== false) {
    if (num(g.temperature) !== undefined) out.temperature = g.temperature;
    if (num(g.top_k) !== undefined) out.topK = g.top_k;
    if (num(g.top_p) !== undefined) out.topP = g.top_p;
  }
  if (num(g.repetition_penalty) !== undefined) out.repetitionPenalty = g.repetition_penalty;
  return out;
}

function json(bytes, name) {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new AlibiError('format', `alibi: ${name}: not JSON: ${e.message}`);
  }
}

// resolvePlan reads the small files of a source and describes its weight
// files as pieces. It downloads no weight bytes: an HF checkpoint's
// safetensors headers (two small Range requests per file) are read once the
// engine has accepted the config (plan.resolveFiles), or at once when the
// cache holds the whole model (plan.early). A model the cache holds whole
// is planned from the cache alone (planCached).
export async function resolvePlan(source, { cache = null, signal, pieceSize = 0 } = {}) {
  const { fx, key } = await fetcherFor(source);
  const small = new Set();
  const puts = [];
  const opt = { cache, signal, small, puts };
  const useCache = !!(cache && fx.cacheable && cache.record);
  const prior = useCache ? cache.record(key).catch(() => null) : Promise.resolve(null);
  if (useCache) {
    const plan = await planCached(fx, key, { ...opt, prior, pieceSize });
    if (plan) return plan;
  }
  // The small files both layouts have are requested at once (a web
  // directory's manifest names its config and tokenizer, which are
  // config.json and tokenizer.json as `alibi convert --to web` writes
  // them): one round trip instead of four in a row. A request made on
  // speculation and not needed is dropped. The index of a sharded HF
  // checkpoint is asked for once there is no manifest (a web directory
  // has none, and a page should see no failed request).
  const asked = new Map();
  const get = (name, optional = false) => {
    const k = `${optional}:${name}`;
    if (!asked.has(k)) {
      const p = getSmall(fx, name, { ...opt, optional });
      p.catch(() => {}); // awaited when needed; unneeded failures are dropped
      asked.set(k, p);
    }
    return asked.get(k);
  };
  const manifest = get('manifest.json', true);
  get('config.json');
  get('tokenizer.json');
  get('generation_config.json', true);
  const manifestBytes = await manifest;
  const plan = manifestBytes
    ? await planWeb(fx, key, parseManifest(manifestBytes), get, small)
    : await planHF(fx, key, get, { ...opt, prior }, small, pieceSize);
  plan.puts = puts;
  return plan;
}

// planCached plans a model the cache holds whole (its record is complete
// and not marked stale) from the cache alone: its small files and
// safetensors headers are read there, and no request waits on the network,
// as wllama loads a cached model (ModelManager.getModelOrDownload). Whether the
// source changed is asked after the load (plan.revalidate, started by
// runLoad once the model is ready): the same small files, and the first 8
// bytes of each weight file (its size, ETag and header length), compared
// with the cached copies without writing to the cache; a change marks the
// record stale, and the next load is planned from the network. A new
// tab's load of the cached bundled model in Chromium here, against the
// network-first plan (medians of interleaved pairs): 0.58x the time with
// 80 ms of emulated latency (the network-first plan waits for its requests,
// two of them one after the other), 0.975x on localhost. Returns null when
// the cache lacks a file the plan needs: the caller plans from the network.
async function planCached(fx, key, { cache, signal, small, puts, prior, pieceSize }) {
  // The cache is asked for every small file a plan may need at once, with the record.
  const hits = new Map();
  const hit = (k) => {
    if (!hits.has(k)) hits.set(k, (async () => cache.get(k))().catch(() => null));
    return hits.get(k);
  };
  for (const name of ['manifest.json', 'config.json', 'tokenizer.json', 'generation_config.json', 'model.safetensors.index.json']) hit(fx.url(name));
  hit(prefixKey(fx.url('model.safetensors')));
  const rec = await prior;
  if (!rec || rec.complete !== true || rec.stale || !Array.isArray(rec.small)) return null;
  const listed = new Set(rec.small);
  const used = []; // [name, cached bytes or null]
  const cached = async (name, optional = false) => {
    const url = fx.url(name);
    const h = listed.has(url) ? await hit(url) : null;
    if (!h && (listed.has(url) || !optional)) throw new NotCached(url);
    used.push([name, h ? h.bytes : null]);
    if (!h) return null; // absent when the model was cached
    small.add(url);
    return h.bytes;
  };
  const heads = []; // [name, total, etag, first 8 bytes]
  const prefix = async (fx2, name) => {
    const k = prefixKey(fx2.url(name));
    const h = listed.has(k) ? await hit(k) : null;
    if (!h) throw new NotCached(k);
    small.add(k);
    const total = Number(h.headers.get('x-alibi-total'));
    const etag = h.headers.get('x-alibi-etag') || '';
    heads.push([name, total, etag, h.bytes.subarray(0, 8)]);
    return { bytes: h.bytes, total, etag };
  };
  let plan;
  try {
    const manifestBytes = await cached('manifest.json', true);
    plan = manifestBytes
      ? await planWeb(fx, key, parseManifest(manifestBytes), cached, small)
      : await planHF(fx, key, cached, { cache, signal, small, puts, prior, prefix }, small, pieceSize);
    // An HF plan's headers come from the cache: one missing means a network plan.
    if (plan.early && (await plan.early.catch((e) => e)) instanceof NotCached) return null;
  } catch (e) {
    if (e instanceof NotCached) return null;
    throw e;
  }
  plan.puts = puts;
  plan.prior = plan.prior || prior;
  plan.fromCache = true; // planned from the cache alone (runLoad reads ahead further)
  // revalidate resolves to whether the source still serves what the cache
  // holds; a question the network cannot answer (offline) counts as yes.
  plan.revalidate = async (sig) => {
    const same = async (ask, eq) => {
      try {
        return eq(await ask());
      } catch (e) {
        const type = toAlibiError(e, 'download').type;
        return type === 'download' || type === 'aborted';
      }
    };
    const answers = await Promise.all([
      ...used.map(([name, bytes]) => same(() => fx.get(name, sig, { optional: true }), (b) => (bytes ? sameBytes(b, bytes) : b == null))),
      ...heads.map(([name, total, etag, len]) => same(() => readLength(fx, name, sig),
        (r) => r.total === total && r.etag === etag && sameBytes(r.lenBytes, len))),
    ]);
    return answers.every(Boolean);
  };
  return plan;
}

class NotCached extends Error {}

function sameBytes(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function planWeb(fx, key, man, get, small) {
  const [config, tokenizer, index, generationBytes] = await Promise.all([
    get(man.model.config), get(man.model.tokenizer), man.model.index ? get(man.model.index) : null, get('generation_config.json', true),
  ]);
  const generation = generationDefaults(generationBytes);
  const files = man.files.map((f) => ({
    name: f.name,
    size: f.size,
    sha256: f.sha256,
    pieces: f.chunks.map((c) => ({
      label: c.path,
      size: c.size,
      sha256: c.sha256,
      cacheKey: fx.cacheable ? chunkKey(fx.url(c.path), c.sha256) : null,
      open: (signal, o) => fx.open(c.path, signal, o),
    })),
  }));
  return { kind: 'web', key, fx, config, tokenizer, index, generation, files, small, totalBytes: man.totalBytes, name: nameOf(key) };
}

function nameOf(key) {
  const parts = String(key).replace(/\/+$/, '').split(/[/\\]/);
  return parts[parts.length - 1] || String(key);
}

function validatorOf(etag) {
  const v = String(etag || '').replace(/^W\//, '').replace(/"/g, '');
  return v;
}

// readLength reads a safetensors file's first 8 bytes (its header length)
// with one Range request, and the file's size and ETag.
async function readLength(fx, name, signal) {
  const r = await fx.open(name, signal, { start: 0, end: 8 });
  return { lenBytes: await readBody(r, 8, signal), total: r.total, etag: r.etag || '' };
}

// readPrefix reads a safetensors file's header with two Range requests
// (the 8-byte length, then the header), so no weight byte is fetched just to
// plan the load; it also learns the file's size and validator.
async function readPrefix(fx, name, { cache, signal, small, puts }) {
  const url = fx.url(name);
  try {
    const { lenBytes, total, etag } = await readLength(fx, name, signal);
    const n = headerLength(lenBytes, name);
    if (total !== undefined && total < 8 + n) {
      throw new AlibiError('format', `alibi: ${name}: truncated: ${total} bytes, the header alone is ${8 + n}`);
    }
    const r2 = await fx.open(name, signal, { start: 8, end: 8 + n });
    const hdr = await readBody(r2, n, signal);
    const bytes = new Uint8Array(8 + hdr.length);
    bytes.set(lenBytes.subarray(0, 8));
    bytes.set(hdr.subarray(0, n), 8);
    if (cache && fx.cacheable && total !== undefined) {
      const put = cache.put(prefixKey(url), bytes, { 'x-alibi-total': String(total), 'x-alibi-etag': etag }).catch(() => {});
      if (puts) puts.push(put);
      else await put;
      small.add(prefixKey(url));
    }
    return { bytes, total, etag };
  } catch (e) {
    const err = toAlibiError(e, 'download');
    if (err.type === 'download' && cache && fx.cacheable) {
      const hit = await cache.get(prefixKey(url));
      if (hit) {
        small.add(prefixKey(url));
        return { bytes: hit.bytes, total: Number(hit.headers.get('x-alibi-total')), etag: hit.headers.get('x-alibi-etag') || '' };
      }
    }
    throw err;
  }
}

async function planHF(fx, key, get, opt, small, pieceSize) {
  // Whether the cache holds this whole model (its config was accepted
  // before), asked with the index: then the safetensors headers are read
  // now (plan.early), not after the engine accepted the config.
  const prior = opt.prior || Promise.resolve(null);
  // Headers the cache holds (opt.prefix) are read at once too.
  const known = opt.prefix ? Promise.resolve(true) : prior.then((r) => !!(r && r.complete));
  const prefixOf = opt.prefix || readPrefix;
  const index = await get('model.safetensors.index.json', true);
  let names = ['model.safetensors'];
  if (index) {
    const idx = json(index, 'model.safetensors.index.json');
    if (!idx || typeof idx.weight_map !== 'object' || idx.weight_map === null) throw new AlibiError('format', 'alibi: model.safetensors.index.json: no weight_map');
    names = [...new Set(Object.values(idx.weight_map))].sort();
  }
  // The weight files are described only once the engine accepted the
  // config (runLoad calls resolveFiles after beginLoad): an unsupported or
  // too large model costs no request to a safetensors file. A model the
  // cache holds whole was accepted before: its headers are read at once
  // (plan.early), while the engine boots; a returning visitor's load then
  // waits for none of these requests after the engine started.
  const resolveFiles = async () => {
    const files = [];
    for (const name of names) {
      const { bytes, total, etag } = await prefixOf(fx, name, opt);
      if (total === undefined) throw new AlibiError('download', `alibi: ${fx.url(name)}: the server did not say how large the file is`);
      const hdr = parseHeader(bytes, { name, fileSize: total });
      const validator = validatorOf(etag);
      const sha = isSha256Hex(validator) ? validator : undefined;
      const pieces = [];
      const size = pieceSize > 0 ? pieceSize : autoPieceSize(total);
      for (let a = 0; a < total; a += size) {
        const b = Math.min(total, a + size);
        pieces.push({
          label: `${name} bytes ${a}-${b - 1}`,
          size: b - a,
          sha256: undefined,
          cacheKey: fx.cacheable && validator ? rangeKey(fx.url(name), validator, a, b) : null,
          open: (signal, o) => fx.open(name, signal, { ...o, start: a, end: b }),
        });
      }
      files.push({ name, size: total, sha256: sha, pieces, tensors: hdr.tensors.length });
    }
    return files;
  };
  const early = known.then((k) => (k ? resolveFiles() : null));
  early.catch(() => {}); // awaited by runLoad
  const [config, tokenizer, generationBytes] = await Promise.all([
    get('config.json'), get('tokenizer.json'), get('generation_config.json', true),
  ]);
  const generation = generationDefaults(generationBytes);
  return { kind: 'hf', key, fx, config, tokenizer, index, generation, files: null, early, prior, resolveFiles, small, totalBytes: 0, name: nameOf(key) };
}

// storageFits reports whether the origin's free storage quota can hold
// bytes more (true when the browser does not say).
async function storageFits(bytes) {
  const st = globalThis.navigator && globalThis.navigator.storage;
  if (!st || !st.estimate) return true;
  try {
    const { usage = 0, quota } = await st.estimate();
    return quota === undefined || quota - usage >= bytes;
  } catch {
    return true;
  }
}

// CACHED_READ_AHEAD bounds the bytes a load from the cache reads ahead of
// the engine (at least `concurrency` pieces).
const CACHED_READ_AHEAD = 8 << 20;

// limiter lets n holders at a time through acquire(signal); a waiter whose
// signal aborts rejects.
function limiter(n) {
  let busy = 0;
  const waiting = [];
  return {
    async acquire(signal) {
      while (busy >= n) {
        throwIfAborted(signal);
        await new Promise((resolve) => {
          waiting.push(resolve);
          if (signal) signal.addEventListener('abort', resolve, { once: true });
        });
      }
      throwIfAborted(signal);
      busy++;
    },
    release() {
      busy--;
      const next = waiting.shift();
      if (next) next();
    },
  };
}

// BufferPool recycles the chunk buffers: a load holds at most
// `concurrency` chunks, and reusing their memory keeps the page's peak
// close to that instead of leaving every chunk to the garbage collector.
export class BufferPool {
  constructor(max = 4) {
    this.max = max;
    this.free = [];
    this.allocated = 0;
  }

  take(n) {
    const i = this.free.findIndex((b) => b.byteLength >= n);
    if (i >= 0) return new Uint8Array(this.free.splice(i, 1)[0], 0, n);
    this.allocated++;
    return new Uint8Array(n);
  }

  give(u8) {
    if (!u8 || u8.byteOffset !== 0 || u8.buffer.byteLength === 0) return;
    if (this.free.length < this.max && !this.free.includes(u8.buffer)) this.free.push(u8.buffer);
  }
}

// sameModel reports whether the cache record r describes the model of
// record (a record being built) and says the cache holds all of it.
function sameModel(r, record) {
  if (!r || r.complete !== true) return false;
  const { url, name, architecture, bytes, small, entries } = record;
  return r.url === url && r.name === name && r.architecture === architecture && r.bytes === bytes
    && Array.isArray(r.small) && JSON.stringify([...r.small].sort()) === JSON.stringify([...small].sort())
    && JSON.stringify(r.entries) === JSON.stringify(entries);
}

// tokenizerSetter gives the engine a model's tokenizer. The engine reads
// tokenizer.json with Go code that a new tab runs for the first time, in
// V8's baseline compiler: 30-50 ms of a returning visitor's load of the
// bundled model (a 150 KB file), most of it the vocab and merges. Asked, it
// also answers with the tokenizer's compact form (tokenizer/compact.go: the
// vocab and merges as binary tables), which is kept in the cache next to the
// model with the SHA-256 of the tokenizer.json it stands for and the
// engine's build, and given to the engine instead on a later load of the
// same file by the same build. A compact form that does not match, fails
// its own SHA-256 or is refused by the engine is replaced from
// tokenizer.json. set(load, storing) resolves once the engine has the
// tokenizer; `stored` once a new compact form is in the cache.
function tokenizerSetter(plan, engine, cache, progress) {
  const build = engine.build || '';
  if (!cache || !build) {
    return { set: (load) => engine.setTokenizer(load, plan.tokenizer), stored: Promise.resolve() };
  }
  const key = compactKey(plan.fx.url('tokenizer.json'));
  plan.small.add(key); // listed in the model's record, deleted with it
  // Looked up and checked now, while the engine boots.
  const source = sha256Hex(plan.tokenizer);
  source.catch(() => {}); // awaited in set
  const usable = Promise.all([cache.get(key).catch(() => null), source]).then(async ([h, sha]) => (
    h && h.headers.get('x-alibi-source') === sha && h.headers.get('x-alibi-build') === build
      && (await sha256Hex(h.bytes)) === h.headers.get('x-alibi-sha256') ? h.bytes : null
  )).catch(() => null);
  let stored = Promise.resolve();
  const set = async (load, storing) => {
    const compact = await usable;
    const sha = await source.catch(() => null);
    if (compact) {
      try {
        await engine.setTokenizer(load, compact, { compact: true });
        progress.count('compactTokenizer', 1);
        return;
      } catch { /* refused: read tokenizer.json, and keep its compact form */ }
    }
    // Asked for only when it can be kept (the engine builds it for nothing otherwise).
    const c = await engine.setTokenizer(load, plan.tokenizer, { wantCompact: !!sha && storing() });
    if (c && c.length && storing()) {
      stored = sha256Hex(c).then((digest) => cache.put(key, c, {
        'x-alibi-source': sha, 'x-alibi-build': build, 'x-alibi-sha256': digest,
      })).catch(() => {});
    }
  };
  return { set, get stored() { return stored; } };
}

// runLoad streams a plan into the engine. Options: quant, contextLength,
// memoryLimit, concurrency (2-4), cache (openModelCache() or null),
// progress (createProgress()), signal, onEstimate.
//
// The engine may still be booting when runLoad starts (its methods wait):
// pieces found in the cache are read meanwhile (once a plan of a model the
// cache holds whole has its safetensors headers: plan.early). Nothing goes
// to the network for a weight file before the engine accepted the config
// and its memory estimate.
export async function runLoad(plan, engine, {
  quant = 'none', contextLength = 0, memoryLimit = 0, concurrency = 3, cache = null, progress, signal, onEstimate, onHeld,
} = {}) {
  throwIfAborted(signal);
  const configText = new TextDecoder().decode(plan.config);
  const accepted = Promise.resolve().then(() => engine.beginLoad(configText, { quant, contextLength, memoryLimit })).then((b) => {
    if (onEstimate) onEstimate(b);
    return b;
  });
  accepted.catch(() => {}); // awaited below
  const useCache = cache && plan.fx.cacheable;
  let cacheOK = !!useCache;
  const tokenizer = tokenizerSetter(plan, engine, useCache ? cache : null, progress);
  // The cache's record of this model as it was (plan.prior, or asked now).
  const prior = useCache
    ? Promise.resolve(plan.prior || (cache.record ? cache.record(plan.key) : null)).catch(() => null)
    : Promise.resolve(null);
  try {
    if (!plan.files) {
      let files = plan.early ? await plan.early : null;
      if (!files) {
        await accepted;
        files = await plan.resolveFiles();
      }
      plan.files = files;
      plan.totalBytes = plan.files.reduce((s, f) => s + f.size, 0);
    }
    progress.setTotal(plan.totalBytes);
    // Not enough quota for the whole model: load it without caching rather
    // than fill the storage with a model that cannot fit. Asked now, needed
    // only before the first piece is stored (a load from the cache stores none).
    const fits = cacheOK ? storageFits(plan.totalBytes) : null;
    const checkFits = async () => {
      if (fits && cacheOK && !(await fits)) {
        cacheOK = false;
        progress.count('cacheErrors', 1);
      }
    };
    progress.report('download', plan.files[0] && plan.files[0].name, 0, { force: true });

    const items = [];
    plan.files.forEach((f, fi) => f.pieces.forEach((p, pi) => items.push({ file: f, fi, piece: p, first: pi === 0, last: pi === f.pieces.length - 1 })));

    // The engine's set-up once it accepted the config: tokenizer, index and
    // empty files. It starts a task after the answer, so the first piece
    // requests go out before the tokenizer keeps this thread busy for a
    // while; pieces reach the engine after it.
    const setup = accepted.then(async ({ load }) => {
      if (items.length) await yieldTask();
      await tokenizer.set(load, () => cacheOK);
      if (plan.index) await engine.setIndex(load, plan.index);
      // Empty files have no pieces: open and close them up front.
      for (const f of plan.files) {
        if (f.pieces.length === 0) {
          const fid = await engine.openFile(load, f.name, f.size, !!f.sha256);
          await engine.closeFile(fid, f.sha256 || '');
        }
      }
    });
    setup.catch(() => {}); // awaited below
    // A model planned from the cache alone reads ahead further: its pieces
    // come from the private file system in a few milliseconds each, and a
    // read that waits for the engine's previous write leaves the engine
    // idle in between.
    const maxPiece = items.reduce((m, it) => Math.max(m, it.piece.size), 0);
    const ahead = plan.fromCache && maxPiece > 0
      ? Math.max(concurrency, Math.min(items.length, Math.floor(CACHED_READ_AHEAD / maxPiece)))
      : concurrency;
    const pool = new BufferPool(ahead);
    // Pieces such a load does not find in the cache after all (evicted,
    // unreadable) still go to the network `concurrency` at a time.
    const net = limiter(concurrency);
    // Verified pieces go to the cache alongside the load: a put copies the
    // bytes as it starts (for the store helper, or a Response made from
    // them), so the buffer goes on to the engine while the copy is written.
    // At most MAX_PUTS copies wait to be written.
    const puts = new Set();
    const store = async (key, bytes) => {
      while (puts.size >= MAX_PUTS) await Promise.race(puts);
      const put = cache.put(key, bytes).catch(() => {
        cacheOK = false; // quota exceeded or similar: keep loading without caching
        progress.count('cacheErrors', 1);
      });
      puts.add(put);
      put.then(() => puts.delete(put));
    };
    const fetchPiece = async ({ piece }, _i, sig) => {
      let counted = 0;
      const count = (kind) => (n) => {
        const add = Math.max(0, Math.min(n, piece.size - counted));
        counted += add;
        progress.count(kind, add);
        progress.report(kind === 'cached' ? 'verify' : 'download', piece.label, add);
      };
      // Pieces are looked for in the cache when it has a record of this
      // model (whole, or an interrupted load's, written as that load got
      // going); a first visit goes straight to the network instead of
      // asking the cache for each piece first (pieces stored by a load cut
      // short before its record was written are fetched again).
      if (useCache && piece.cacheKey && (await prior)) {
        const buf = pool.take(piece.size);
        const bytes = await cache.readInto(piece.cacheKey, piece.size, buf, sig, { hash: !!piece.sha256 }).catch(() => {
          throwIfAborted(sig);
          return new Uint8Array(0); // unreadable: fetched again below
        });
        if (bytes) {
          const ok = bytes.length === piece.size && (!piece.sha256 || (digests.get(bytes) || (await sha256Hex(bytes))) === piece.sha256);
          if (ok) {
            count('cached')(bytes.length);
            return bytes;
          }
          await cache.delete(piece.cacheKey).catch(() => {});
        }
        pool.give(bytes && bytes.buffer.byteLength > 0 ? bytes : buf); // buf is detached when the helper read it
      }
      await accepted; // no weight bytes from the network before the engine said yes
      await net.acquire(sig);
      try {
        return await fetchNetwork(piece, sig, count);
      } finally {
        net.release();
      }
    };
    const fetchNetwork = async (piece, sig, count) => {
      for (let attempt = 0; ; attempt++) {
        throwIfAborted(sig);
        const buf = pool.take(piece.size);
        const onBytes = count('network');
        const res = await piece.open(sig, { reload: attempt > 0, into: buf, onBytes });
        const bytes = await readBody(res, piece.size, sig, onBytes, buf);
        if (bytes.buffer !== buf.buffer) pool.give(buf);
        if (piece.sha256) {
          progress.report('verify', piece.label, 0);
          const got = bytes.length === piece.size ? await sha256Hex(bytes) : `(${bytes.length} bytes instead of ${piece.size})`;
          if (got !== piece.sha256) {
            pool.give(bytes);
            if (attempt === 0) continue;
            throw new AlibiError('integrity', `alibi: chunk ${piece.label}: sha256 ${got}, want ${piece.sha256} (fetched twice)`);
          }
        } else if (bytes.length !== piece.size) {
          throw new AlibiError(bytes.length < piece.size ? 'format' : 'download',
            `alibi: ${piece.label}: got ${bytes.length} bytes, want ${piece.size}${bytes.length < piece.size ? ': truncated file?' : ''}`);
        }
        await checkFits();
        if (cacheOK && piece.cacheKey) await store(piece.cacheKey, bytes);
        return bytes;
      }
    };

    let fid = 0;
    const consume = async ({ file, piece, first, last }, bytes) => {
      try {
        await setup;
        await consumePiece({ file, piece, first, last }, bytes);
      } finally {
        pool.give(bytes); // the engine copied the bytes into its own memory
      }
    };
    const consumePiece = async ({ file, piece, first, last }, bytes) => {
      if (first) {
        // The engine hashes the whole file only when no chunk hash covers its bytes.
        const hash = !!file.sha256 && file.pieces.some((p) => !p.sha256);
        fid = await engine.openFile((await accepted).load, file.name, file.size, hash);
      }
      const t = now();
      await engine.write(fid, bytes);
      progress.count('engineMs', Math.round(now() - t));
      progress.count('written', bytes.length);
      progress.report('load', piece.label, 0);
      if (last) {
        progress.report('verify', file.name, 0);
        await engine.closeFile(fid, file.sha256 || '');
      }
    };

    const pipeline = runPipeline(items, { concurrency: ahead, fetch: fetchPiece, consume, signal, onHeld });
    pipeline.catch(() => {}); // awaited below
    const begin = await accepted;
    const record = useCache ? {
      url: plan.key, name: plan.name, architecture: begin.architecture, bytes: plan.totalBytes, complete: false,
      date: new Date().toISOString(), small: [...plan.small],
      entries: plan.files.flatMap((f) => f.pieces.filter((p) => p.cacheKey).map((p) => ({ key: p.cacheKey, size: p.size }))),
    } : null;
    // The record of an incomplete model (so an interrupted load is listed
    // and resumes) is written while the pieces load, unless the cache holds
    // this model whole already (the same pieces); the final one after it.
    const whole = !!record && sameModel(await prior, record);
    const firstRecord = record && !whole ? cache.putRecord(plan.key, record).catch(() => {}) : null;
    let setupError = null;
    await setup.catch((e) => { setupError = e; });
    await pipeline.catch((e) => { if (!setupError) throw e; }); // the set-up's error names the first problem
    if (setupError) throw setupError;
    progress.report('load', plan.files.length ? plan.files[plan.files.length - 1].name : null, 0, { force: true });
    throwIfAborted(signal);
    const done = await engine.finish(begin.load);
    await Promise.all([...(plan.puts || []), firstRecord, ...puts, tokenizer.stored]);
    const last = record ? cache.putRecord(plan.key, { ...record, complete: cacheOK, date: new Date().toISOString() }).catch(() => {}) : null;
    // A model planned from the cache and found whole there only has the
    // date of its record refreshed: a write cut short (the worker ended)
    // leaves the record as it was, so the load does not wait for it.
    const refreshOnly = !!plan.fromCache && cacheOK && whole;
    if (last && !refreshOnly) await last;
    progress.report('ready', null, 0);
    if (plan.revalidate && useCache) {
      // In the background: a changed source is loaded from the network next time.
      plan.revalidated = Promise.resolve(last).then(() => plan.revalidate()).then(async (fresh) => {
        if (!fresh) await cache.putRecord(plan.key, { ...record, complete: cacheOK, stale: true, date: new Date().toISOString() });
        return fresh;
      }).catch(() => true);
    }
    return { ...done, estimate: begin.estimate, limit: begin.limit, cached: cacheOK };
  } catch (e) {
    // The engine's load (if it began) is dropped with what it holds.
    const b = await accepted.catch(() => null);
    if (b) await Promise.resolve(engine.abortLoad(b.load)).catch(() => {});
    progress.close();
    if (signal && signal.aborted) throw abortError(signal);
    throw toAlibiError(e);
  }
}
