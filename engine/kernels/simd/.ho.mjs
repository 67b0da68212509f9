// hand-off round trip: main posts matvec(rows=small) to helper, waits.
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { simdImports } from './host.mjs';
import { startPool, threadedImports } from './threads.mjs';
const mod = await WebAssembly.compile(fs.readFileSync('/work/main/build/site/kernels-mt.wasm'));
const memory = new WebAssembly.Memory({ initial: 256, maximum: 1024, shared: true });
const K = new WebAssembly.Instance(mod, { env: { mem: memory } }).exports;
const pool = await startPool({ module: mod, memory, threads: 2, spawn: () => new Worker(new URL('./thread.mjs', import.meta.url)) });
const imports = { matvec: K.matvec, matvec_q8: K.matvec_q8, matmul: K.matmul, matmul_q8: K.matmul_q8, attend_heads: K.attend_heads };
const T = threadedImports(imports, pool, { minMatVec: 0 });
const rows = Number(process.argv[2] || 32), cols = Number(process.argv[3] || 256), gapUs = Number(process.argv[4] || 0);
const N = 2000;
const busy = (us) => { const t = performance.now() + us / 1000; while (performance.now() < t); };
for (const [name, f] of [['single', K.matvec], ['split', T.matvec], ['single', K.matvec], ['split', T.matvec]]) {
  const ts = [];
  for (let i = 0; i < N; i++) { if (gapUs) busy(gapUs); const t0 = performance.now(); f(0, 1 << 20, 1 << 16, rows, cols); ts.push(performance.now() - t0); }
  ts.sort((a, b) => a - b);
  console.log(name, rows + 'x' + cols, 'gap', gapUs, 'us: median', (ts[N >> 1] * 1000).toFixed(1), 'p90', (ts[(N * 0.9) | 0] * 1000).toFixed(1));
}
pool.close();
