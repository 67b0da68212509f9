// host.mjs: the `alibi_simd` import object every host of an alibi Go wasm
// binary must supply (Node test runner, browser worker, edge worker).
//
// Go declares the SIMD128 kernels with `//go:wasmimport alibi_simd <name>`, so
// instantiating the Go binary needs an `alibi_simd` import object even when
// the kernel module is not used. The kernels (kernels.wasm, assembled from
// engine/kernels/simd/kernels.wat) import the Go instance's exported memory,
// so they can only be instantiated after the Go instance exists; the imports
// given to Go are therefore small trampolines that are bound afterwards.
//
// Usage (plain ES module, no dependencies):
//
//   import { simdImports, compileKernels } from './host.mjs';
//   const go = new Go();                                  // from wasm_exec.js
//   const simd = simdImports();
//   Object.assign(go.importObject, simd.importObject);    // adds `alibi_simd`
//   const { instance } = await WebAssembly.instantiate(goBytes, go.importObject);
//   const kernels = await compileKernels(fetch('kernels.wasm'));  // or null: pure Go
//   simd.bind(instance, kernels);                          // BEFORE go.run
//   go.run(instance);
//
// - compileKernels(src) accepts a WebAssembly.Module, a BufferSource, a
//   Response or a Promise of one (uses compileStreaming when it can). Compile
//   once and reuse the Module for every Go instance (edge workers create one
//   per request; there the module usually arrives as an imported
//   WebAssembly.Module, e.g. `import kernels from './kernels.wasm'`).
// - bind(goInstance, module) instantiates the kernels synchronously against
//   goInstance.exports.mem and returns true. With a null/undefined module it
//   binds nothing and returns false: `available()` then reports 0 and Go uses
//   its pure-Go loops. Go reads `available()` once during package init, so
//   bind must run before go.run(instance).
// - bind(goInstance, module, { warmUp: true }) first runs every kernel for
//   about 10-20 ms on a private scratch memory (warmUp(module), once per
//   Module), so V8 has tiered the shared kernel code up from its baseline
//   compiler (Liftoff) to TurboFan before Go's first real call; otherwise the
//   first few large calls (the first token) run 3-10x slower.
//   warmUpIdle(module) does the same in background-priority slices; the
//   single-thread browser worker binds without warmUp and starts it once a
//   model is ready, so the warm-up's CPU time does not hold up the load.
// - Use one simdImports() per Go instance.
// - Memory growth by Go is harmless: both instances hold the same
//   WebAssembly.Memory object.

/** Import module name used by `//go:wasmimport`. */
export const MODULE = 'alibi_simd';

/** ABI version: kernels.wat `version()` and engine/kernels must agree. */
export const ABI_VERSION = 4;

/** Functions kernels.wasm must export (Go imports each of them). */
export const KERNELS = Object.freeze([
  'available', 'version', 'dot', 'matvec', 'matmul', 'axpy', 'matvec_q8', 'matmul_q8',
  'matvec_t', 'gelu_tanh', 'exp_shift', 'alibi_scores', 'quantize_q8', 'f16_to_f32',
  'quantize_q8_f16', 'attend_heads',
]);

function unbound() {
  throw new Error('alibi_simd: kernel called but no kernel module is bound (available() was 0)');
}

/**
 * Returns { importObject: { alibi_simd }, imports, bind(goInstance, module), bound() }.
 */
export function simdImports() {
  // k holds the bound kernel exports; before bind every entry throws.
  let k = Object.fromEntries(KERNELS.map((n) => [n, unbound]));
  let isBound = false;
  const imports = {
    available: () => (isBound ? 1 : 0),
    version: () => (isBound ? k.version() : 0),
    dot: (a, b, n) => k.dot(a, b, n),
    matvec: (dst, w, x, rows, cols) => k.matvec(dst, w, x, rows, cols),
    matmul: (dst, x, w, n, rows, cols) => k.matmul(dst, x, w, n, rows, cols),
    axpy: (dst, a, x, n) => k.axpy(dst, a, x, n),
    matvec_q8: (dst, w, scales, x, rows, cols, block, scratch) =>
      k.matvec_q8(dst, w, scales, x, rows, cols, block, scratch),
    matmul_q8: (dst, x, w, scales, n, rows, cols, block, scratch) =>
      k.matmul_q8(dst, x, w, scales, n, rows, cols, block, scratch),
    matvec_t: (dst, w, x, rows, cols) => k.matvec_t(dst, w, x, rows, cols),
    gelu_tanh: (x, n) => k.gelu_tanh(x, n),
    exp_shift: (x, n, m) => k.exp_shift(x, n, m),
    alibi_scores: (dst, kk, q, rows, cols, scale, slope, off) =>
      k.alibi_scores(dst, kk, q, rows, cols, scale, slope, off),
    quantize_q8: (q, s, w, nb) => k.quantize_q8(q, s, w, nb),
    f16_to_f32: (dst, src, n) => k.f16_to_f32(dst, src, n),
    quantize_q8_f16: (q, s, h, nb) => k.quantize_q8_f16(q, s, h, nb),
    attend_heads: (out, q, kk, v, sc, nh, d, npos, hstride, scale, slopes, sclen) =>
      k.attend_heads(out, q, kk, v, sc, nh, d, npos, hstride, scale, slopes, sclen),
  };
  return {
    imports,
    importObject: { [MODULE]: imports },
    bound: () => isBound,
    bind(goInstance, module, opts) {
      if (module == null) return false;
      const mem = goInstance && goInstance.exports && goInstance.exports.mem;
      if (!(mem instanceof WebAssembly.Memory)) {
        throw new Error('alibi_simd: bind needs the Go WebAssembly.Instance (exports.mem missing)');
      }
      const ex = new WebAssembly.Instance(module, { env: { mem } }).exports;
      const missing = KERNELS.filter((n) => typeof ex[n] !== 'function');
      if (missing.length) throw new Error(`alibi_simd: kernel module lacks ${missing.join(', ')}`);
      if (ex.version() !== ABI_VERSION) {
        throw new Error(`alibi_simd: kernel module ABI ${ex.version()}, want ${ABI_VERSION}`);
      }
      if (opts && opts.warmUp) warmUp(module);
      k = ex;
      isBound = true;
      return true;
    },
  };
}

const warmed = new WeakSet();

// warmer instantiates module on a private scratch memory and returns
// run(n): n rounds of every kernel on small shapes (WARM_ROUNDS in all make
// V8 tier the module's code up from Liftoff to TurboFan).
const WARM_ROUNDS = 300;
function warmer(module) {
  // 128 KiB; shared when the module is the kernel-threads build (threads.mjs),
  // whose memory import only links to a shared memory.
  let mem = new WebAssembly.Memory({ initial: 2 });
  let K;
  try {
    K = new WebAssembly.Instance(module, { env: { mem } }).exports;
  } catch (e) {
    if (!(e instanceof WebAssembly.LinkError)) throw e;
    mem = new WebAssembly.Memory({ initial: 2, maximum: 2, shared: true });
    K = new WebAssembly.Instance(module, { env: { mem } }).exports;
  }
  const f = new Float32Array(mem.buffer);
  for (let i = 0; i < f.length; i++) f[i] = ((i * 7919) % 13) / 13 - 0.5;
  // byte layout: dst 0..4K, w 4K..36K (f32 64x128 or int8), x 36K..52K,
  // scales 52K..56K, scratch 56K..
  const dst = 0, w = 4096, x = 36864, s = 53248, scr = 57344;
  return (n) => {
    for (let i = 0; i < n; i++) {
      K.dot(w, x, 125);
      K.matvec(dst, w, x, 61, 127);
      K.matmul(dst, x, w, 7, 13, 127);
      K.axpy(dst, 0.5, x, 127);
      K.matvec_t(dst, w, x, 61, 127);
      K.matvec_q8(dst, w, s, x, 61, 128, 32, scr);
      K.matmul_q8(dst, x, w, s, 5, 13, 128, 32, scr);
      K.matvec_q8(dst, w, s, x, 13, 100, 100, scr);
      K.gelu_tanh(x, 127);
      K.exp_shift(x, 127, 1);
      K.alibi_scores(dst, w, x, 61, 64, 0.125, 0.5, -60);
      K.quantize_q8(w, s, x, 8);
      K.f16_to_f32(dst, x, 250);
      K.quantize_q8_f16(w, s, x, 8);
      K.attend_heads(dst, x, w, w + 4096, scr, 2, 16, 60, 64 * 16, 0.125, s, 64);
    }
  };
}

/**
 * Runs each kernel a few hundred times on small shapes in a private memory so
 * that V8 optimizes the module's code (shared by all its instances). Once per
 * Module (warmUp or warmUpIdle); returns the milliseconds spent (0 when
 * already warm or warming).
 */
export function warmUp(module) {
  if (warmed.has(module)) return 0;
  warmed.add(module);
  const t0 = Date.now();
  warmer(module)(WARM_ROUNDS);
  return Date.now() - t0;
}

/**
 * warmUp in slices of about a millisecond, each its own task at background
 * priority (scheduler.postTask where the host has it, else setTimeout), so
 * the warm-up fills the thread's idle moments instead of holding up what
 * the thread has to do first (a model's load). Resolves with the
 * milliseconds spent in the slices (0 when the module was already warm or
 * warming). A kernel called before the warm-up ends still works: V8 tiers
 * its code up from the real calls too.
 */
export function warmUpIdle(module, { rounds = 20 } = {}) {
  if (warmed.has(module)) return Promise.resolve(0);
  warmed.add(module);
  const post = globalThis.scheduler && typeof globalThis.scheduler.postTask === 'function'
    ? (fn) => globalThis.scheduler.postTask(fn, { priority: 'background' })
    : (fn) => new Promise((resolve, reject) => setTimeout(() => {
      try {
        resolve(fn());
      } catch (e) {
        reject(e);
      }
    }, 0));
  return new Promise((resolve, reject) => {
    let run = null;
    let left = WARM_ROUNDS;
    let spent = 0;
    const slice = () => {
      const t0 = Date.now();
      if (!run) run = warmer(module);
      const n = Math.min(rounds, left);
      run(n);
      left -= n;
      spent += Date.now() - t0;
      if (left > 0) post(slice).catch(reject);
      else resolve(spent);
    };
    post(slice).catch(reject);
  });
}

// A module of one function that uses f32x4.relaxed_madd (relaxed SIMD):
// (func (param v128 v128 v128) (result v128)
//   (f32x4.relaxed_madd (local.get 0) (local.get 1) (local.get 2)))
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 1, 96, 3, 123, 123, 123, 1, 123, 3, 2, 1, 0,
  10, 13, 1, 11, 0, 32, 0, 32, 1, 32, 2, 253, 133, 2, 11,
]);
let relaxed;

/**
 * Reports whether this host runs relaxed SIMD, and so kernels-fma.wasm: the
 * kernels with fused multiply-adds in the f32 matrix products (cmd/build-wasm
 * writes it next to kernels.wasm; see the top of kernels.wat). Chromium 114+
 * and Firefox 145+ do; Node 20 only with --experimental-wasm-relaxed-simd.
 */
export function relaxedSIMD() {
  if (relaxed === undefined) {
    try {
      relaxed = WebAssembly.validate(RELAXED_PROBE);
    } catch {
      relaxed = false;
    }
  }
  return relaxed;
}

/**
 * Compiles kernels.wasm from a WebAssembly.Module (returned as is), a
 * BufferSource, a Response, or a Promise of any of these.
 */
export async function compileKernels(src) {
  src = await src;
  if (src == null) return null;
  if (src instanceof WebAssembly.Module) return src;
  if (typeof Response !== 'undefined' && src instanceof Response) {
    if (!src.ok) throw new Error(`alibi_simd: fetching kernels failed: HTTP ${src.status}`);
    if (WebAssembly.compileStreaming && (src.headers.get('content-type') || '').startsWith('application/wasm')) {
      return WebAssembly.compileStreaming(src);
    }
    return WebAssembly.compile(await src.arrayBuffer());
  }
  return WebAssembly.compile(src);
}
