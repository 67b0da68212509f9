// The alibi runtime worker: a dedicated Web Worker (or a Node worker_threads
// worker) that hosts the Go engine (wasm_exec.js + alibi.wasm + the SIMD
// kernels) and does all the heavy work: downloads, SHA-256 checks, the
// cache, loading, tokenizing and generating. alibi.js on the main thread
// only routes messages here.
//
// Messages in:  { id, op, ...args }   and   { op: 'abort', target }
// Messages out: { id, event, data }   (progress, token)
//               { id, ok: true, result } | { id, ok: false, error: { type, message } }

import { AlibiError, serializeError, toAlibiError } from './loader/errors.js';
import { createProgress } from './loader/progress.js';
import { resolvePlan, runLoad } from './loader/load.js';
import { openModelCache } from './loader/cache.js';

// PROTOCOL must equal ProtocolVersion in wasm/api.go.
export const PROTOCOL = 1;

const isNode = typeof globalThis.process === 'object' && !!(globalThis.process.versions && globalThis.process.versions.node) &&
  typeof globalThis.WorkerGlobalScope === 'undefined';

let port;
if (isNode) {
  const { parentPort } = await import(/* webpackIgnore: true */ 'node:worker_threads');
  port = {
    post: (m, transfer) => parentPort.postMessage(m, transfer),
    listen: (fn) => parentPort.on('message', (data) => fn(data)),
  };
} else {
  port = {
    post: (m, transfer) => self.postMessage(m, transfer || []),
    listen: (fn) => self.addEventListener('message', (e) => fn(e.data)),
  };
}

// yieldMacrotask lets queued messages (an abort) run between tokens without
// the 4 ms clamp of nested setTimeout.
const yieldMacrotask = isNode
  ? () => new Promise((r) => setImmediate(r))
  : (() => {
    const ch = new MessageChannel();
    const q = [];
    ch.port1.onmessage = () => q.shift()();
    return () => new Promise((r) => { q.push(r); ch.port2.postMessage(0); });
  })();

async function readAsset(url) {
  if (url.protocol === 'file:') {
    const fs = await import(/* webpackIgnore: true */ 'node:fs/promises');
    return fs.readFile(url);
  }
  const res = await fetch(url);
  if (!res.ok) throw new AlibiError('download', `alibi: ${url.href}: HTTP ${res.status}`);
  return res;
}

// The runtime cache: the Go modules of this build, uncompressed, in Cache
// Storage, keyed by their versioned URL (cmd/build-wasm names every asset
// with ?v=<content hash>, so an entry never goes stale). Measured in
// Chromium here: alibi.wasm (6.8 MB, 1.9 MB gzipped) compiles in ~75 ms
// when streamed from the HTTP cache, whose body is gunzipped on every
// read, and in ~25 ms when streamed from Cache Storage: the difference is
// most of what a load from the cache waits for before Go starts.
const RUNTIME_CACHE = 'alibi-runtime-v1';

async function compileGo(url, { cache = false } = {}) {
  if (cache && !isNode && globalThis.caches && WebAssembly.compileStreaming && url.searchParams.has('v')) {
    try {
      return await compileCached(url);
    } catch { /* the cache is a convenience: compile from the network below */ }
  }
  const src = await readAsset(url);
  if (typeof Response !== 'undefined' && src instanceof Response) {
    if (WebAssembly.compileStreaming && (src.headers.get('content-type') || '').startsWith('application/wasm')) {
      return WebAssembly.compileStreaming(src);
    }
    return WebAssembly.compile(await src.arrayBuffer());
  }
  return WebAssembly.compile(src);
}

// compileCached compiles a versioned module from the runtime cache, or from
// the network, keeping a copy for next time (written once compiled, in the
// background; older versions of the same file are then dropped). A cached
// copy that does not compile is deleted.
async function compileCached(url) {
  const c = await caches.open(RUNTIME_CACHE);
  const hit = await c.match(url.href);
  if (hit) {
    try {
      return await WebAssembly.compileStreaming(hit);
    } catch {
      await c.delete(url.href).catch(() => {});
    }
  }
  const res = await readAsset(url);
  if (!(res.headers.get('content-type') || '').startsWith('application/wasm')) {
    res.body?.cancel().catch(() => {});
    throw new Error(`${url.href}: not a wasm response`);
  }
  const copy = res.clone();
  let mod;
  try {
    mod = await WebAssembly.compileStreaming(res);
  } catch (e) {
    copy.body?.cancel().catch(() => {});
    throw e;
  }
  runtimeKept.push(keepRuntime(c, url, copy));
  return mod;
}

// The copies being written: a load waits for them before it answers (as it
// waits for the model's cache writes), since disposing of the model ends
// this worker and a write cut short keeps nothing.
const runtimeKept = [];

async function keepRuntime(c, url, res) {
  try {
    await c.put(url.href, new Response(res.body, { headers: { 'content-type': 'application/wasm' } }));
    for (const req of await c.keys()) {
      const u = new URL(req.url);
      if (u.pathname === url.pathname && u.href !== url.href) await c.delete(req);
    }
  } catch { /* no quota, private mode: compile from the network next time */ }
}

// compileKernelFile compiles the kernels with fused multiply-adds (name
// with -fma before .wasm) where the host runs relaxed SIMD, else, or when
// that file is not served, the plain SIMD128 ones. It returns the module and
// whether it is the -fma one.
async function compileKernelFile(host, plain, fma) {
  if (host.relaxedSIMD && host.relaxedSIMD()) {
    try {
      return { mod: await host.compileKernels(readAsset(fma)), fma: true };
    } catch { /* an older build or a bundle without it: the plain kernels */ }
  }
  return { mod: await host.compileKernels(readAsset(plain)), fma: false };
}

// The page may hand over the modules an earlier worker compiled (alibi.js
// keeps them): { go, kernels, fma, mt }, the Go module and the kernel
// module of the same build, for kernel threads (mt: alibi-mt.wasm and
// kernels-mt.wasm) or not. Each path takes only modules of its own kind.
function givenGo(engine, mt) {
  return engine && !!engine.mt === mt && engine.go instanceof WebAssembly.Module ? engine.go : null;
}

function givenKernels(engine, mt) {
  return engine && !!engine.mt === mt && engine.kernels instanceof WebAssembly.Module ? { mod: engine.kernels, fma: !!engine.fma } : null;
}

// simdHost returns the `alibi_simd` imports: engine/kernels/simd/host.mjs
// (copied next to this file by cmd/build-wasm) with kernels.wasm (or
// kernels-fma.wasm), or, when either is missing, stubs whose available()
// returns 0 so Go uses its pure-Go loops.
// goModule may be a Promise: the kernels compile while the much larger Go
// module is still compiling. warm() runs their warm-up (V8 tiers their code
// up) in background slices; the load op calls it once the model is ready, so
// the warm-up's CPU time does not hold up the load on a machine with few
// cores, and the slices leave room for a generation asked for at once (the
// kernel-threads host, threadedHost, warms up at boot instead).
async function simdHost(goModule, { kernels = true, engine = null } = {}) {
  let host = null;
  try {
    host = await import('./simd-host.mjs');
  } catch {
    host = null;
  }
  if (host) {
    const simd = host.simdImports();
    let mod = null;
    let fma = false;
    // A module an earlier worker ran is already optimized: no warm-up.
    const given = kernels ? givenKernels(engine, false) : null;
    if (kernels) {
      try {
        ({ mod, fma } = given || await compileKernelFile(host,
          new URL('./kernels.wasm', import.meta.url), new URL('./kernels-fma.wasm', import.meta.url)));
      } catch {
        mod = null;
      }
    }
    return {
      importObject: simd.importObject, bind: (inst) => simd.bind(inst, mod), fma: !!mod && fma, kernels: mod,
      warm: () => (mod && !given ? host.warmUpIdle(mod) : Promise.resolve(0)),
    };
  }
  const stub = {};
  for (const imp of WebAssembly.Module.imports(await goModule)) {
    if (imp.module !== 'alibi_simd' || imp.kind !== 'function') continue;
    stub[imp.name] = imp.name === 'available' || imp.name === 'version'
      ? () => 0
      : () => { throw new Error(`alibi_simd.${imp.name} called without a kernel module`); };
  }
  return { importObject: { alibi_simd: stub }, bind: () => false };
}

let booted = null;

// threadedHost prepares kernel threads (engine/kernels/simd/threads.mjs):
// alibi-mt.wasm, whose memory is a shared import, the shared-memory kernels,
// and threads-1 helper workers on that memory. Null (one thread) when the
// context cannot share memory (a page that is not cross-origin isolated) or
// a file is missing; the reason goes to threadsReason.
let threadsReason = '';
async function threadedHost(threads, cache, engine) {
  let T;
  try {
    T = await import('./simd-threads.mjs');
  } catch {
    threadsReason = 'simd-threads.mjs is not served';
    return null;
  }
  if (!T.threadsSupported()) {
    threadsReason = 'SharedArrayBuffer is unavailable: the page is not cross-origin isolated (COOP/COEP)';
    return null;
  }
  const host = await import('./simd-host.mjs');
  const givenK = givenKernels(engine, true); // already optimized: no warm-up
  let goModule, kernels, fma;
  try {
    [goModule, { mod: kernels, fma }] = await Promise.all([
      givenGo(engine, true) || compileGo(new URL('./alibi-mt.wasm', import.meta.url), { cache }),
      givenK || compileKernelFile(host, new URL('./kernels-mt.wasm', import.meta.url), new URL('./kernels-mt-fma.wasm', import.meta.url)),
    ]);
  } catch (e) {
    threadsReason = `the kernel-threads build is not served (${e && e.message})`;
    return null;
  }
  let memory;
  try {
    memory = T.sharedMemoryFor(goModule);
  } catch (e) {
    threadsReason = String(e && e.message || e);
    return null;
  }
  if (!memory) {
    threadsReason = 'alibi-mt.wasm has no shared memory';
    return null;
  }
  const threadURL = new URL('./simd-thread.mjs', import.meta.url);
  let spawn;
  if (isNode) {
    const { Worker } = await import(/* webpackIgnore: true */ 'node:worker_threads');
    spawn = () => { const w = new Worker(threadURL); w.unref(); return w; };
  } else {
    spawn = () => new Worker(threadURL, { type: 'module', name: 'alibi-kernels' });
  }
  let pool;
  try {
    pool = await T.startPool({ module: kernels, memory, threads, spawn });
  } catch (e) {
    threadsReason = String(e && e.message || e);
    return null;
  }
  T.patchForSharedMemory(globalThis);
  const simd = host.simdImports();
  return {
    goModule, pool, fma, kernels,
    importObject: { alibi_simd: T.threadedImports(simd.imports, pool), env: { memory } },
    // The threaded kernels warm up at boot, before Go's first call: with the
    // warm-up deferred to after the load, 2-thread decode of the bundled
    // model ran 0.98x as fast (median of 6 interleaved A/B runs, 0.91-1.02x)
    // and with it at boot 1.00-1.08x the build before the change; one thread
    // showed no such cost and keeps the faster load.
    bind: (inst) => simd.bind(inst, kernels, { warmUp: !givenK }),
  };
}

async function boot(opts) {
  const wanted = Math.max(1, Math.min(16, Math.floor(opts.threads || 1)));
  const mtP = wanted > 1 && opts.kernels !== false ? threadedHost(wanted, !!opts.cache, opts.engine) : null;
  const compile = () => {
    const given = givenGo(opts.engine, false);
    return given ? Promise.resolve(given) : compileGo(new URL('./alibi.wasm', import.meta.url), { cache: !!opts.cache });
  };
  let goP = mtP ? null : compile();
  if (goP) goP.catch(() => {}); // awaited below
  // Everything else the engine needs is requested now too: the Go module's
  // compile keeps this thread busy in bursts, and a step started after it
  // would wait for them.
  let simdP = goP ? simdHost(goP, opts) : null;
  if (simdP) simdP.catch(() => {}); // awaited below
  await import('./wasm_exec.js');
  const go = new globalThis.Go();
  const mt = mtP ? await mtP : null;
  if (!mt && !goP) {
    goP = compile(); // kernel threads fell back
    simdP = simdHost(goP, opts);
  }
  const simd = mt || await simdP;
  const goModule = mt ? mt.goModule : await goP;
  const instance = await WebAssembly.instantiate(goModule, { ...go.importObject, ...simd.importObject });
  const simdBound = simd.bind(instance);
  const threads = mt ? mt.pool.threads : 1;
  let exitCode = null;
  go.exit = (code) => { exitCode = code; };
  // go.run runs main() until it blocks: the namespace is set when it returns.
  // The promise settles only if the Go program dies (a fatal runtime error,
  // typically out of memory): every call in flight would hang, so fail them.
  go.run(instance).then(() => engineDied(exitCode), (e) => engineDied(exitCode, e));
  const ns = globalThis.__alibi;
  if (!ns) throw new AlibiError('unsupported', 'alibi: alibi.wasm did not register its functions');
  if (ns.protocol !== PROTOCOL) {
    throw new AlibiError('unsupported', `alibi: alibi.wasm speaks protocol ${ns.protocol}, worker.js ${PROTOCOL}: files from different builds are mixed`);
  }
  return {
    ns, instance, simd: !!simdBound, fma: !!simdBound && !!simd.fma, threads, threadsReason: wanted > 1 && !mt ? threadsReason : '',
    modules: { go: goModule, kernels: simd.kernels || null, fma: !!simd.fma, mt: !!mt },
    warm: simd.warm || (() => Promise.resolve(0)),
  };
}

function ensureBooted(opts) {
  if (!booted) booted = boot(opts);
  return booted;
}

// ENGINE_BUILD is the version cmd/build-wasm gave this build's files (the
// ?v= of alibi.wasm's URL), '' when served unversioned.
const ENGINE_BUILD = new URL('./alibi.wasm', import.meta.url).searchParams.get('v') || '';

const u8 = (ta) => new Uint8Array(ta.buffer, ta.byteOffset, ta.byteLength);
const idsArg = (ids) => u8(Int32Array.from(ids));

// engineAdapter wraps the Go namespace in the interface loader/load.js uses.
// beginLoad waits for the engine to boot (runLoad reads cached pieces
// meanwhile); the other calls come after it.
function engineAdapter(booting) {
  let ns = null;
  return {
    async beginLoad(config, opts) {
      ns = (await booting).ns;
      if (modelID) throw new AlibiError('format', 'alibi: this worker already holds a model');
      return JSON.parse(await ns.beginLoad(config, JSON.stringify(opts)));
    },
    // setTokenizer(load, bytes, {compact, wantCompact}): bytes are
    // tokenizer.json, or with compact the compact form an earlier call
    // answered with (wantCompact); resolves to that form or null.
    setTokenizer: (load, bytes, { compact = false, wantCompact = false } = {}) => ns.setTokenizer(load, bytes, (compact ? 1 : 0) | (wantCompact ? 2 : 0)),
    // The engine's build (the served files' version): a compact tokenizer
    // is only read by the build that wrote it.
    build: ENGINE_BUILD,
    setIndex: (load, bytes) => ns.setIndex(load, bytes),
    openFile: (load, name, size, hash) => ns.openFile(load, name, size ?? -1, !!hash),
    write: (fid, bytes) => ns.write(fid, bytes),
    closeFile: (fid, sha) => ns.closeFile(fid, sha || ''),
    async finish(load) { return JSON.parse(await ns.finish(load)); },
    abortLoad: (load) => ns.abortLoad(load),
  };
}

const controllers = new Map(); // call id -> AbortController
// Token flow control: a generation runs at most TOKEN_WINDOW tokens ahead of
// what the page consumed, so a busy page never has a backlog to drop and an
// abort leaves little computed for nothing.
const TOKEN_WINDOW = 4;
const credits = new Map(); // call id -> { acked, wake }
let dead = null;

function engineDied(code, e) {
  dead = new AlibiError('memory', `alibi: the engine stopped (exit code ${code}${e ? `: ${e.message}` : ''}); most likely it ran out of memory`);
  for (const id of controllers.keys()) port.post({ id, ok: false, error: serializeError(dead) });
  controllers.clear();
}
let modelID = 0;
let modelInfo = null;

function wasmBytes(rt) {
  return rt.instance.exports.mem.buffer.byteLength;
}

const ops = {
  async load(msg, signal, emit) {
    const o = msg.options || {};
    // The engine boots (wasm compile, Go start) while the small files of the
    // source (config, tokenizer, safetensors header) download.
    const booting = ensureBooted({ kernels: o.simd !== false, threads: o.threads, cache: o.cache !== false, engine: msg.engine });
    booting.catch(() => {}); // awaited below; a failure must not go unhandled meanwhile
    // The compiled modules go to the page for the next worker (alibi.js).
    booting.then((rt) => {
      if (!isNode && o.simd !== false) {
        try {
          emit('engine', rt.modules);
        } catch { /* a host that cannot post modules compiles each time */ }
      }
    }, () => {});
    if (modelID) {
      await booting;
      throw new AlibiError('format', 'alibi: this worker already holds a model');
    }
    const cache = o.cache === false ? null : await openModelCache();
    const progress = createProgress((ev) => emit('progress', ev), { interval: o.progressInterval ?? 100 });
    const plan = await resolvePlan(msg.source, { cache, signal, pieceSize: o.chunkSize });
    const res = await runLoad(plan, engineAdapter(booting), {
      quant: o.quant || 'none', contextLength: o.contextLength || 0, memoryLimit: o.memoryLimit || 0,
      concurrency: Math.min(4, Math.max(2, o.concurrency || 3)), cache, progress, signal,
      onEstimate: (est) => emit('estimate', est),
    });
    modelID = res.model;
    const rt = await booting;
    rt.warm().catch(() => {});
    await Promise.all(runtimeKept.splice(0));
    modelInfo = {
      ...res.info, source: plan.key, sourceKind: plan.kind, fileBytes: plan.totalBytes, estimatedBytes: res.estimate,
      simd: rt.simd, fma: rt.fma, threads: rt.threads, threadsFallback: rt.threadsReason || undefined, crossOriginIsolated: !!globalThis.crossOriginIsolated, cached: res.cached,
      runtime: isNode ? 'node' : 'browser', generationDefaults: plan.generation || {},
    };
    return modelInfo;
  },
  async tokenize(msg) {
    const { ns } = await booted;
    const b = await ns.tokenize(modelID, msg.text, msg.addSpecial !== false);
    return new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  },
  async detokenize(msg) {
    const { ns } = await booted;
    return ns.detokenize(modelID, idsArg(msg.ids), !!msg.skipSpecial);
  },
  async tokenBytes(msg) {
    const { ns } = await booted;
    return JSON.parse(await ns.tokenBytes(modelID, idsArg(msg.ids))).map((a) => Uint8Array.from(a));
  },
  async logits(msg) {
    const { ns } = await booted;
    const b = await ns.logits(modelID, idsArg(msg.ids), !!msg.all);
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  },
  async slopes() {
    const { ns } = await booted;
    const b = await ns.slopes(modelID);
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  },
  async generate(msg, signal, emit) {
    const { ns } = await booted;
    const o = msg.options || {};
    const t0 = performance.now();
    let prompt = msg.ids;
    if (typeof msg.prompt === 'string') {
      const b = await ns.tokenize(modelID, msg.prompt, true);
      prompt = Array.from(new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4));
    }
    const gid = await ns.startGenerate(modelID, idsArg(prompt || []), JSON.stringify(o));
    const flow = { acked: 0, wake: null };
    credits.set(msg.id, flow);
    const onAbort = () => { ns.cancel(gid); if (flow.wake) flow.wake(); };
    signal.addEventListener('abort', onAbort, { once: true });
    const stats = { promptTokens: prompt ? prompt.length : 0, tokens: 0, prefillMs: 0, decodeMs: 0, reason: '' };
    try {
      for (;;) {
        const t = performance.now();
        const tok = JSON.parse(await ns.next(gid));
        const dt = performance.now() - t;
        if (tok.done) {
          stats.reason = tok.reason;
          stats.tail = tok.text || '';
          if (stats.tokens === 0) stats.prefillMs += dt;
          break;
        }
        if (stats.tokens === 0) stats.prefillMs = dt;
        else stats.decodeMs += dt;
        stats.tokens++;
        if (tok.attention) emit('token', { id: tok.id, text: tok.text, attention: tok.attention.map((r) => Float32Array.from(r)) });
        else emit('token', { id: tok.id, text: tok.text });
        await yieldMacrotask(); // an abort message runs here
        while (!signal.aborted && stats.tokens - flow.acked >= TOKEN_WINDOW) {
          await new Promise((r) => { flow.wake = r; });
        }
        if (signal.aborted) {
          ns.cancel(gid);
          await ns.next(gid).catch(() => {});
          throw new AlibiError('aborted', 'alibi: generation aborted');
        }
      }
    } catch (e) {
      if (signal.aborted) throw new AlibiError('aborted', 'alibi: generation aborted');
      throw e;
    } finally {
      signal.removeEventListener('abort', onAbort);
      credits.delete(msg.id);
    }
    stats.totalMs = performance.now() - t0;
    return stats;
  },
  async memory() {
    const rt = await booted;
    const m = JSON.parse(await rt.ns.memory());
    return { ...m, wasmBytes: wasmBytes(rt), jsHeap: (globalThis.performance && performance.memory && performance.memory.usedJSHeapSize) || null };
  },
  async info() {
    return modelInfo;
  },
  async dispose() {
    if (!modelID) return null;
    const { ns } = await booted;
    await ns.dispose(modelID);
    modelID = 0;
    return null;
  },
  // benchMatVec times the engine's matvec kernel in this worker (SIMD128 or
  // pure Go, as booted); used by e2e/bench-runtime.mjs, not part of the API.
  async benchMatVec(msg) {
    const rt = await ensureBooted({ kernels: msg.simd !== false, threads: msg.threads });
    return { ...JSON.parse(await rt.ns.benchMatVec(msg.rows, msg.cols, msg.ms, !!msg.cold)), simdBound: rt.simd, fma: rt.fma, threads: rt.threads };
  },
  async ping() {
    return { protocol: PROTOCOL };
  },
};

function transferables(v) {
  if (ArrayBuffer.isView(v)) return [v.buffer];
  if (Array.isArray(v) && v.every((x) => ArrayBuffer.isView(x))) return v.map((x) => x.buffer);
  return [];
}

port.listen(async (msg) => {
  if (!msg || typeof msg !== 'object') return;
  if (msg.op === 'abort') {
    const c = controllers.get(msg.target);
    if (c) c.abort(new AlibiError('aborted', 'alibi: aborted'));
    return;
  }
  if (msg.op === 'ack') {
    const f = credits.get(msg.target);
    if (f) {
      f.acked = Math.max(f.acked, msg.consumed);
      const w = f.wake;
      f.wake = null;
      if (w) w();
    }
    return;
  }
  const fn = ops[msg.op];
  if (!fn) {
    port.post({ id: msg.id, ok: false, error: { type: 'unsupported', message: `alibi: unknown operation ${msg.op}` } });
    return;
  }
  if (dead) {
    port.post({ id: msg.id, ok: false, error: serializeError(dead) });
    return;
  }
  const ctl = new AbortController();
  controllers.set(msg.id, ctl);
  const emit = (event, data) => port.post({ id: msg.id, event, data });
  try {
    if (!modelID && !['load', 'ping', 'info', 'dispose', 'benchMatVec'].includes(msg.op)) {
      throw new AlibiError('format', 'alibi: no model loaded (disposed?)');
    }
    const result = await fn(msg, ctl.signal, emit);
    if (!controllers.has(msg.id)) return; // answered by engineDied
    const tr = transferables(result);
    port.post({ id: msg.id, ok: true, result }, tr);
  } catch (e) {
    if (!controllers.has(msg.id)) return;
    port.post({ id: msg.id, ok: false, error: serializeError(ctl.signal.aborted ? new AlibiError('aborted', e.message || 'aborted') : e) });
  } finally {
    controllers.delete(msg.id);
  }
});

port.post({ event: 'hello', data: { protocol: PROTOCOL } });
