// threads.mjs: kernel threads for the Go engine. Go's js/wasm has no
// threads, but its SIMD128 kernels are plain functions over Go's linear
// memory. When that memory is a shared WebAssembly.Memory (the Go binary
// rewritten by internal/wasmbin: alibi-mt.wasm, whose memory is the import
// env.memory), extra workers can instantiate the kernels (kernels-mt.wasm,
// same code, shared memory import) against it and take part of each large
// kernel call: Go calls matvec through its `alibi_simd` import as always;
// the trampoline here cuts the rows (or tokens, or heads) into chunks,
// publishes them in a work block the helper threads watch, and takes
// chunks itself until none is left; then it waits for the chunks a helper
// has started. A helper that is asleep or not scheduled (a busy machine)
// takes fewer chunks or none, and the caller is held up by at most the one
// chunk a helper was running when it lost its core. Each output element is
// computed by the same kernel code on the same inputs, so the results are
// bit for bit those of one thread.
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

// The work block (Int32Array over a SharedArrayBuffer), one per pool, its
// words on separate cache lines where threads poll them:
// [NEXT] says which call is open and which chunk is next: (epoch << 14) |
// (chunks << 7) | next; a thread takes chunk `next` by a compare-exchange
// of that word to next+1, so each chunk runs exactly once (a word read
// during an earlier call no longer matches, or, the epoch having wrapped,
// says exactly what the open call's does). [FIN] counts the helpers'
// chunks done, [ERR] is
// non-zero when a chunk threw in a helper, [OP] and [TIDS] (threads with a
// thread id below TIDS may take chunks: attend_heads has a score block per
// thread) describe the call, and chunk c's arguments are the ARG_INTS ints
// at CHUNKS + c*ARG_INTS (f32 arguments as their bits). Helpers poll NEXT
// (and sleep on it with Atomics.wait); the caller wakes them with
// Atomics.notify when it publishes a call.
export const NEXT = 0, FIN = 16, ERR = 32, OP = 33, TIDS = 34, CHUNKS = 48, ARG_INTS = 12, MAX_CHUNKS = 64;
export const WORK_INTS = CHUNKS + MAX_CHUNKS * ARG_INTS;
export const CHUNK_BITS = 7; // chunks and next, each below 1 << CHUNK_BITS

// Splits are at multiples of ALIGN rows or tokens, so each chunk starts a
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
// Chunks: the same number per thread (an odd one out would leave a thread
// with twice the work of another when both run). A prefill's matrix
// products have up to MATMUL_CHUNKS per thread while a chunk keeps at least
// CHUNK_WORK multiply-adds (about 10 us on one thread), so a thread that
// runs slower takes fewer: the bundled model's 2-thread prefill in Node ran
// 1.33x as fast as with one fixed half per thread (1.16x with a busy loop
// on one core). A decode step's matvecs and attention have one chunk per
// thread: four per thread changed its speed by 0.97x and 1.03x (quiet, busy).
const MATMUL_CHUNKS = 4;
const CHUNK_WORK = 1 << 17;
// Spins before the caller sleeps on Atomics.wait for a helper's chunk.
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
 * over memory, all watching one work block. Resolves to a pool once every
 * helper is ready; rejects (and stops the ones started) when one cannot start.
 * @param {{ module: WebAssembly.Module, memory: WebAssembly.Memory, threads: number,
 *   spawn: (url: URL) => any, timeoutMs?: number }} opts
 */
export async function startPool({ module, memory, threads, spawn, timeoutMs = 10000 }) {
  const helpers = [];
  const work = new Int32Array(new SharedArrayBuffer(WORK_INTS * 4));
  const stop = () => { for (const h of helpers) { try { h.worker.terminate(); } catch { /* gone */ } } };
  try {
    await Promise.all(Array.from({ length: Math.max(0, threads - 1) }, async (_, i) => {
      const worker = await spawn();
      helpers.push({ worker });
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
        worker.postMessage({ module, memory, work: work.buffer, tid: i + 1 });
      });
    }));
  } catch (e) {
    stop();
    throw e;
  }
  return {
    threads: helpers.length + 1,
    helpers,
    work,
    stats: { calls: 0, chunks: 0 },
    close: stop,
  };
}

const F32 = new Float32Array(1), I32 = new Int32Array(F32.buffer);
const CHUNK_MASK = (1 << CHUNK_BITS) - 1;
const EPOCH_SHIFT = 2 * CHUNK_BITS;
const EPOCH_MASK = (1 << (31 - EPOCH_SHIFT)) - 1;

/**
 * take claims the next chunk of the open call in work block W for thread
 * tid: its index, or -1 when every chunk is taken (or the call is not for
 * this thread). Helpers (thread.mjs) take chunks the same way.
 * @param {Int32Array} W
 * @param {number} [tid]
 */
export function take(W, tid = 0) {
  for (;;) {
    const v = Atomics.load(W, NEXT);
    const next = v & CHUNK_MASK;
    if (next >= ((v >> CHUNK_BITS) & CHUNK_MASK)) return -1;
    // Read while the call is open, so it is this call's (a call's TIDS is
    // written only once the call before it is done).
    if (tid >= Atomics.load(W, TIDS)) return -1;
    if (Atomics.compareExchange(W, NEXT, v, v + 1) === v) return next;
  }
}

// caller runs kernel calls split into chunks over a pool (see the header).
// A helper that has not finished a chunk after stallMs (its worker ended,
// or it is stuck) fails the call instead of holding the engine forever.
function caller(pool, stallMs) {
  const W = pool.work;
  let epoch = 0;
  // run publishes the chunks (each an argument list, f32 arguments at the
  // indices in floats), wakes the helpers, takes chunks until none is left,
  // and waits for the ones the helpers took. Threads with an id of tids or
  // more take none; the caller is thread 0, and runs chunk c as kernel(c).
  return function run(op, chunks, tids, floats, kernel) {
    const n = chunks.length;
    for (let c = 0; c < n; c++) {
      const a = chunks[c];
      const base = CHUNKS + c * ARG_INTS;
      for (let i = 0; i < a.length; i++) W[base + i] = a[i];
      if (floats) for (const i of floats) { F32[0] = a[i]; W[base + i] = I32[0]; }
    }
    W[OP] = op;
    W[TIDS] = tids;
    W[ERR] = 0;
    Atomics.store(W, FIN, 0);
    epoch = (epoch + 1) & EPOCH_MASK;
    Atomics.store(W, NEXT, (epoch << EPOCH_SHIFT) | (n << CHUNK_BITS));
    Atomics.notify(W, NEXT);
    pool.stats.calls++;
    let mine = 0;
    let err = null;
    try {
      for (let c; (c = take(W)) >= 0; mine++) kernel(c);
    } catch (e) {
      // Take what is left unrun, and still wait for the helpers' chunks
      // below: the next call must not start while one of this call's runs.
      err = e;
      for (mine++; take(W) >= 0;) mine++;
    }
    pool.stats.chunks += n - mine;
    let spins = 0;
    let since = 0;
    for (let f; (f = Atomics.load(W, FIN)) !== n - mine;) {
      if (++spins > SPIN) {
        const now = performance.now();
        if (!since) since = now;
        else if (now - since > stallMs) throw new WebAssembly.RuntimeError(`alibi threads: a kernel thread has not finished its part of op ${op} after ${Math.round(stallMs / 1000)} s`);
        Atomics.wait(W, FIN, f, 1);
      }
    }
    if (err) throw err;
    if (W[ERR]) throw new WebAssembly.RuntimeError(`alibi threads: kernel op ${op} failed in a helper thread (${W[ERR]})`);
  };
}

/**
 * Returns a copy of imports (host.mjs simdImports().imports) whose large
 * matvec, matmul, matvec_q8, matmul_q8 and attend_heads calls are shared
 * with the pool's helpers. Other kernels run as before.
 * @param {Record<string, Function>} imports
 * @param {{ threads: number, helpers: any[], work: Int32Array, stats: { calls: number, chunks: number } }} pool
 * @param {{ minMatVec?: number, minMatMul?: number, stallMs?: number }} [opts] the smallest
 *   matvec (rows*cols) and matmul (n*rows*cols) that are split, and how long
 *   a call waits for a helper's chunk before it fails (default 60 s)
 */
export function threadedImports(imports, pool, { minMatVec = MIN_MATVEC, minMatMul = MIN_MATMUL, stallMs = 60000 } = {}) {
  const parts = pool.threads;
  if (parts < 2) return { ...imports };
  const run = caller(pool, stallMs);
  // split runs kernel op over n rows (or tokens) in up to per chunks a
  // thread, at multiples of ALIGN; args(start, count) are the op's
  // arguments for rows [start, start+count).
  const split = (op, n, min, work, args, per = 1) => {
    if (n < parts * ALIGN || work < min) return imports[op](...args(0, n));
    const k = parts * Math.max(1, Math.min(per, Math.floor(MAX_CHUNKS / parts), Math.floor(n / ALIGN / parts), Math.floor(work / CHUNK_WORK / parts)));
    const list = [];
    let prev = 0;
    for (let c = 1; c <= k; c++) {
      const b = c === k ? n : Math.floor((n * c) / k / ALIGN) * ALIGN;
      list.push(args(prev, b - prev));
      prev = b;
    }
    const kernel = imports[op];
    run(OPS[op], list, parts, null, (c) => kernel(...list[c]));
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
    (t, k) => [dst + t * rows * 4, x + t * cols * 4, w, k, rows, cols], MATMUL_CHUNKS);
  // scratch holds 68*(cols/32) bytes per token; each chunk gets its tokens' slice.
  out.matmul_q8 = (dst, x, w, s, n, rows, cols, block, scratch) => split('matmul_q8', n, minMatMul, n * rows * cols,
    (t, k) => [dst + t * rows * 4, x + t * cols * 4, w, s, k, rows, cols, block, scratch + t * 68 * (cols >> 5)], MATMUL_CHUNKS);
  // Heads split (no alignment needed: each head's work is independent and
  // the same kernel code either way). Each thread scores into its own npos
  // floats of sc (thread id t at sc + t*npos*4, see thread.mjs), so sclen
  // bounds the threads that take part.
  out.attend_heads = (o, q, k, v, sc, nh, d, npos, hstride, scale, slopes, sclen) => {
    const tids = Math.min(parts, nh, Math.floor(sclen / Math.max(1, npos)));
    if (tids < 2 || nh * npos * d < MIN_ATTEND) return imports.attend_heads(o, q, k, v, sc, nh, d, npos, hstride, scale, slopes, sclen);
    const n = tids; // one chunk a thread (see MATMUL_CHUNKS)
    const list = [];
    for (let c = 0; c < n; c++) {
      const h0 = Math.floor((nh * c) / n), cnt = Math.floor((nh * (c + 1)) / n) - h0;
      list.push([o + h0 * d * 4, q + h0 * d * 4, k + h0 * hstride * 4, v + h0 * hstride * 4, sc,
        cnt, d, npos, hstride, scale, slopes + h0 * 4, npos]);
    }
    run(OPS.attend_heads, list, tids, [9], (c) => imports.attend_heads(...list[c]));
    return undefined;
  };
  return out;
}
