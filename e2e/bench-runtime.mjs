// Browser benchmark of the runtime (issue 4, "Speed"), in headless Chromium
// against `alibi serve`:
//   node e2e/bench-runtime.mjs [--quick] [--no-560m] [--no-build] [--json FILE]
// Reports, for the bundled model and a synthetic checkpoint with
// bloom-560m's shapes (F16 safetensors, int8 on load, HF source streamed
// with Range requests): weight streaming MB/s, peak memory against the
// weights' size in memory (JS heaps and ArrayBuffers of the page and its
// workers sampled through the DevTools protocol, plus the wasm memory; and
// the renderer's RSS growth), prefill and decode tokens/s; the f32 matvec kernel with
// SIMD128 against pure-Go wasm; and the download sizes of the runtime.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

import { repo, buildDir, startServer, CHROMIUM, CHROMIUM_ARGS, browserMissing, staticImports } from './lib/harness.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const with560m = !args.includes('--no-560m');
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : path.join(repo, 'build', 'bench', 'runtime.json');

function run(cmd, argv) {
  const r = spawnSync(cmd, argv, { cwd: repo, encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed`);
  return r.stdout;
}

const missing = await browserMissing();
if (missing) {
  console.error(`bench-runtime: ${missing}`);
  process.exit(1);
}

const site = path.join(repo, 'build', 'bench', 'site');
if (!args.includes('--no-build') || !fs.existsSync(path.join(site, 'alibi.wasm'))) {
  console.error('bench-runtime: building the served folder (wasm-opt included)...');
  process.stderr.write(run('go', ['run', './cmd/build-wasm', '-o', site]));
}
const synthName = 'bloom-560m-synth';
const synth = path.join(site, 'hf', synthName);
if (with560m && !fs.existsSync(path.join(synth, 'model.safetensors'))) {
  console.error('bench-runtime: writing a synthetic bloom-560m-shaped F16 checkpoint (1.1 GB)...');
  run('go', ['run', './e2e/lib/mkbloom', '-o', synth, '-hidden', '1024', '-layers', '24', '-heads', '16', '-vocab', '250880',
    '-dtype', 'F16', '-tokenizer', path.join(repo, 'models/brown-bloom/tokenizer.json')]);
}
const tiny = path.join(site, 'hf', 'tiny');
if (!fs.existsSync(path.join(tiny, 'model.safetensors'))) {
  run('go', ['run', './e2e/lib/mkbloom', '-o', tiny, '-hidden', '64', '-layers', '2', '-heads', '4', '-vocab', '4096',
    '-dtype', 'F16', '-tokenizer', path.join(repo, 'models/brown-bloom/tokenizer.json')]);
}
fs.writeFileSync(path.join(site, 'bench.html'), '<!doctype html><meta charset="utf-8"><title>alibi bench</title><p>bench</p>\n');

// Download sizes.
const gz = (f) => zlib.gzipSync(fs.readFileSync(f), { level: 9 }).length;
const sizes = {};
const jsFiles = staticImports(site, ['alibi.js', 'worker.js', 'simd-host.mjs']);
for (const f of ['alibi.wasm', 'kernels.wasm', 'wasm_exec.js']) {
  const p = path.join(site, f);
  if (fs.existsSync(p)) sizes[f] = { raw: fs.statSync(p).size, gzip: gz(p) };
}
sizes['runtime JS (alibi.js and its imports, worker.js, simd-host.mjs)'] = jsFiles.filter((f) => fs.existsSync(path.join(site, f)))
  .reduce((a, f) => ({ raw: a.raw + fs.statSync(path.join(site, f)).size, gzip: a.gzip + gz(path.join(site, f)) }), { raw: 0, gzip: 0 });

const server = await startServer(site);
const { chromium } = await import('playwright-core');
const browser = await chromium.launch({
  executablePath: CHROMIUM, headless: true,
  // The blink feature is harmless here; it marks this browser's processes
  // (renderers inherit it) for the memory and CPU accounting below.
  args: [...CHROMIUM_ARGS, '--enable-blink-features=ForceEagerMeasureMemory'],
});
let ctx = await browser.newContext();
let page = await ctx.newPage();
await page.goto(server.url + 'bench.html');
const isolated = await page.evaluate(() => crossOriginIsolated);

// freshPage gives each model run its own renderer process, so its memory
// is measured from a clean baseline.
async function freshPage() {
  await ctx.close();
  await new Promise((r) => setTimeout(r, 500));
  ctx = await browser.newContext();
  page = await ctx.newPage();
  await page.goto(server.url + 'bench.html');
}

async function kernel(simd, rows, cols, cold, ms) {
  return page.evaluate(async (o) => (await import('/alibi.js')).benchKernels(o), { simd, rows, cols, cold, ms });
}

// rendererRSS sums the resident memory of this browser's renderer
// processes (the page and its worker, wasm memory included), found by the
// blink feature flag only this benchmark passes.
function rendererPIDs() {
  const pids = [];
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes('--type=renderer') && cmd.includes('ForceEagerMeasureMemory')) pids.push(pid);
    } catch { /* the process exited */ }
  }
  return pids;
}

// chromiumPIDs: the browser process of this benchmark (its command line
// has the flag and no --type) and all its children (renderers, network
// service, GPU), for CPU accounting.
function chromiumPIDs() {
  const procs = [];
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const ppid = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1];
      procs.push({ pid, ppid, cmd });
    } catch { /* exited */ }
  }
  const roots = procs.filter((p) => p.cmd.includes('ForceEagerMeasureMemory') && !p.cmd.includes('--type=')).map((p) => p.pid);
  const out = new Set(roots);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs) if (out.has(p.ppid) && !out.has(p.pid)) { out.add(p.pid); grew = true; }
  }
  return [...out];
}

// cpuSeconds sums user+system CPU time of pids.
function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch { /* exited */ }
  }
  return ticks / 100; // USER_HZ
}

// jsHeaps samples, through the DevTools protocol, the JavaScript memory of
// the benchmark page and its workers (the runtime worker and the fetch
// helper it starts): V8's heap, Blink's heap and the backing stores of
// ArrayBuffers (the chunk buffers). The wasm memory of the Go instance is a
// backing store V8 does not count here; the caller adds it.
const cdp = await browser.newBrowserCDPSession();
const cdpSessions = new Map(); // targetId -> sessionId
const cdpWaits = new Map();
let cdpID = 0;
cdp.on('Target.receivedMessageFromTarget', (e) => {
  const m = JSON.parse(e.message);
  const w = cdpWaits.get(m.id);
  if (w) { cdpWaits.delete(m.id); w(m); }
});
cdp.on('Target.detachedFromTarget', (e) => {
  for (const [t, sid] of cdpSessions) if (sid === e.sessionId) cdpSessions.delete(t);
});
function cdpSend(sessionId, method, params = {}) {
  const id = ++cdpID;
  return new Promise((resolve) => {
    const timer = setTimeout(() => { cdpWaits.delete(id); resolve(null); }, 2000);
    cdpWaits.set(id, (m) => { clearTimeout(timer); resolve(m.result || null); });
    cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) }).catch(() => resolve(null));
  });
}
async function jsHeaps() {
  const { targetInfos } = await cdp.send('Target.getTargets');
  let sum = 0;
  const parts = {};
  await Promise.all(targetInfos.filter((t) => (t.type === 'page' && t.url.startsWith(server.url)) || t.type === 'worker').map(async (t) => {
    let sid = cdpSessions.get(t.targetId);
    if (!sid) {
      try {
        sid = (await cdp.send('Target.attachToTarget', { targetId: t.targetId, flatten: false })).sessionId;
      } catch {
        return; // gone
      }
      cdpSessions.set(t.targetId, sid);
    }
    const u = await cdpSend(sid, 'Runtime.getHeapUsage');
    if (!u) return;
    const n = u.usedSize + (u.embedderHeapUsedSize || 0) + (u.backingStorageSize || 0);
    sum += n;
    const k = t.type === 'page' ? 'page' : (t.title || t.url).includes('fetch') || t.url.startsWith('blob:') ? 'fetch helper' : 'worker';
    parts[k] = (parts[k] || 0) + n;
  }));
  return { sum, parts };
}

function rendererRSS(pids = rendererPIDs()) {
  let sum = 0;
  for (const pid of pids) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) sum += Number(m[1]) * 1024;
    } catch { /* the process exited */ }
  }
  return sum;
}

async function bench(label, src, options, { promptLen = 64, genTokens = 64 } = {}) {
  await freshPage();
  await page.evaluate(() => import('/alibi.js'));
  console.error(`bench-runtime: ${label}...`);
  const pids = rendererPIDs();
  const all = chromiumPIDs();
  const base = rendererRSS(pids);
  const cpu = () => ({ renderer: cpuSeconds(pids), chromium: cpuSeconds(all), server: cpuSeconds([server.pid]) });
  const cpu0 = cpu();
  let peak = base;
  const timer = setInterval(() => { peak = Math.max(peak, rendererRSS(pids)); }, 50);
  // JS memory (page + workers), sampled back to back while the load runs.
  const js0 = (await jsHeaps()).sum;
  let jsPeak = { sum: js0, parts: {} };
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const h = await jsHeaps().catch(() => null);
      if (h && h.sum > jsPeak.sum) jsPeak = h;
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  let load;
  try {
    load = await page.evaluate(async ({ src, options }) => {
      const { loadModel } = await import('/alibi.js');
      let tDownloaded = 0;
      let tWeights = 0;
      let bytesAtWeights = 0;
      let lastEvent = null;
      const t0 = performance.now();
      const m = await loadModel(src, {
        ...options,
        progressInterval: 0,
        onProgress: (e) => {
          lastEvent = e;
          // The weights phase starts with the first event that counts weight
          // bytes (the worker booted, config and tokenizer read, the engine
          // said yes; earlier events announce the plan): its rate counts the
          // bytes that arrived after that moment.
          if (!tWeights && e.network + e.cached > 0) {
            tWeights = performance.now();
            bytesAtWeights = e.network + e.cached;
          }
          if (!tDownloaded && e.network + e.cached >= e.total && e.total > 0) tDownloaded = performance.now();
        },
      });
      const loadMs = performance.now() - t0;
      globalThis.benchModel = m;
      const mem = await m.memory();
      const info = m.info;
      return {
        fileBytes: info.fileBytes, weightBytes: info.weightBytes, quant: info.quant, simd: info.simd, parameters: info.parameters,
        loadMs, streamMBps: info.fileBytes / 1e6 / (loadMs / 1000),
        weightsMs: t0 + loadMs - tWeights, weightsMBps: (info.fileBytes - bytesAtWeights) / 1e6 / ((t0 + loadMs - tWeights) / 1000),
        downloadMBps: info.fileBytes / 1e6 / (((tDownloaded || t0 + loadMs) - t0) / 1000),
        wasmBytes: mem.wasmBytes, heapAlloc: mem.heapAlloc, estimatedBytes: info.estimatedBytes,
        engineWriteMs: lastEvent ? lastEvent.engineMs : null,
      };
    }, { src, options });
    peak = Math.max(peak, rendererRSS(pids));
  } finally {
    clearInterval(timer);
    sampling = false;
    await sampler;
  }
  const cpu1 = cpu();
  const loadCPU = { renderer: cpu1.renderer - cpu0.renderer, chromium: cpu1.chromium - cpu0.chromium, server: cpu1.server - cpu0.server };
  const gen = await page.evaluate(async ({ promptLen, genTokens }) => {
    const m = globalThis.benchModel;
    const prompt = Array.from({ length: promptLen }, (_, i) => 5 + ((i * 37) % 200));
    // Warm-up (JIT tiering), then prefill and decode timings from the worker.
    for await (const _ of m.generate(prompt.slice(0, 8), { maxTokens: 4, temperature: 0, ignoreEOS: true })) { /* warm */ }
    const it = m.generate(prompt, { maxTokens: genTokens, temperature: 0, ignoreEOS: true });
    for await (const _ of it) { /* count in stats */ }
    const st = it.stats;
    const mem = await m.memory();
    await m.dispose();
    return {
      prefillTokS: st.promptTokens / (st.prefillMs / 1000), decodeTokS: (st.tokens - 1) / (st.decodeMs / 1000),
      tokens: st.tokens, promptTokens: st.promptTokens, wasmBytesAfterGen: mem.wasmBytes,
    };
  }, { promptLen, genTokens });
  // Wasm memory never shrinks, so its size after the load is its peak; JS
  // memory peaks somewhere during the load: their sum bounds the peak of
  // JS + wasm from above.
  return {
    ...load, ...gen, rssBase: base, rssPeak: peak, rssPeakDelta: peak - base, loadCPU,
    jsBase: js0, jsPeak: jsPeak.sum, jsPeakParts: jsPeak.parts, jsWasmPeak: jsPeak.sum + load.wasmBytes,
  };
}

const results = { date: new Date().toISOString(), chromium: browser.version(), crossOriginIsolated: isolated, sizes, kernels: [], models: [] };
const KERNEL_ROUNDS = quick ? 1 : 5;
const KERNEL_MS = quick ? 200 : 300;
// In the caches (one matrix), and from main memory (cold: 256 MiB of
// matrices in turn, as the weights of a decode step).
for (const [rows, cols, cold] of [[256, 256, false], [1024, 1024, false], [4096, 1024, false], [1024, 4096, false],
  [1024, 1024, true], [4096, 1024, true], [1024, 4096, true]]) {
  // Rounds of SIMD and pure Go back to back, the order alternating: a burst
  // of load from the machine's other tenants lands in one round's pair
  // instead of in one side's whole measurement. Figures are medians (the
  // ratio the median of the rounds' ratios).
  const rounds = [];
  for (let r = 0; r < KERNEL_ROUNDS; r++) {
    const first = await kernel(r % 2 === 0, rows, cols, cold, KERNEL_MS);
    const second = await kernel(r % 2 !== 0, rows, cols, cold, KERNEL_MS);
    const [simd, go] = r % 2 === 0 ? [first, second] : [second, first];
    rounds.push({ simd: simd.gflops, go: go.gflops, ratio: simd.gflops / go.gflops, simdBound: simd.simdBound });
  }
  const med = (k) => rounds.map((x) => x[k]).sort((a, b) => a - b)[rounds.length >> 1];
  results.kernels.push({ rows, cols, cold, simdGFLOPS: med('simd'), goGFLOPS: med('go'), ratio: med('ratio'), rounds: rounds.length,
    ratios: rounds.map((x) => Math.round(x.ratio * 100) / 100), simdBound: rounds.every((x) => x.simdBound) });
}
// The runtime's fixed cost (worker, compiled wasm, Go runtime): a 0.7 MB model.
results.models.push({ name: 'tiny model (fixed runtime overhead)', ...(await bench('tiny model', '/hf/tiny/', { cache: false }, { promptLen: 16, genTokens: 8 })) });
const bundled = path.join(site, 'models', 'brown-bloom', 'manifest.json');
if (fs.existsSync(bundled)) {
  results.models.push({ name: 'brown-bloom (web dir, f32)', ...(await bench('bundled model', '/models/brown-bloom/', { cache: false })) });
  results.models.push({ name: 'brown-bloom (web dir, int8)', ...(await bench('bundled model int8', '/models/brown-bloom/', { cache: false, quant: 'int8' })) });
}
if (with560m) {
  if (!quick) {
    results.models.push({
      name: 'bloom-560m shapes (HF F16, f32 in memory)',
      ...(await bench('bloom-560m-shaped f32', `/hf/${synthName}/`, { cache: false, quant: 'none', contextLength: 1024, chunkSize: 16 << 20 },
        { promptLen: 64, genTokens: 16 })),
    });
  }
  results.models.push({
    name: 'bloom-560m shapes (HF F16, int8 on load)',
    ...(await bench('bloom-560m-shaped int8', `/hf/${synthName}/`, { cache: false, quant: 'int8', contextLength: 1024, chunkSize: 16 << 20 },
      { promptLen: quick ? 16 : 64, genTokens: quick ? 8 : 32 })),
  });
}
await browser.close();
await server.stop();

const mb = (b) => (b / 1e6).toFixed(1);
console.log(`Chromium ${results.chromium}, crossOriginIsolated=${isolated}`);
console.log('\nDownload sizes (gzip -9):');
for (const [k, v] of Object.entries(sizes)) console.log(`  ${k.padEnd(58)} ${String(v.raw).padStart(9)} B raw  ${String(v.gzip).padStart(9)} B gzip`);
console.log('\nf32 matvec kernel in the browser worker:');
for (const k of results.kernels) console.log(`  ${k.rows}x${k.cols} ${k.cold ? 'from memory' : 'in cache   '}: SIMD128 ${k.simdGFLOPS.toFixed(2)} GFLOP/s, pure Go ${k.goGFLOPS.toFixed(2)} GFLOP/s, ratio ${k.ratio.toFixed(1)}x (medians of ${k.rounds} alternating rounds; ratios ${k.ratios.join(', ')})`);
const tinyRun = results.models[0] && results.models[0].name.startsWith('tiny') ? results.models[0] : null;
const fixedRSS = tinyRun ? tinyRun.rssPeakDelta : null;
// The runtime's fixed JS + wasm cost (three JS realms, the Go runtime's heap):
// the tiny model's peak less its weights.
const fixedJSWasm = tinyRun ? tinyRun.jsWasmPeak - tinyRun.weightBytes : null;
for (const r of results.models) {
  console.log(`\n${r.name}: ${mb(r.fileBytes)} MB of weights files, ${mb(r.weightBytes)} MB in memory (${r.quant}), simd=${r.simd}`);
  console.log(`  load ${(r.loadMs / 1000).toFixed(2)} s = ${r.streamMBps.toFixed(0)} MB/s end to end (download phase ${r.downloadMBps.toFixed(0)} MB/s; ` +
    `weights alone, from the first weight bytes to the model ready, ${(r.weightsMs / 1000).toFixed(2)} s = ${r.weightsMBps.toFixed(0)} MB/s); ${(r.engineWriteMs / 1000).toFixed(2)} s of it inside the engine's loader writes (${(r.fileBytes / 1e6 / (r.engineWriteMs / 1000)).toFixed(0)} MB/s)`);
  const parts = Object.entries(r.jsPeakParts).map(([k, v]) => `${k} ${mb(v)}`).join(', ');
  console.log(`  peak memory while loading: JS + wasm ${mb(r.jsWasmPeak)} MB = ${(r.jsWasmPeak / r.weightBytes).toFixed(2)}x the weights in memory (wasm ${mb(r.wasmBytes)} MB = ${(r.wasmBytes / r.weightBytes).toFixed(2)}x; JS heaps + ArrayBuffers ${mb(r.jsPeak)} MB: ${parts})` +
    (fixedJSWasm !== null && r !== tinyRun ? `; ${((r.jsWasmPeak - fixedJSWasm) / r.weightBytes).toFixed(2)}x above the runtime's fixed ${mb(fixedJSWasm)} MB (the tiny model's peak less its weights)` : ''));
  console.log(`  peak renderer RSS growth (page + workers: JS, wasm, compiled code, browser buffers) ${mb(r.rssPeakDelta)} MB = ${(r.rssPeakDelta / r.weightBytes).toFixed(2)}x` +
    (fixedRSS !== null && r !== results.models[0] ? `; ${((r.rssPeakDelta - fixedRSS) / r.weightBytes).toFixed(2)}x without the tiny model's ${mb(fixedRSS)} MB of fixed runtime cost` : ''));
  console.log(`  after generating: wasm ${mb(r.wasmBytesAfterGen)} MB = ${(r.wasmBytesAfterGen / r.weightBytes).toFixed(2)}x the weights (the session's KV cache, preallocated for the context length, and scratch come on top of the load)`);
  console.log(`  prefill ${r.prefillTokS.toFixed(1)} tok/s (${r.promptTokens} tokens), decode ${r.decodeTokS.toFixed(1)} tok/s`);
  console.log(`  CPU during load: renderer (page + worker) ${r.loadCPU.renderer.toFixed(1)} s, all Chromium ${r.loadCPU.chromium.toFixed(1)} s, alibi serve ${r.loadCPU.server.toFixed(1)} s; on an idle core the renderer alone would stream ${(r.fileBytes / 1e6 / r.loadCPU.renderer).toFixed(0)} MB/s`);
}
fs.mkdirSync(path.dirname(jsonOut), { recursive: true });
fs.writeFileSync(jsonOut, JSON.stringify(results, null, 2));
console.log(`\nwrote ${jsonOut}`);
