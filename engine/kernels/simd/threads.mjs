// threads.mjs: kernel threads for the Go engine. Go's js/wasm has no
// threads, but its SIMD128 kernels are plain functions over Go's linear
// memory. When that memory is a shared WebAssembly.Memory (the Go binary
// rewritten by internal/wasmbin: alibi-mt.wasm, whose memory is the import
// env.memory), extra workers can instantiate the kernels (kernels-mt.wasm,
// same code, shared memory import) against it and take part of each large
// kernel call: Go calls matvec through its `alibi_simd` import as always;
// the trampoline here hands rows (or tokens) [r1, rows) to the helper
// threads, runs [0, r1) itself, then runs any part a helper has not started
// and waits with Atomics for the parts that have. Each output
// element is computed by the same kernel code on the same inputs, so the
// results are bit for bit those of one thread.
//
// Usage (after simdImports() from host.mjs; plain ES module):
//
//   const memory = sharedMemoryFor(goModule);           // null: not a threads build
//   const pool = await startPool({ module: kernelsMT, memory, threads: 2, spawn });
//   const imports = threadedImports(simd.imports, pool);  // give these to Go
//   const instance = new WebAssembly.Instance(goModule, { ...go.importObject,
//     alibi_simd: imports, env: { memory } });
//   simd.bind(instance, kernelsMT);
//
// spawn() must return a started worker running thread.mjs (a browser module
// Worker, or a Node worker_threads Worker) with postMessage and terminate:
// the caller knows where thread.mjs is served (simd-thread.mjs in the site).

/** Custom section with the shared memory's limits (internal/wasmbin). */
export const LIMITS_SECTION = 'alibi.shared_memory';

/** Kernels that are split across threads, and their op codes in thread.mjs. */
export const OPS = Object.freeze({ matvec: 1, matmul: 2, matvec_q8: 3, matmul_q8: 4, attend_heads: 5 });

// Control block (Int32Array over a SharedArrayBuffer), one per helper:
// [SEQ] bumped by the caller for each job, [DONE] set to SEQ by the helper
// when it is through with the job, [ERR] non-zero when it threw, [OP], then
// args; [CLAIM] is SEQ while the job is open, and whoever takes it (the
// helper when it starts, or the caller when the helper has not started by
// the time the caller's own part is done) sets it to 0 with a
// compare-exchange, so each job runs exactly once.
export const SEQ = 0, DONE = 1, ERR = 2, OP = 3, CLAIM = 31, ARGS = 4, CTRL_INTS = 32;

// Splits are at multiples of ALIGN rows or tokens, so each part starts a
// kernel's row or token block where one thread would: the results stay
// identical to one thread's whatever blocking the kernels use.
const ALIGN = 16;
// Below these many multiply-adds a call is not worth a hand-off. A hand-off
// to a polling helper (thread.mjs keeps polling for SPIN_MS after a job)
// costs about a microsecond; a 256x256 f32 matvec (65536) takes about 5 us
// on one thread and 4.5 split, 768x256 15.5 and 8 (Node, 2-core VM).
const MIN_MATVEC = 1 << 16;
const MIN_MATMUL = 1 << 17;
// attend_heads (one query, all heads) is split by heads when it reads at
// least this many key floats (nh*npos*d; bloom-560m at 300 positions: 307200
// per layer, about 80 us of one thread's decode step; the bundled model's
// 8x32 from 64 positions on: 1<<14 ran its 2-thread prefill 1.14x as fast
// as 1<<16, 1<<15 1.09x).
const MIN_ATTEND = 1 << 14;
// Spins before the caller sleeps on Atomics.wait for a helper's part.
const SPIN = 1 << 14;

/**
 * The shared memory a threads build of the Go binary imports, or null when
 * the module is an ordinary build (no LIMITS_SECTION).
 * @param {WebAssembly.Module} goModule
 */
export function sharedMemoryFor(goModule) {
  const secs = WebAssembly.Module.customSections(goModule, LIMITS_SECTION);
  if (!secs.length) return null;
  const v = new DataView(secs[0]);
  const initial = v.getUint32(0, true);
  // A shared memory reserves its maximum up front; where 4 GiB of address
  // space is refused (some 32-bit or small devices), try smaller maxima (an
  // import accepts a memory whose maximum is below the declared one).
  let err = null;
  for (let maximum = v.getUint32(4, true); maximum >= initial; maximum = Math.floor(maximum / 2)) {
    try {
      return new WebAssembly.Memory({ initial, maximum, shared: true });
    } catch (e) {
      err = e;
    }
    if (maximum <= 1) break;
  }
  throw new RangeError(`alibi threads: cannot reserve a shared memory (${err && err.message})`);
}

/**
 * Go's wasm_exec.js hands views of its memory to TextDecoder.decode and
 * crypto.getRandomValues, which refuse views of a SharedArrayBuffer; this
 * wraps both (in the given global scope) to copy such views. Idempotent.
 * @param {any} scope globalThis of the thread that runs Go
 */
export function patchForSharedMemory(scope) {
  const TD = scope.TextDecoder && scope.TextDecoder.prototype;
  if (TD && !TD.decode.alibiShared) {
    const decode = TD.decode;
    TD.decode = function (input, opts) {
      if (input && input.buffer instanceof SharedArrayBuffer) {
        input = new Uint8Array(input.buffer, input.byteOffset, input.byteLength).slice();
      }
      return decode.call(this, input, opts);
    };
    TD.decode.alibiShared = true;
  }
  const c = scope.crypto;
  if (c && c.getRandomValues && !c.getRandomValues.alibiShared) {
    const grv = c.getRandomValues.bind(c);
    const patched = (view) => {
      if (view && view.buffer instanceof SharedArrayBuffer) {
        const copy = new view.constructor(view.length);
        grv(copy);
        view.set(copy);
        return view;
      }
      return grv(view);
    };
    patched.alibiShared = true;
    try {
      c.getRandomValues = patched;
    } catch { /* read-only: Go's use of it fails loudly */ }
  }
}

/** Whether this JS context can share memory with workers. */
export function threadsSupported() {
  if (typeof SharedArrayBuffer === 'undefined' || typeof Atomics === 'undefined') return false;
  // Browsers expose SharedArrayBuffer only to cross-origin isolated pages.
  if (typeof globalThis.crossOriginIsolated === 'boolean' && !globalThis.crossOriginIsolated) return false;
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts threads-1 helper threads, each with its own instance of the kernels
 * over memory. Resolves to a pool once every helper is ready; rejects (and
 * stops the ones started) when one cannot start.
 * @param {{ module: WebAssembly.Module, memory: WebAssembly.Memory, threads: number,
 *   spawn: (url: URL) => any, timeoutMs?: number }} opts
 */
export async function startPool({ module, memory, threads, spawn, timeoutMs = 10000 }) {
  const helpers = [];
  const stop = () => { for (const h of helpers) { try { h.worker.terminate(); } catch { /* gone */ } } };
  try {
    await Promise.all(Array.from({ length: Math.max(0, threads - 1) }, async () => {
      const ctrl = new Int32Array(new SharedArrayBuffer(CTRL_INTS * 4));
      const worker = await spawn();
      helpers.push({ worker, ctrl, seq: 0 });
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('alibi threads: a kernel thread did not start')), timeoutMs);
        const onMessage = (e) => {
          const m = e && e.data !== undefined ? e.data : e;
          clearTimeout(timer);
          if (m && m.ready) resolve();
          else reject(new Error(`alibi threads: a kernel thread failed: ${m && m.error}`));
        };
        const onError = (e) => { clearTimeout(timer); reject(new Error(`alibi threads: a kernel thread failed: ${e && (e.message || e)}`)); };
        if (typeof worker.once === 'function') { worker.once('message', onMessage); worker.once('error', onError); } else {
          worker.addEventListener('message', onMessage, { once: true });
          worker.addEventListener('error', onError, { once: true });
        }
        worker.postMessage({ module, memory, ctrl: ctrl.buffer });
      });
    }));
  } catch (e) {
    stop();
    throw e;
  }
  return {
    threads: helpers.length + 1,
    helpers,
    close: stop,
  };
}

function post(h, op, args, floats) {
  const c = h.ctrl;
  h.args = args; // for join, should the caller take the part back
  c[OP] = op;
  for (let i = 0; i < args.length; i++) c[ARGS + i] = args[i];
  // f32 arguments travel as their bits, at their index in args
  if (floats) for (const [i, x] of floats) { F32[0] = x; c[ARGS + i] = I32[0]; }
  h.seq = (h.seq + 1) | 0 || 1; // never 0: CLAIM 0 means taken
  Atomics.store(c, CLAIM, h.seq);
  Atomics.store(c, SEQ, h.seq);
  Atomics.notify(c, SEQ);
}

const F32 = new Float32Array(1), I32 = new Int32Array(F32.buffer);

// steal takes back a posted job the helper has not started (it is asleep,
// or not scheduled on a busy machine): the caller then runs that part
// itself instead of waiting for the helper. Returns whether it did.
function steal(h) {
  return Atomics.compareExchange(h.ctrl, CLAIM, h.seq, 0) === h.seq;
}

// join finishes helper h's part of the current call: the caller runs it
// (kernel, with the arguments it was posted with) when the helper has not
// started it (steal), else waits for it.
function join(h, kernel) {
  if (steal(h)) kernel(...h.args);
  else wait(h);
}

function wait(h) {
  const c = h.ctrl;
  let spins = 0;
  while (Atomics.load(c, DONE) !== h.seq) {
    if (++spins > SPIN) Atomics.wait(c, DONE, Atomics.load(c, DONE), 1);
  }
  if (c[ERR]) {
    const code = c[ERR];
    c[ERR] = 0;
    throw new WebAssembly.RuntimeError(`alibi threads: kernel op ${c[OP]} failed in a helper thread (${code})`);
  }
}

/**
 * Returns a copy of imports (host.mjs simdImports().imports) whose large
 * matvec, matmul, matvec_q8, matmul_q8 and attend_heads calls are shared
 * with the pool's helpers. Other kernels run as before.
 * @param {Record<string, Function>} imports
 * @param {{ threads: number, helpers: any[] }} pool
 * @param {{ minMatVec?: number, minMatMul?: number }} [opts] the smallest
 *   matvec (rows*cols) and matmul (n*rows*cols) that are split
 */
export function threadedImports(imports, pool, { minMatVec = MIN_MATVEC, minMatMul = MIN_MATMUL } = {}) {
  const parts = pool.threads;
  const hs = pool.helpers;
  if (parts < 2) return { ...imports };
  // bounds(n) splits n into `parts` ranges at multiples of ALIGN.
  const bounds = (n) => {
    const b = [0];
    for (let i = 1; i < parts; i++) b.push(Math.min(n, Math.floor((n * i) / parts / ALIGN) * ALIGN));
    b.push(n);
    return b;
  };
  // split runs kernel op over n rows (or tokens): parts 1.. go to the
  // helpers, part 0 runs here, then it runs each helper's part the helper
  // has not started and waits for the others. args(start, count) are the
  // op's arguments for rows [start, start+count).
  const split = (op, n, min, work, args) => {
    if (n < parts * ALIGN || work < min) return imports[op](...args(0, n));
    const b = bounds(n);
    for (let i = 1; i < parts; i++) post(hs[i - 1], OPS[op], args(b[i], b[i + 1] - b[i]));
    imports[op](...args(0, b[1]));
    for (let i = 1; i < parts; i++) join(hs[i - 1], imports[op]);
    return undefined;
  };
  const out = { ...imports };
  // Rows split: dst[r], W row r.
  out.matvec = (dst, w, x, rows, cols) => split('matvec', rows, minMatVec, rows * cols,
    (r, k) => [dst + r * 4, w + r * cols * 4, x, k, cols]);
  // Each thread quantizes x into the same scratch, writing the same bytes.
  out.matvec_q8 = (dst, w, s, x, rows, cols, block, scratch) => split('matvec_q8', rows, minMatVec, rows * cols,
    (r, k) => [dst + r * 4, w + r * cols, s + r * (cols / block) * 4, x, k, cols, block, scratch]);
  // Tokens split: dst row t, x row t.
  out.matmul = (dst, x, w, n, rows, cols) => split('matmul', n, minMatMul, n * rows * cols,
    (t, k) => [dst + t * rows * 4, x + t * cols * 4, w, k, rows, cols]);
  // scratch holds 68*(cols/32) bytes per token; each part gets its tokens' slice.
  out.matmul_q8 = (dst, x, w, s, n, rows, cols, block, scratch) => split('matmul_q8', n, minMatMul, n * rows * cols,
    (t, k) => [dst + t * rows * 4, x + t * cols * 4, w, s, k, rows, cols, block, scratch + t * 68 * (cols >> 5)]);
  // Heads split (no alignment needed: each head's work is independent and
  // the same kernel code either way); each part scores into its own npos
  // floats of sc, so sclen bounds the parts.
  out.attend_heads = (o, q, k, v, sc, nh, d, npos, hstride, scale, slopes, sclen) => {
    const p = Math.min(parts, nh, Math.floor(sclen / Math.max(1, npos)));
    if (p < 2 || nh * npos * d < MIN_ATTEND) return imports.attend_heads(o, q, k, v, sc, nh, d, npos, hstride, scale, slopes, sclen);
    const b = [0];
    for (let i = 1; i < p; i++) b.push(Math.floor((nh * i) / p));
    b.push(nh);
    const args = (i) => {
      const h0 = b[i], n = b[i + 1] - b[i];
      return [o + h0 * d * 4, q + h0 * d * 4, k + h0 * hstride * 4, v + h0 * hstride * 4, sc + i * npos * 4,
        n, d, npos, hstride, scale, slopes + h0 * 4, npos];
    };
    for (let i = 1; i < p; i++) post(hs[i - 1], OPS.attend_heads, args(i), [[9, scale]]);
    imports.attend_heads(...args(0));
    for (let i = 1; i < p; i++) join(hs[i - 1], imports.attend_heads);
    return undefined;
  };
  return out;
}
