// thread.mjs: a kernel thread (see threads.mjs). Runs in a browser module
// Worker or a Node worker_threads Worker. Its first message is
// { module, memory, work, tid }: the shared-memory kernels (kernels-mt.wasm),
// the Go instance's shared memory, the pool's work block and this thread's
// id (1, 2, ...). It answers { ready: true } (or { error }) and from then on
// takes chunks of the calls published in the work block, polling for the
// next call for SPIN_MS after its last chunk and then sleeping in
// Atomics.wait, until the worker is terminated.
//
// Self-contained (the site serves it as simd-thread.mjs next to
// simd-threads.mjs): the protocol constants and take() below are
// threads.mjs's, which threads.test.mjs checks.

export const OPS = Object.freeze({ matvec: 1, matmul: 2, matvec_q8: 3, matmul_q8: 4, attend_heads: 5 });
export const NEXT = 0, FIN = 16, ERR = 32, OP = 33, TIDS = 34, CHUNKS = 48, ARG_INTS = 12, MAX_CHUNKS = 64;
export const CHUNK_BITS = 7;
// After a chunk the thread keeps polling for the next call for SPIN_MS
// before it sleeps in Atomics.wait: during a generation calls come every few
// tens of microseconds within a token and every few hundred between tokens,
// and a sleeping thread misses the calls that come before it is awake again
// (the caller runs their chunks alone). The clock is read every CLOCK_EVERY polls.
export const SPIN_MS = 2;
const CLOCK_EVERY = 256;
const CHUNK_MASK = (1 << CHUNK_BITS) - 1;

// take claims the next chunk of the open call for thread tid: its index, or
// -1 (as threads.mjs's take).
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

function serve({ module, memory, work, tid }, reply) {
  let K;
  try {
    K = new WebAssembly.Instance(module, { env: { mem: memory } }).exports;
  } catch (e) {
    reply({ error: String(e && e.message || e) });
    return;
  }
  const W = new Int32Array(work);
  const f = new Float32Array(work); // f32 arguments, as their bits
  reply({ ready: true });
  let last = performance.now();
  for (;;) {
    let spins = 0;
    let v = Atomics.load(W, NEXT);
    // Wait for a call with a chunk left (next below chunks) that this thread may take.
    while ((v & CHUNK_MASK) >= ((v >> CHUNK_BITS) & CHUNK_MASK) || tid >= Atomics.load(W, TIDS)) {
      if (++spins >= CLOCK_EVERY) {
        spins = 0;
        if (performance.now() - last > SPIN_MS) {
          Atomics.wait(W, NEXT, v);
          // Awake (a call came, or one was missed while waking): poll
          // again for SPIN_MS, as the calls of a generation come in runs.
          last = performance.now();
        }
      }
      v = Atomics.load(W, NEXT);
    }
    for (let c; (c = take(W, tid)) >= 0;) {
      // The call's op and arguments stay as they are until every chunk is
      // done, this one included.
      const a = CHUNKS + c * ARG_INTS;
      try {
        switch (W[OP]) {
          case OPS.matvec: K.matvec(W[a], W[a + 1], W[a + 2], W[a + 3], W[a + 4]); break;
          case OPS.matmul: K.matmul(W[a], W[a + 1], W[a + 2], W[a + 3], W[a + 4], W[a + 5]); break;
          case OPS.matvec_q8: K.matvec_q8(W[a], W[a + 1], W[a + 2], W[a + 3], W[a + 4], W[a + 5], W[a + 6], W[a + 7]); break;
          case OPS.matmul_q8: K.matmul_q8(W[a], W[a + 1], W[a + 2], W[a + 3], W[a + 4], W[a + 5], W[a + 6], W[a + 7], W[a + 8]); break;
          case OPS.attend_heads:
            // This thread's score block: npos floats at sc + tid*npos*4.
            K.attend_heads(W[a], W[a + 1], W[a + 2], W[a + 3], W[a + 4] + tid * W[a + 7] * 4, W[a + 5], W[a + 6], W[a + 7], W[a + 8],
              f[a + 9], W[a + 10], W[a + 11]);
            break;
          default: W[ERR] = -1;
        }
      } catch {
        W[ERR] = 1;
      }
      Atomics.add(W, FIN, 1);
      Atomics.notify(W, FIN);
    }
    last = performance.now();
  }
}

if (typeof WorkerGlobalScope !== 'undefined' && globalThis instanceof WorkerGlobalScope) {
  self.addEventListener('message', (e) => serve(e.data, (m) => self.postMessage(m)), { once: true });
} else if (typeof process !== 'undefined' && process.versions && process.versions.node) {
  const { parentPort, isMainThread } = await import(/* webpackIgnore: true */ 'node:worker_threads');
  if (!isMainThread && parentPort) parentPort.once('message', (m) => serve(m, (r) => parentPort.postMessage(r)));
}
