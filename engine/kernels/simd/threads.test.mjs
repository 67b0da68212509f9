// node --test engine/kernels/simd/  (needs build/kernels/kernels.wasm, as
// host.test.mjs, and Go to make its shared-memory variant with
// tools/wasmshared; skipped without them unless ALIBI_FULL=1)
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { simdImports } from './host.mjs';
import * as threadsMod from './threads.mjs';
import * as threadMod from './thread.mjs';

const { startPool, threadedImports, sharedMemoryFor, threadsSupported, LIMITS_SECTION } = threadsMod;

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
const wasmPath = process.env.ALIBI_KERNELS_WASM || path.join(repo, 'build/kernels/kernels.wasm');
let skip = false;
if (!fs.existsSync(wasmPath)) skip = `no ${wasmPath} (run tools/wasmexec/build-kernels.sh)`;
let mtPath = null;
if (!skip) {
  mtPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'alibi-threads-')), 'kernels-mt.wasm');
  const r = spawnSync('go', ['run', './tools/wasmshared', '-import', '-o', mtPath, wasmPath], { cwd: repo, encoding: 'utf8' });
  if (r.status !== 0) skip = `go run ./tools/wasmshared failed: ${r.stderr || r.error}`;
}
if (skip && process.env.ALIBI_FULL === '1') throw new Error(`ALIBI_FULL=1: ${skip}`);
after(() => { if (mtPath) fs.rmSync(path.dirname(mtPath), { recursive: true, force: true }); });

const spawn = () => new Worker(new URL('./thread.mjs', import.meta.url));

// A deterministic pseudo-random fill in [-0.5, 0.5).
function fill(f, off, n, seed) {
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    f[off + i] = s / 4294967296 - 0.5;
  }
}

test('threadsSupported in Node; thread.mjs speaks threads.mjs\'s protocol', () => {
  assert.equal(threadsSupported(), true);
  for (const k of ['NEXT', 'FIN', 'ERR', 'OP', 'TIDS', 'CHUNKS', 'ARG_INTS', 'MAX_CHUNKS', 'CHUNK_BITS']) assert.equal(threadMod[k], threadsMod[k], k);
  assert.equal(threadMod.take.toString(), threadsMod.take.toString(), 'the same take()');
  assert.ok(threadsMod.ARG_INTS >= 12, 'room for attend_heads\' 12 arguments');
  assert.ok(threadsMod.MAX_CHUNKS < 1 << threadsMod.CHUNK_BITS);
  assert.deepEqual(threadMod.OPS, threadsMod.OPS);
});

test('take: each chunk of a call once, none of an earlier call, none for a thread the call leaves out', () => {
  const { take, NEXT, TIDS, CHUNK_BITS } = threadsMod;
  const W = new Int32Array(threadsMod.WORK_INTS);
  W[TIDS] = 2;
  W[NEXT] = (5 << (2 * CHUNK_BITS)) | (3 << CHUNK_BITS); // epoch 5, 3 chunks
  assert.deepEqual([take(W), take(W, 1), take(W), take(W, 1)], [0, 1, 2, -1]);
  W[NEXT] = (6 << (2 * CHUNK_BITS)) | (2 << CHUNK_BITS);
  assert.equal(take(W, 2), -1, 'thread 2 of a call for 2 threads');
  assert.equal(take(W, 1), 0);
  W[TIDS] = 0;
  assert.equal(take(W, 1), -1);
});

test('sharedMemoryFor: null for an ordinary module, the limits of a threads build', async () => {
  const plain = await WebAssembly.compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
  assert.equal(sharedMemoryFor(plain), null);
  const name = new TextEncoder().encode(LIMITS_SECTION);
  const body = [name.length, ...name, 3, 0, 0, 0, 16, 0, 0, 0];
  const withLimits = await WebAssembly.compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 0, body.length, ...body]));
  const mem = sharedMemoryFor(withLimits);
  assert.ok(mem.buffer instanceof SharedArrayBuffer);
  assert.equal(mem.buffer.byteLength, 3 * 65536);
  mem.grow(13);
  assert.throws(() => mem.grow(1), RangeError, 'maximum 16 pages');
});

test('threaded kernels equal one thread bit for bit (2 and 3 threads, odd shapes)', { skip }, async () => {
  const module = await WebAssembly.compile(fs.readFileSync(mtPath));
  const memory = new WebAssembly.Memory({ initial: 1024, maximum: 4096, shared: true }); // 64 MiB
  const fakeGo = { exports: { mem: memory } };
  const simd = simdImports();
  assert.equal(simd.bind(fakeGo, module, { warmUp: true }), true);
  const one = simd.imports;
  for (const threads of [2, 3]) {
    const pool = await startPool({ module, memory, threads, spawn });
    try {
      assert.equal(pool.threads, threads);
      const par = threadedImports(one, pool, { minMatVec: 1 << 17 }); // split these test shapes too
      const f = new Float32Array(memory.buffer);
      const i8 = new Int8Array(memory.buffer);
      for (const [rows, cols, n] of [[1027, 333, 37], [4096, 256, 64], [64, 2048, 33], [2000, 1024, 3]]) {
        // byte layout: w f32, x f32 (n rows), dstA, dstB, q8 w, scales, scratch
        const W = 1 << 20, X = W + rows * cols * 4, DA = X + n * cols * 4 + 64, DB = DA + n * rows * 4 + 64;
        const Q = DB + n * rows * 4 + 64, S = Q + rows * cols + 64, SCR = S + rows * cols + 64;
        fill(f, W / 4, rows * cols, rows);
        fill(f, X / 4, n * cols, cols);
        const check = (what, len) => {
          const a = f.subarray(DA / 4, DA / 4 + len), b = f.subarray(DB / 4, DB / 4 + len);
          for (let i = 0; i < len; i++) {
            if (!Object.is(a[i], b[i])) assert.fail(`${what} ${rows}x${cols} n=${n} threads=${threads}: [${i}] ${a[i]} != ${b[i]}`);
          }
          assert.ok(a.some((v) => v !== 0), `${what}: all zero`);
        };
        const reset = (len) => { f.fill(7, DA / 4, DA / 4 + len); f.fill(-7, DB / 4, DB / 4 + len); };
        reset(rows);
        one.matvec(DA, W, X, rows, cols);
        par.matvec(DB, W, X, rows, cols);
        check('matvec', rows);
        reset(n * rows);
        one.matmul(DA, X, W, n, rows, cols);
        par.matmul(DB, X, W, n, rows, cols);
        check('matmul', n * rows);
        if (cols % 32 === 0) {
          one.quantize_q8(Q, S, W, (rows * cols) / 32);
          assert.ok(i8.subarray(Q, Q + 64).some((v) => v !== 0));
          reset(rows);
          one.matvec_q8(DA, Q, S, X, rows, cols, 32, SCR);
          par.matvec_q8(DB, Q, S, X, rows, cols, 32, SCR);
          check('matvec_q8', rows);
          reset(n * rows);
          one.matmul_q8(DA, X, Q, S, n, rows, cols, 32, SCR);
          par.matmul_q8(DB, X, Q, S, n, rows, cols, 32, SCR);
          check('matmul_q8', n * rows);
        }
      }
      assert.ok(pool.stats.calls >= 9, `only ${pool.stats.calls} calls were split`);
      assert.ok(pool.stats.chunks > 0, 'the helpers took no chunk');
      // Many small calls in a row, as a decode step makes them: each result
      // still one thread's (a chunk taken twice, or an answer read before a
      // helper's chunk was done, would show).
      const rows = 512, cols = 256, W = 1 << 20, X = W + rows * cols * 4, DA = X + cols * 4 + 64, DB = DA + rows * 4 + 64;
      fill(f, W / 4, rows * cols, 11);
      for (let it = 0; it < 2000; it++) {
        const r = 64 + 16 * (it % 29);
        fill(f, X / 4, cols, it);
        one.matvec(DA, W, X, r, cols);
        f.fill(0, DB / 4, DB / 4 + r);
        par.matvec(DB, W, X, r, cols);
        for (let i = 0; i < r; i++) if (!Object.is(f[DA / 4 + i], f[DB / 4 + i])) assert.fail(`call ${it}: matvec ${r}x${cols} [${i}]`);
      }
    } finally {
      pool.close();
    }
  }
});

test('a helper that does not run (asleep, or not scheduled) costs no wait: the caller runs every chunk', { skip }, async () => {
  const module = await WebAssembly.compile(fs.readFileSync(mtPath));
  const memory = new WebAssembly.Memory({ initial: 256, maximum: 256, shared: true });
  const simd = simdImports();
  assert.equal(simd.bind({ exports: { mem: memory } }, module), true);
  const one = simd.imports;
  // A pool of two threads whose helper never comes to take a chunk.
  const stalled = { threads: 2, helpers: [], work: new Int32Array(new SharedArrayBuffer(threadsMod.WORK_INTS * 4)), stats: { calls: 0, chunks: 0 } };
  const par = threadedImports(one, stalled, { minMatVec: 1, minMatMul: 1 });
  const f = new Float32Array(memory.buffer);
  const rows = 512, cols = 256, n = 40;
  const W = 1 << 16, X = W + rows * cols * 4, DA = X + n * cols * 4, DB = DA + n * rows * 4;
  fill(f, W / 4, rows * cols, 3);
  fill(f, X / 4, n * cols, 4);
  const same = (what, len) => {
    for (let i = 0; i < len; i++) assert.ok(Object.is(f[DA / 4 + i], f[DB / 4 + i]), `${what} [${i}]`);
  };
  one.matvec(DA, W, X, rows, cols);
  par.matvec(DB, W, X, rows, cols);
  same('matvec', rows);
  one.matmul(DA, X, W, n, rows, cols);
  par.matmul(DB, X, W, n, rows, cols);
  same('matmul', n * rows);
  assert.equal(stalled.stats.calls, 2, 'both calls were split');
  assert.equal(stalled.stats.chunks, 0, 'and every chunk run by the caller');
});

test('a kernel that throws in the caller fails that call only; the next call is whole', { skip }, async () => {
  const module = await WebAssembly.compile(fs.readFileSync(mtPath));
  const memory = new WebAssembly.Memory({ initial: 256, maximum: 256, shared: true });
  const simd = simdImports();
  assert.equal(simd.bind({ exports: { mem: memory } }, module), true);
  const one = simd.imports;
  const pool = await startPool({ module, memory, threads: 2, spawn });
  try {
    let boom = 0;
    const imports = { ...one, matmul: (...a) => { if (boom > 0 && --boom === 0) throw new Error('boom'); return one.matmul(...a); } };
    // A call left waiting for a chunk count that never comes fails in 2 s.
    const par = threadedImports(imports, pool, { minMatMul: 1, stallMs: 2000 });
    const f = new Float32Array(memory.buffer);
    const rows = 256, cols = 256, n = 128;
    const W = 1 << 16, X = W + rows * cols * 4, DA = X + n * cols * 4, DB = DA + n * rows * 4;
    fill(f, W / 4, rows * cols, 5);
    fill(f, X / 4, n * cols, 6);
    one.matmul(DA, X, W, n, rows, cols);
    let threw = 0;
    for (let it = 0; it < 50; it++) {
      boom = 1; // the first chunk the caller runs throws (the helper may have taken them all)
      try {
        par.matmul(DB, X, W, n, rows, cols);
      } catch (e) {
        assert.match(e.message, /boom/);
        threw++;
      }
      boom = 0;
      f.fill(0, DB / 4, DB / 4 + n * rows);
      par.matmul(DB, X, W, n, rows, cols);
      for (let i = 0; i < n * rows; i++) if (!Object.is(f[DA / 4 + i], f[DB / 4 + i])) assert.fail(`after a throw (${it}): [${i}]`);
    }
    assert.ok(threw >= 10, `the caller's chunk threw in ${threw} of 50 calls`);
  } finally {
    pool.close();
  }
});

test('attend_heads over threads: each thread scores in its own block, results as one thread\'s', { skip }, async () => {
  const module = await WebAssembly.compile(fs.readFileSync(mtPath));
  const memory = new WebAssembly.Memory({ initial: 256, maximum: 256, shared: true });
  const simd = simdImports();
  assert.equal(simd.bind({ exports: { mem: memory } }, module), true);
  const one = simd.imports;
  const pool = await startPool({ module, memory, threads: 3, spawn });
  try {
    const par = threadedImports(one, pool);
    const f = new Float32Array(memory.buffer);
    for (const [nh, d, npos] of [[16, 64, 300], [8, 32, 100], [7, 48, 513]]) {
      const ctx = 600, hstride = ctx * d;
      const Q = 1 << 16, K = Q + nh * d * 4, V = K + nh * hstride * 4, SL = V + nh * hstride * 4, SC = SL + nh * 4;
      const OA = SC + 4 * ctx * 4, OB = OA + nh * d * 4;
      fill(f, Q / 4, nh * d, nh);
      fill(f, K / 4, nh * hstride, d);
      fill(f, V / 4, nh * hstride, npos);
      for (let h = 0; h < nh; h++) f[SL / 4 + h] = 2 ** (-(h + 1) / 2);
      one.attend_heads(OA, Q, K, V, SC, nh, d, npos, hstride, 0.125, SL, 4 * ctx);
      const calls = pool.stats.calls, chunks = pool.stats.chunks;
      // Calls back to back keep the helpers awake and taking chunks.
      for (let it = 0; it < 300; it++) {
        f.fill(0, OB / 4, OB / 4 + nh * d);
        par.attend_heads(OB, Q, K, V, SC, nh, d, npos, hstride, 0.125, SL, 4 * ctx);
        for (let i = 0; i < nh * d; i++) if (!Object.is(f[OA / 4 + i], f[OB / 4 + i])) assert.fail(`${nh}x${d}x${npos} call ${it}: [${i}] ${f[OA / 4 + i]} != ${f[OB / 4 + i]}`);
      }
      assert.equal(pool.stats.calls, calls + 300, `${nh}x${d} at ${npos} positions was split`);
      assert.ok(pool.stats.chunks > chunks, 'the helpers took chunks');
    }
  } finally {
    pool.close();
  }
});

test('a helper that cannot instantiate the kernels fails the pool start', { skip }, async () => {
  const plainKernels = await WebAssembly.compile(fs.readFileSync(wasmPath)); // not shared: cannot link
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true });
  await assert.rejects(startPool({ module: plainKernels, memory, threads: 2, spawn }), /kernel thread failed/);
});

test('an idle helper polls for SPIN_MS after a job, then sleeps; default thresholds share a 256x256 matvec', { skip }, async () => {
  const module = await WebAssembly.compile(fs.readFileSync(mtPath));
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 64, shared: true });
  const simd = simdImports();
  assert.equal(simd.bind({ exports: { mem: memory } }, module), true);
  const pool = await startPool({ module, memory, threads: 2, spawn });
  try {
    const par = threadedImports(simd.imports, pool); // default thresholds
    const f = new Float32Array(memory.buffer);
    const W = 1 << 16, X = W + 256 * 256 * 4, D = X + 1024;
    fill(f, W / 4, 256 * 256, 1);
    fill(f, X / 4, 256, 2);
    const job = () => {
      const before = pool.stats.calls;
      par.matvec(D, W, X, 256, 256);
      assert.equal(pool.stats.calls, before + 1, 'a 256x256 matvec (a 4M-parameter model\'s) is shared');
      return Array.from(f.subarray(D / 4, D / 4 + 256));
    };
    const first = job();
    // Idle for 400 ms: a helper that kept polling would use about that much
    // CPU; one that sleeps after SPIN_MS (2 ms) uses next to none.
    const cpu0 = process.cpuUsage();
    await new Promise((r) => setTimeout(r, 400));
    const cpu = process.cpuUsage(cpu0);
    const ms = (cpu.user + cpu.system) / 1000;
    assert.ok(ms < 150, `the process used ${ms.toFixed(0)} ms of CPU in 400 ms idle: the helper did not sleep`);
    assert.ok(threadMod.SPIN_MS > 0 && threadMod.SPIN_MS <= 10, `SPIN_MS ${threadMod.SPIN_MS}`);
    assert.deepEqual(job(), first, 'a sleeping helper wakes for the next job');
  } finally {
    pool.close();
  }
});
