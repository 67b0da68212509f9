// thread.mjs: a kernel thread (see threads.mjs). Runs in a browser module
// Worker or a Node worker_threads Worker. Its first message is
// { module, memory, ctrl }: the shared-memory kernels (kernels-mt.wasm), the
// Go instance's shared memory, and this thread's control block. It answers
// { ready: true } (or { error }) and from then on serves jobs from the
// control block only, polling for the next job for SPIN_MS after each one
// and then sleeping in Atomics.wait, until the worker is terminated.
//
// Self-contained (the site serves it as simd-thread.mjs next to
// simd-threads.mjs): the protocol constants below are threads.mjs's, which
// threads.test.mjs checks.

export const OPS = Object.freeze({ matvec: 1, matmul: 2, matvec_q8: 3, matmul_q8: 4, attend_heads: 5 });
export const SEQ = 0, DONE = 1, ERR = 2, OP = 3, CLAIM = 31, ARGS = 4;
// After a job the thread keeps polling for the next one for SPIN_MS before
// it sleeps in Atomics.wait: during a generation jobs come every few tens of
// microseconds within a token and every few hundred between tokens, and a
// sleeping thread costs the caller a wake-up (a futex call, then the thread
// being scheduled) on each of them. The clock is read every CLOCK_EVERY polls.
export const SPIN_MS = 2;
const CLOCK_EVERY = 256;

function serve({ module, memory, ctrl }, reply) {
  let K;
  try {
    K = new WebAssembly.Instance(module, { env: { mem: memory } }).exports;
  } catch (e) {
    reply({ error: String(e && e.message || e) });
    return;
  }
  const c = new Int32Array(ctrl);
  const f = new Float32Array(ctrl); // f32 arguments, as their bits
  let seen = Atomics.load(c, SEQ); // before the reply: the first job may follow it at once
  reply({ ready: true });
  let last = performance.now();
  for (;;) {
    let spins = 0;
    while (Atomics.load(c, SEQ) === seen) {
      if (++spins < CLOCK_EVERY) continue;
      spins = 0;
      if (performance.now() - last > SPIN_MS) Atomics.wait(c, SEQ, seen);
    }
    seen = Atomics.load(c, SEQ);
    const a = ARGS;
    // The job is this thread's only if the caller has not taken it back
    // (nor posted a newer one: then this one was taken, and the loop comes
    // round to the newer one).
    if (Atomics.compareExchange(c, CLAIM, seen, 0) === seen) try {
      switch (c[OP]) {
        case OPS.matvec: K.matvec(c[a], c[a + 1], c[a + 2], c[a + 3], c[a + 4]); break;
        case OPS.matmul: K.matmul(c[a], c[a + 1], c[a + 2], c[a + 3], c[a + 4], c[a + 5]); break;
        case OPS.matvec_q8: K.matvec_q8(c[a], c[a + 1], c[a + 2], c[a + 3], c[a + 4], c[a + 5], c[a + 6], c[a + 7]); break;
        case OPS.matmul_q8: K.matmul_q8(c[a], c[a + 1], c[a + 2], c[a + 3], c[a + 4], c[a + 5], c[a + 6], c[a + 7], c[a + 8]); break;
        case OPS.attend_heads:
          K.attend_heads(c[a], c[a + 1], c[a + 2], c[a + 3], c[a + 4], c[a + 5], c[a + 6], c[a + 7], c[a + 8], f[a + 9], c[a + 10], c[a + 11]);
          break;
        default: c[ERR] = -1;
      }
    } catch {
      c[ERR] = 1;
    }
    Atomics.store(c, DONE, seen);
    Atomics.notify(c, DONE);
    last = performance.now();
  }
}

if (typeof WorkerGlobalScope !== 'undefined' && globalThis instanceof WorkerGlobalScope) {
  self.addEventListener('message', (e) => serve(e.data, (m) => self.postMessage(m)), { once: true });
} else if (typeof process !== 'undefined' && process.versions && process.versions.node) {
  const { parentPort, isMainThread } = await import(/* webpackIgnore: true */ 'node:worker_threads');
  if (!isMainThread && parentPort) parentPort.once('message', (m) => serve(m, (r) => parentPort.postMessage(r)));
}
