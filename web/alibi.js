// alibi.js: run ALiBi language models (BLOOM) in the browser or Node with
// the Go engine compiled to WebAssembly. The public API (DESIGN.md §6):
//
//   import { loadModel } from './alibi.js';
//   const model = await loadModel(source, { onProgress, signal, quant: 'none' | 'int8', cache: true });
//   await model.tokenize(text); await model.detokenize(ids); await model.logits(ids);
//   for await (const { id, text } of model.generate(promptOrIds, { maxTokens, temperature, signal })) { … }
//   model.info; await model.dispose();
//
// All engine work happens in a dedicated worker (worker.js); this module
// only routes messages. Errors reject with an AlibiError whose .type is
// 'download' | 'integrity' | 'format' | 'unsupported' | 'memory' | 'context' | 'aborted'.

import { AlibiError, deserializeError, TYPES } from './loader/errors.js';
import {
  listCachedModels as listCached, deleteCachedModel as deleteCached, storageEstimate as estimateStorage,
} from './loader/cache.js';

export { AlibiError, TYPES as ERROR_TYPES };

export const VERSION = '0.1.0';

const isNode = typeof globalThis.process === 'object' && !!(globalThis.process.versions && globalThis.process.versions.node) &&
  typeof globalThis.window === 'undefined' && typeof globalThis.WorkerGlobalScope === 'undefined';

// workerURL finds worker.js next to this module, or under options.baseURL.
// In browsers without baseURL, startWorker uses the literal form instead
// (bundlers only recognize new Worker(new URL('./worker.js', import.meta.url))):
// a second literal here would make Vite and webpack also emit the unbundled
// worker as an asset (webpack's minimizer then fails on it), and webpack
// replaces a bare import.meta.url with the build machine's file: URL.
function workerURL(baseURL) {
  if (baseURL) return new URL('worker.js', new URL(baseURL, globalThis.location ? globalThis.location.href : undefined));
  const here = import.meta.url;
  return new URL('./worker.js', here);
}

// Port wraps a browser Worker or a Node worker_threads Worker.
async function startWorker(baseURL) {
  const url = workerURL(baseURL);
  if (isNode) {
    const { Worker } = await import(/* webpackIgnore: true */ 'node:worker_threads');
    const w = new Worker(url);
    let refs = 0;
    w.unref();
    return {
      post: (m, t) => w.postMessage(m, t),
      onMessage: (fn) => w.on('message', fn),
      onError: (fn) => w.on('error', fn),
      terminate: () => w.terminate(),
      // Keep Node alive only while a call is pending.
      ref: () => { if (refs++ === 0) w.ref(); },
      unref: () => { if (--refs === 0) w.unref(); },
    };
  }
  let w;
  const loc = globalThis.location;
  const crossOrigin = loc && url.origin !== loc.origin;
  if (!baseURL) {
    try {
      // The exact form Vite and webpack 5 recognize: they bundle worker.js with
      // its imports and rewrite the URL. Keep it literal and on one expression.
      w = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'alibi' });
    } catch (e) {
      // alibi.js imported from another origin (a CDN) without baseURL: a
      // worker script must be same-origin, so go through the blob below.
      if (!crossOrigin) throw e;
    }
  }
  if (!w && crossOrigin) {
    // A worker script must be same-origin: start a tiny same-origin module
    // that imports the real worker from the other origin (CORS applies).
    const src = `import ${JSON.stringify(url.href)};`;
    w = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })), { type: 'module', name: 'alibi' });
  } else if (!w) {
    w = new Worker(url, { type: 'module', name: 'alibi' });
  }
  return {
    post: (m, t) => w.postMessage(m, t || []),
    onMessage: (fn) => w.addEventListener('message', (e) => fn(e.data)),
    onError: (fn) => {
      w.addEventListener('error', (e) => { e.preventDefault(); fn(new Error(e.message || 'worker failed to start')); });
      w.addEventListener('messageerror', () => fn(new Error('worker message could not be decoded')));
    },
    terminate: () => w.terminate(),
    ref: () => {},
    unref: () => {},
  };
}

// RPC matches replies to calls by id.
class RPC {
  constructor(port) {
    this.port = port;
    this.next = 1;
    this.calls = new Map();
    this.dead = null;
    port.onMessage((m) => this.receive(m));
    port.onError((e) => this.fail(new AlibiError('unsupported', `alibi: worker error: ${e && e.message ? e.message : e}`)));
  }

  receive(m) {
    if (!m || m.id === undefined) return;
    const c = this.calls.get(m.id);
    if (!c) return;
    if (m.event) {
      if (c.onEvent) c.onEvent(m.event, m.data);
      return;
    }
    this.calls.delete(m.id);
    this.port.unref();
    if (m.ok) c.resolve(m.result);
    else c.reject(deserializeError(m.error));
  }

  fail(err) {
    this.dead = err;
    for (const c of this.calls.values()) {
      c.reject(err);
      this.port.unref();
    }
    this.calls.clear();
  }

  // call sends an operation; returns { id, promise }.
  start(op, args = {}, { onEvent, transfer } = {}) {
    const id = this.next++;
    if (this.dead) return { id, promise: Promise.reject(this.dead) };
    const promise = new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject, onEvent });
    });
    this.port.ref();
    this.port.post({ id, op, ...args }, transfer);
    return { id, promise };
  }

  call(op, args, opts) {
    return this.start(op, args, opts).promise;
  }

  abort(target) {
    if (!this.dead) this.port.post({ op: 'abort', target });
  }

  ack(target, consumed) {
    if (!this.dead) this.port.post({ op: 'ack', target, consumed });
  }

  // Returns what the port's terminate returns: in Node a promise of the
  // thread's end (see dispose).
  terminate(reason) {
    this.fail(reason || new AlibiError('aborted', 'alibi: the model was disposed'));
    return this.port.terminate();
  }
}

function abortReason(signal) {
  const r = signal && signal.reason;
  return new AlibiError('aborted', r && r.message ? `alibi: aborted: ${r.message}` : 'alibi: aborted');
}

// describeSource turns what the caller passed into something the worker
// can receive: { url }, { path } (Node) or { files }.
async function describeSource(source) {
  if (source && typeof source === 'object' && !(source instanceof URL)) {
    if (Array.isArray(source.files) || (source.files && typeof source.files.length === 'number')) {
      const files = Array.from(source.files);
      if (files.length === 0) throw new AlibiError('format', 'alibi: loadModel: { files } is empty');
      // Names travel separately: Node's worker_threads clone a File as a plain Blob.
      return { files, names: files.map((f) => String(f.name || '')) };
    }
    throw new AlibiError('format', 'alibi: loadModel: source must be a URL string, a URL, or { files: File[] }');
  }
  const s = String(source);
  if (/^https?:\/\//i.test(s) || /^file:/i.test(s)) return { url: new URL(s).href };
  if (globalThis.location && !isNode) return { url: new URL(s, globalThis.location.href).href };
  if (isNode) {
    const path = await import(/* webpackIgnore: true */ 'node:path');
    return { path: path.resolve(s) };
  }
  throw new AlibiError('format', `alibi: loadModel: cannot resolve source ${s}`);
}

// Compiled engines kept by this page: the Go module (and its kernels) a
// worker compiled, handed to the next worker so a second load in the page
// (another model, other options, a model loaded again after dispose) starts
// without compiling: V8 shares the module's code, functions already
// compiled and optimized included. Keyed by the worker's URL and thread
// build; dropped KEEP_ENGINE_MS after the page's last model is disposed,
// so a page done with models does not keep the code alive. Browsers only
// (Node's workers start from files and compile quickly).
const engines = new Map();
const KEEP_ENGINE_MS = 120000;
let liveModels = 0;
let dropTimer = null;

function engineKey(baseURL, threads) {
  return `${workerURL(baseURL).href}|${threads > 1 ? 'mt' : '1'}`;
}

function modelOpened() {
  liveModels++;
  if (dropTimer !== null) { clearTimeout(dropTimer); dropTimer = null; }
}

function modelClosed() {
  liveModels = Math.max(0, liveModels - 1);
  if (liveModels === 0 && engines.size > 0 && dropTimer === null) {
    dropTimer = setTimeout(() => { dropTimer = null; if (liveModels === 0) engines.clear(); }, KEEP_ENGINE_MS);
  }
}

/**
 * Loads a model. source: URL of a web directory (manifest.json) or of an
 * HF-style directory (config.json, tokenizer.json, model.safetensors or
 * index + shards), { files: File[] }, or in Node a directory path.
 */
export async function loadModel(source, options = {}) {
  const { onProgress, signal, baseURL, ...rest } = options;
  if (signal && signal.aborted) throw abortReason(signal);
  const src = await describeSource(source);
  const quant = rest.quant || 'none';
  if (quant !== 'none' && quant !== 'int8') throw new AlibiError('unsupported', `alibi: quant ${JSON.stringify(quant)}: want 'none' or 'int8'`);
  const port = await startWorker(baseURL);
  const rpc = new RPC(port);
  const opts = {
    quant, cache: rest.cache !== false, contextLength: rest.contextLength || 0, memoryLimit: rest.memoryLimit || 0,
    concurrency: rest.concurrency || 3, chunkSize: rest.chunkSize, simd: rest.simd !== false, progressInterval: rest.progressInterval,
    threads: rest.threads || 1,
  };
  let estimate = null;
  const key = engineKey(baseURL, opts.threads);
  const engine = isNode ? null : engines.get(key);
  modelOpened();
  const { promise } = rpc.start('load', { source: src, options: opts, engine }, {
    onEvent: (ev, data) => {
      if (ev === 'progress' && onProgress) {
        try { onProgress(data); } catch { /* the listener's problem */ }
      } else if (ev === 'estimate') {
        estimate = data;
      } else if (ev === 'engine' && !isNode && data && data.go instanceof WebAssembly.Module) {
        engines.set(key, data);
      }
    },
  });
  let onAbort = null;
  const aborted = new Promise((_, reject) => {
    if (!signal) return;
    onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const info = await Promise.race([promise, aborted]);
    return new Model(rpc, info, estimate);
  } catch (e) {
    // Terminating the worker frees its memory and stops its fetches; verified chunks stay cached.
    rpc.terminate(e instanceof AlibiError ? e : new AlibiError('aborted', String(e)));
    modelClosed();
    throw e;
  } finally {
    if (signal && onAbort) signal.removeEventListener('abort', onAbort);
  }
}

class Model {
  constructor(rpc, info, estimate) {
    this._rpc = rpc;
    this.info = Object.freeze({ ...info, estimate });
  }

  /** Token ids of text (special tokens added unless addSpecial is false). */
  async tokenize(text, { addSpecial = true } = {}) {
    const r = await this._rpc.call('tokenize', { text: String(text), addSpecial });
    return Array.from(r);
  }

  /** Text of ids. */
  async detokenize(ids, { skipSpecial = false } = {}) {
    return this._rpc.call('detokenize', { ids: Array.from(ids), skipSpecial });
  }

  /** Raw bytes of each token (the tokens view). */
  async tokenBytes(ids) {
    return this._rpc.call('tokenBytes', { ids: Array.from(ids) });
  }

  /** Logits of the last position of ids, or with { all: true } one Float32Array per position. */
  async logits(ids, { all = false } = {}) {
    const arr = Array.from(ids);
    const flat = await this._rpc.call('logits', { ids: arr, all });
    if (!all) return flat;
    const v = this.info.vocab;
    return arr.map((_, i) => flat.subarray(i * v, (i + 1) * v));
  }

  /** ALiBi slope of each head. */
  async slopes() {
    return this._rpc.call('slopes');
  }

  /** Memory in use: { wasmBytes, heapAlloc, ... }. */
  async memory() {
    return this._rpc.call('memory');
  }

  /**
   * Generates tokens: an async iterator of { id, text }. Options: maxTokens
   * (default 128), temperature (0 = greedy), topK, topP, minP,
   * repetitionPenalty, seed, stop (strings and/or ids), ignoreEOS, signal,
   * attention: { layer } (each item then carries .attention: one
   * Float32Array per head over the context, the newest query's attention in
   * that layer). After the loop, .stats holds token counts and timings.
   * Options not given default to the model's generation_config.json
   * (info.generationDefaults), as in transformers and `alibi run`; without
   * one, generation is greedy with no repetition penalty.
   */
  generate(promptOrIds, options = {}) {
    const rpc = this._rpc;
    const { signal, stop = [], ...given } = options;
    const o = { ...(this.info.generationDefaults || {}) };
    for (const [k, v] of Object.entries(given)) if (v !== undefined) o[k] = v;
    const stops = Array.isArray(stop) ? stop : [stop];
    const opts = {
      maxTokens: o.maxTokens ?? 128, temperature: o.temperature ?? 0, topK: o.topK || 0, topP: o.topP || 0,
      minP: o.minP || 0, repetitionPenalty: o.repetitionPenalty || 0, seed: o.seed || 0, ignoreEOS: !!o.ignoreEOS,
      stopIds: stops.filter((s) => typeof s === 'number'), stopStrings: stops.filter((s) => typeof s === 'string'),
      skipSpecial: o.skipSpecial !== false,
      attentionLayer: o.attention && Number.isInteger(o.attention.layer) ? o.attention.layer : -1,
    };
    const args = typeof promptOrIds === 'string' ? { prompt: promptOrIds, options: opts } : { ids: Array.from(promptOrIds), options: opts };
    const iter = {
      stats: null,
      [Symbol.asyncIterator]() { return this; },
    };
    const queue = [];
    let waiter = null;
    let finished = false; // the worker is done (or the loop was aborted)
    let ended = false; // the consumer was told done (or threw)
    let failure = null;
    let call = null;
    let consumed = 0;
    const wake = () => { if (waiter) { const w = waiter; waiter = null; w(); } };
    // On abort, tokens the worker already sent are dropped: the loop ends at
    // once with an 'aborted' error, and the worker stops within one token.
    const onAbort = () => {
      if (call) rpc.abort(call.id);
      queue.length = 0;
      if (!ended) {
        failure = abortReason(signal);
        finished = true;
      }
      wake();
    };
    const begin = () => {
      if (signal && signal.aborted) {
        failure = abortReason(signal);
        finished = true;
        return;
      }
      call = rpc.start('generate', args, {
        onEvent: (ev, data) => { if (ev === 'token') { queue.push(data); wake(); } },
      });
      if (signal) signal.addEventListener('abort', onAbort, { once: true });
      call.promise.then((stats) => { iter.stats = stats; }, (e) => { if (!failure) failure = e; })
        .finally(() => {
          finished = true;
          wake();
        });
    };
    const end = () => {
      ended = true;
      if (signal) signal.removeEventListener('abort', onAbort);
    };
    iter.next = async () => {
      if (!call && !finished) begin();
      for (;;) {
        if (signal && signal.aborted && !ended) {
          // An abort drops what is queued, even when the worker had finished.
          failure = abortReason(signal);
          queue.length = 0;
          break;
        }
        if (queue.length) {
          consumed++;
          if (!finished) rpc.ack(call.id, consumed);
          return { value: queue.shift(), done: false };
        }
        if (finished) break;
        await new Promise((r) => { waiter = r; });
      }
      end();
      if (failure) {
        const f = failure;
        failure = null;
        throw f;
      }
      return { value: undefined, done: true };
    };
    iter.return = async () => {
      if (call && !finished) {
        rpc.abort(call.id);
        await call.promise.catch(() => {});
      }
      queue.length = 0;
      finished = true;
      end();
      failure = null;
      return { value: undefined, done: true };
    };
    return iter;
  }

  /** Frees the model and stops its worker. */
  async dispose() {
    if (this._closed) return;
    this._closed = true;
    if (!this._rpc.dead) {
      try {
        await this._rpc.call('dispose');
      } catch { /* terminating anyway */ }
    }
    // In Node, wait for the worker thread to stop: a script that ends
    // right after dispose() otherwise tears the process down while V8 may
    // still be finishing the worker's wasm (a rare SIGSEGV at exit in Node
    // 20 after correct output, seen once in CI).
    await Promise.resolve(this._rpc.terminate()).catch(() => {});
    modelClosed();
  }
}

/** Models in the model cache: [{ url, name, bytes, cachedBytes, complete, date }]. */
export async function listCachedModels() {
  return listCached();
}

/** Removes a cached model (by the URL it was loaded from). */
export async function deleteCachedModel(url) {
  return deleteCached(url);
}

/** { usage, quota, persisted } of the origin's storage, where known. */
export async function storageEstimate() {
  return estimateStorage();
}

/**
 * Times the engine's f32 matvec kernel in a fresh worker: with simd true the
 * SIMD128 kernels (when kernels.wasm is served), with simd false the pure-Go
 * loops; threads > 1 splits it over kernel threads (cross-origin isolated
 * pages); cold cycles through 256 MiB of matrices so they come from main
 * memory, as in a decode step. For benchmarks; returns
 * { rows, cols, iters, nsPerOp, gflops, simd, simdBound, fma, cold, threads }.
 */
export async function benchKernels({ simd = true, threads = 1, rows = 1024, cols = 1024, ms = 300, cold = false, baseURL } = {}) {
  const rpc = new RPC(await startWorker(baseURL));
  try {
    return await rpc.call('benchMatVec', { simd, threads, rows, cols, ms, cold });
  } finally {
    rpc.terminate();
  }
}
