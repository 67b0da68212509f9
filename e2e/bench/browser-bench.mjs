// Browser benchmark (issue 8): this engine (web/alibi.js) against llama.cpp
// in WebAssembly (@wllama/wllama 2.3.7) on the same weights, in the same
// headless Debian Chromium, in the same run: single-threaded (our one Go
// thread, wllama's single-thread build), then with --threads N both with N
// threads on the cross-origin isolated page (our kernel threads,
// engine/kernels/simd/threads.mjs; wllama's multi-thread build).
//
//   node e2e/bench/browser-bench.mjs [--runs N] [--load-runs N] [--page-runs N] [--prompt N]
//        [--small-runs N] [--small-page-runs N] (the small model's --runs and --page-runs: 7)
//        [--small-load-runs N] (the small model's --load-runs: 5)
//        [--tokens N] [--models small,560m] [--pairs f32,int8] [--threads 1,2] [--latency MS] [--quick]
//        [--json FILE] [--md FILE]
//   make bench-browser            (ALIBI_SITE=build/site ALIBI_BIN=build/alibi)
//   alibi bench browser [flags]   (the same script through node)
//
// Models: the bundled model (models/brown-bloom) when its weights exist,
// else a small synthetic checkpoint; and a synthetic checkpoint with
// bloom-560m's shapes (hidden 1024, 16 heads, 24 layers, vocab 250880, F16),
// generated once into build/bench/ by e2e/lib/mkbloom (engine/safetensors).
// Each is converted with `alibi convert --to gguf` to F32 and Q8_0 for
// wllama. Pairs: our f32 (HF safetensors, F16 widened on load) vs wllama
// F32, and our int8 (quantized on load) vs wllama Q8_0.
//
// Figures, per runtime and pair: load time on a first visit (empty caches)
// and from each runtime's cache (median of --load-runs in the same page, and
// of --page-runs in new tabs, ours and wllama alternating; with --latency MS
// the new tabs' requests wait MS each way, as on a real network, through
// DevTools network emulation), prefill tokens/s on
// a --prompt token prompt and decode tokens/s over --tokens tokens (median
// of --runs after a warm-up generation), peak renderer memory growth
// (resident set of the page + its workers, /proc) and, for ours, the wasm
// linear memory; the gzipped download size of each runtime; and a
// streaming-read bandwidth probe (SIMD sum over 256 MiB in wasm,
// e2e/bench/stream.wat) that gives each decode as a percentage of the
// bandwidth bound (weight bytes read per token / bandwidth).
//
// Output: a table with ratios ours/wllama, JSON (build/bench/browser-bench.json)
// and markdown (e2e/bench/RESULTS.md).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

import { repo, CHROMIUM, CHROMIUM_ARGS, browserMissing, startServer, staticImports } from '../lib/harness.mjs';
import { splitGGUF } from './gguf-split.mjs';
import { render } from './report.mjs';

// ---- options ----------------------------------------------------------------
const argv = process.argv.slice(2);
const flag = (name, def) => {
  const i = argv.indexOf('--' + name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : def;
};
const quick = argv.includes('--quick');
const RUNS = Number(flag('runs', quick ? 1 : 3));
const LOAD_RUNS = Number(flag('load-runs', quick ? 1 : 2));
const PAGE_RUNS = Number(flag('page-runs', quick ? 1 : 3));
// The small model's runs take well under a second each, and one run of a
// figure on this busy 2-core machine can move by 2x: it gets more of them.
const SMALL_RUNS = Number(flag('small-runs', Math.max(RUNS, quick ? 1 : 7)));
const SMALL_PAGE_RUNS = Number(flag('small-page-runs', Math.max(PAGE_RUNS, quick ? 1 : 7)));
// The small model's same-page loads take about 0.1 s each: two of them left its
// median at the mercy of one slow load (0.87x, 0.94x and 1.07x in three runs).
const SMALL_LOAD_RUNS = Number(flag('small-load-runs', Math.max(LOAD_RUNS, quick ? 1 : 5)));
const runsOf = (m) => (m.small ? SMALL_RUNS : RUNS);
const pageRunsOf = (m) => (m.small ? SMALL_PAGE_RUNS : PAGE_RUNS);
const loadRunsOf = (m) => (m.small ? SMALL_LOAD_RUNS : LOAD_RUNS);
const LATENCY = Number(flag('latency', 0));
const PROMPT = Number(flag('prompt', quick ? 32 : 256));
const TOKENS = Number(flag('tokens', quick ? 16 : 128));
const MODELS = flag('models', 'small,560m').split(',');
const PAIRS = flag('pairs', 'f32,int8').split(',');
const THREADS = flag('threads', '1,2').split(',').map(Number).filter((n) => n >= 1);
const benchDir = path.join(repo, 'build', 'bench');
const jsonOut = path.resolve(flag('json', path.join(benchDir, 'browser-bench.json')));
const mdOut = path.resolve(flag('md', path.join(repo, 'e2e', 'bench', 'RESULTS.md')));
const CTX = 512;
// wllama reads one file of at most 2 GB; its README advises shards of <= 512 MB.
const SPLIT_MAX = Number(flag('split-max-mib', 512)) * (1 << 20);

const log = (...a) => console.error('bench-browser:', ...a);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: repo, encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const missing = await browserMissing();
if (missing) {
  log(missing);
  process.exit(1);
}
const wllamaPkg = path.join(repo, 'node_modules', '@wllama', 'wllama');
if (!fs.existsSync(path.join(wllamaPkg, 'esm', 'index.js'))) {
  log('node_modules/@wllama/wllama is missing (npm ci at the repository root)');
  process.exit(1);
}
const wllamaVersion = JSON.parse(fs.readFileSync(path.join(wllamaPkg, 'package.json'), 'utf8')).version;

// ---- build inputs -------------------------------------------------------------
fs.mkdirSync(benchDir, { recursive: true });
let site = process.env.ALIBI_SITE;
if (!site || !fs.existsSync(path.join(site, 'alibi.js'))) {
  site = path.join(repo, 'build', 'site');
  log(`building the served folder into ${site} ...`);
  run('go', ['run', './cmd/build-wasm', '-o', site]);
}
let bin = process.env.ALIBI_BIN;
if (!bin || !fs.existsSync(bin)) {
  bin = path.join(benchDir, 'alibi');
  log('building the alibi CLI ...');
  run('go', ['build', '-o', bin, './cmd/alibi']);
}
process.env.ALIBI_BIN = bin; // startServer uses it

const tokenizer = path.join(repo, 'models', 'brown-bloom', 'tokenizer.json');
function synth(name, args) {
  const dir = path.join(benchDir, name);
  if (!fs.existsSync(path.join(dir, 'model.safetensors'))) {
    log(`writing the synthetic checkpoint ${name} (${args.join(' ')}) ...`);
    run('go', ['run', './e2e/lib/mkbloom', '-o', dir, ...args, '-tokenizer', tokenizer]);
  }
  return dir;
}
const models = [];
for (const m of MODELS) {
  if (m === 'small') {
    const bundled = path.join(repo, 'models', 'brown-bloom');
    if (fs.existsSync(path.join(bundled, 'model.safetensors')) || fs.existsSync(path.join(bundled, 'model.safetensors.index.json'))) {
      models.push({ name: 'brown-bloom', dir: bundled, small: true });
    } else {
      models.push({
        name: 'small-synth', small: true, note: 'models/brown-bloom has no weights yet: synthetic hidden 512, 8 heads, 8 layers, vocab 8192, F16',
        dir: synth('small-synth', ['-hidden', '512', '-layers', '8', '-heads', '8', '-vocab', '8192', '-dtype', 'F16']),
      });
    }
  } else if (m === '560m') {
    models.push({ name: 'bloom-560m-synth', dir: synth('bloom-560m-synth', ['-hidden', '1024', '-layers', '24', '-heads', '16', '-vocab', '250880', '-dtype', 'F16']) });
  } else {
    throw new Error(`--models: unknown ${m} (small, 560m)`);
  }
}
for (const m of models) {
  m.gguf = {};
  const out = path.join(benchDir, 'gguf', m.name);
  fs.mkdirSync(out, { recursive: true });
  for (const t of ['f32', 'q8_0']) {
    const f = path.join(out, `model-${t}.gguf`);
    const src = path.join(m.dir, 'model.safetensors');
    if (!fs.existsSync(f) || (fs.existsSync(src) && fs.statSync(src).mtimeMs > fs.statSync(f).mtimeMs)) {
      log(`alibi convert --to gguf --gguf-type ${t} ${m.name} ...`);
      run(bin, ['convert', '--model', m.dir, '--out', out, '--to', 'gguf', '--gguf-type', t]);
    }
    m.gguf[t] = f;
    // Shards for wllama (llama.cpp gguf-split layout), rebuilt when the GGUF changes.
    const prefix = path.join(out, `split-${SPLIT_MAX >> 20}M`, `model-${t}`);
    fs.mkdirSync(path.dirname(prefix), { recursive: true });
    const stamp = prefix + '.stamp';
    const want = `${fs.statSync(f).size} ${fs.statSync(f).mtimeMs}`;
    if (fs.statSync(f).size > SPLIT_MAX && !(fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want)) {
      log(`splitting ${path.basename(f)} into <= ${SPLIT_MAX >> 20} MiB shards ...`);
      for (const old of fs.readdirSync(path.dirname(prefix))) if (old.startsWith(`model-${t}-`)) fs.rmSync(path.join(path.dirname(prefix), old));
      splitGGUF(f, prefix, SPLIT_MAX);
      fs.writeFileSync(stamp, want);
    }
    m.shards = m.shards || {};
    m.shards[t] = fs.statSync(f).size > SPLIT_MAX
      ? fs.readdirSync(path.dirname(prefix)).filter((x) => x.startsWith(`model-${t}-`) && x.endsWith('.gguf')).sort().map((x) => path.join(path.dirname(prefix), x))
      : [f];
  }
  m.config = JSON.parse(fs.readFileSync(path.join(m.dir, 'config.json'), 'utf8'));
}

// The served folder: the built site plus the models, the GGUFs, wllama's
// ESM build and the bench page. `alibi serve` confines itself to its root
// (os.Root), so files are hard links (or copies), not symlinks.
const www = path.join(benchDir, 'www');
fs.rmSync(www, { recursive: true, force: true });
function place(src, dst) {
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  try {
    fs.linkSync(src, dst);
  } catch {
    fs.copyFileSync(src, dst);
  }
}
function placeDir(src, dst, skip = () => false) {
  for (const e of fs.readdirSync(src, { withFileTypes: true })) {
    const s = path.join(src, e.name);
    if (skip(s)) continue;
    if (e.isDirectory()) placeDir(s, path.join(dst, e.name), skip);
    else if (e.isFile()) place(s, path.join(dst, e.name));
  }
}
placeDir(site, www, (p) => p === path.join(site, 'models'));
placeDir(path.join(wllamaPkg, 'esm'), path.join(www, 'wllama'));
// wllama's worker glue reads the pointers its wasm returns (wllama_malloc,
// wllama_action) as signed 32-bit numbers: once the heap passes 2 GiB (a
// 2.2 GB F32 model in its single-thread build) `new Uint8Array(heap,
// pointer)` throws "Start offset -2048503664 is outside the bounds of the
// buffer" and the model cannot load. The bench serves its index.js with the
// two pointers read as unsigned (`>>> 0`), which changes nothing below
// 2 GiB, so that the 560m F32 pair has a wllama figure in one thread too.
const wllamaFix = [
  ['await wllamaMalloc(argEncodedMsg.byteLength, 0)', '(await wllamaMalloc(argEncodedMsg.byteLength, 0)) >>> 0'],
  ['await wllamaAction(argAction, inputPtr)', '(await wllamaAction(argAction, inputPtr)) >>> 0'],
];
let wllamaPatched = false;
{
  const f = path.join(www, 'wllama', 'index.js');
  let src = fs.readFileSync(f, 'utf8');
  if (wllamaFix.every(([a]) => src.split(a).length === 2)) {
    for (const [a, b] of wllamaFix) src = src.replace(a, b);
    fs.unlinkSync(f); // a hard link to node_modules: write a new file
    fs.writeFileSync(f, src);
    wllamaPatched = true;
  } else {
    log('wllama: its worker glue changed; serving it unpatched (pointers over 2 GiB may fail)');
  }
}
for (const m of models) {
  for (const f of fs.readdirSync(m.dir)) {
    if (/\.(json|safetensors)$/.test(f)) place(path.join(m.dir, f), path.join(www, 'hf', m.name, f));
  }
  for (const files of Object.values(m.shards)) for (const f of files) place(f, path.join(www, 'gguf', m.name, path.basename(f)));
}
const streamWasm = path.join(www, 'stream.wasm');
run('wat2wasm', [path.join(repo, 'e2e', 'bench', 'stream.wat'), '-o', streamWasm]);
fs.writeFileSync(path.join(www, 'bench.html'), `<!doctype html><meta charset="utf-8"><title>alibi browser bench</title>
<p>bench</p>
<script type="module">
import * as alibi from '/alibi.js';
import { Wllama } from '/wllama/index.js';
window.alibi = alibi;
window.Wllama = Wllama;
window.benchReady = true;
</script>
`);

// ---- download sizes (gzip -9) --------------------------------------------------
const gz = (f) => zlib.gzipSync(fs.readFileSync(f), { level: 9 }).length;
function sizeOf(files) {
  let raw = 0;
  let gzip = 0;
  for (const f of files) {
    raw += fs.statSync(f).size;
    gzip += gz(f);
  }
  return { raw, gzip, files: files.map((f) => path.relative(www, f)) };
}
// The page's modules (alibi.js and what it imports), the worker's (worker.js
// has its loader modules inlined by the build) and the wasm.
const oursFiles = [...staticImports(www, ['alibi.js', 'worker.js', 'simd-host.mjs']), 'alibi.wasm', 'kernels.wasm', 'wasm_exec.js']
  .map((f) => path.join(www, f)).filter((f) => fs.existsSync(f));
const sizes = {
  ours: sizeOf(oursFiles),
  wllama: sizeOf([path.join(www, 'wllama', 'index.js'), path.join(www, 'wllama', 'single-thread', 'wllama.wasm')]),
};

// ---- renderer memory (/proc) ---------------------------------------------------
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'alibi-bench-profile-'));
function rendererRSS() {
  // The renderers (page and workers, wasm memory included) descend from the
  // browser process started with this run's --user-data-dir.
  const procs = new Map();
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      procs.set(pid, { cmd, ppid: /PPid:\s+(\d+)/.exec(st)?.[1], rss: Number(/VmRSS:\s+(\d+) kB/.exec(st)?.[1] ?? 0) * 1024 });
    } catch { /* exited */ }
  }
  const ours = (pid) => {
    for (let i = 0; pid && i < 10; i++) {
      const p = procs.get(pid);
      if (!p) return false;
      if (p.cmd.includes(profile) && !p.cmd.includes('--type=')) return true;
      pid = p.ppid;
    }
    return false;
  };
  let sum = 0;
  for (const [pid, p] of procs) if (p.cmd.includes('--type=renderer') && ours(pid)) sum += p.rss;
  return sum;
}
// settleRSS waits (up to 15 s) until the renderers stop giving memory back
// (terminated workers unmap their wasm memory asynchronously) and returns
// the lowest resident set seen: the baseline of the next phase.
async function settleRSS() {
  let low = rendererRSS();
  let since = Date.now();
  const t0 = Date.now();
  while (Date.now() - since < 1000 && Date.now() - t0 < 15000) {
    await new Promise((r) => setTimeout(r, 200));
    const x = rendererRSS();
    if (x < low - (4 << 20)) since = Date.now();
    low = Math.min(low, x);
  }
  return low;
}

async function withRSS(fn) {
  const base = await settleRSS();
  let peak = base;
  const timer = setInterval(() => { peak = Math.max(peak, rendererRSS()); }, 50);
  try {
    const r = await fn();
    peak = Math.max(peak, rendererRSS());
    return { ...r, rssPeakDelta: peak - base };
  } finally {
    clearInterval(timer);
  }
}

// ---- browser --------------------------------------------------------------------
const server = await startServer(www);
const { chromium } = await import('playwright-core');
// A persistent profile: a real disk quota for Cache Storage and OPFS (an
// incognito context's quota is too small for the 560m-shaped model). The
// profile path in the renderers' command line identifies them for rendererRSS.
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS,
});
const page = context.pages()[0] || (await context.newPage());
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(String(e)));
await page.goto(server.url + 'bench.html');
await page.waitForFunction(() => window.benchReady === true);
const chromiumVersion = context.browser() ? context.browser().version() : (await page.evaluate(() => navigator.userAgent)).match(/Chrome\/(\S+)/)?.[1];
const isolated = await page.evaluate(() => crossOriginIsolated);

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const prompts = (vocab) => Array.from({ length: Math.max(RUNS, SMALL_RUNS) + 1 }, (_, r) =>
  // Every run starts with a different token, so no runtime can reuse a cached prefix.
  Array.from({ length: PROMPT }, (_, i) => 5 + ((i * 37 + r * 101 + 13 * r * i) % Math.min(vocab - 10, 4000))));

// bandwidth: SIMD sum over 256 MiB in wasm (stream.wat), after tier-up; median GB/s of 7.
async function bandwidth() {
  return page.evaluate(async () => {
    const { instance } = await WebAssembly.instantiateStreaming(fetch('/stream.wasm'));
    const { mem, sum } = instance.exports;
    const bytes = 256 << 20;
    mem.grow(bytes / 65536);
    new Float32Array(mem.buffer, 0, bytes / 4).fill(1);
    const t0 = performance.now();
    while (performance.now() - t0 < 500) sum(0, 1 << 14); // tier up (TurboFan)
    const gbps = [];
    for (let r = 0; r < 7; r++) {
      const t = performance.now();
      sum(0, bytes);
      gbps.push(bytes / 1e9 / ((performance.now() - t) / 1000));
    }
    gbps.sort((a, b) => a - b);
    return { runs: gbps, median: gbps[3], best: gbps[6] };
  });
}

// The in-page loads (functions for page.evaluate): each runtime's model
// stays loaded, ours in window.cur, wllama's in window.curW. With first,
// the runtime's model cache is cleared before: ours (records and small files
// in Cache Storage, weight chunks in the private file system; the runtime's
// own copy of its wasm, alibi-runtime-v1, stays, as wllama's wasm stays in
// the HTTP cache: a first visit of a model, not of the runtime), or wllama's
// OPFS cache. wllama: n_ctx ctx, f32 KV cache; the single-thread build, or
// with threads > 1 the multi-thread build (it needs the page to be
// cross-origin isolated).
async function oursLoadInPage({ src, opts, first }) {
  if (first) {
    await caches.delete('alibi-models-v1');
    await (await navigator.storage.getDirectory()).removeEntry('alibi-models-v1', { recursive: true }).catch(() => {});
  }
  const t0 = performance.now();
  const model = await window.alibi.loadModel(src, opts);
  const ms = performance.now() - t0;
  window.cur = model;
  return { ms, cached: !!model.info.cached, weightBytes: model.info.weightBytes, simd: model.info.simd, threads: model.info.threads,
    threadsFallback: model.info.threadsFallback };
}

async function wllamaLoadInPage({ url, first, ctx, threads, version }) {
  // Versioned URLs: alibi serve sends them as immutable, as it does our
  // runtime's, so a new tab revalidates neither runtime's wasm.
  const v = `?v=${encodeURIComponent(version)}`;
  const paths = { 'single-thread/wllama.wasm': '/wllama/single-thread/wllama.wasm' + v };
  if (threads > 1) paths['multi-thread/wllama.wasm'] = '/wllama/multi-thread/wllama.wasm' + v;
  const w = new window.Wllama(paths, { suppressNativeLog: true, parallelDownloads: 3 });
  if (first) await w.cacheManager.clear();
  const t0 = performance.now();
  await w.loadModelFromUrl(url, {
    n_ctx: ctx, n_batch: ctx, n_threads: threads, seed: 1, cache_type_k: 'f32', cache_type_v: 'f32', flash_attn: false,
  });
  const ms = performance.now() - t0;
  window.curW = w;
  return { ms, threads: w.getNumThreads(), multi: w.isMultithread() };
}

const oursArgs = (m, quant, threads, first) => ({ src: `/hf/${m.name}/`, opts: { quant, contextLength: CTX, cache: true, threads }, first });
const wllamaArgs = (m, type, threads, first) => ({
  url: m.shards[type].map((f) => new URL(`gguf/${m.name}/${path.basename(f)}`, server.url).href), first, ctx: CTX, threads,
  version: wllamaVersion,
});
const disposeIn = (p) => p.evaluate(async () => { await window.cur.dispose(); window.cur = null; });
const exitIn = (p) => p.evaluate(async () => { await window.curW.exit(); window.curW = null; });

// ours: a first-visit load (model cache cleared), loads from that cache,
// and a warm-up generation; the model stays loaded (window.cur) for the
// timed generations, which alternate with wllama's (genOurs/genWllama): on
// a shared machine, paired runs keep the ratio honest when the load changes.
async function loadOurs(m, quant, threads) {
  const load = (first) => page.evaluate(oursLoadInPage, oursArgs(m, quant, threads, first));
  return withRSS(async () => {
    const first = await load(true);
    await disposeIn(page);
    const cachedLoads = [];
    for (let i = 0; i < loadRunsOf(m); i++) {
      cachedLoads.push(await load(false));
      if (i < loadRunsOf(m) - 1) await disposeIn(page);
    }
    await genOurs(prompts(m.config.vocab_size)[0], 8); // warm-up
    return {
      firstLoadMs: first.ms, cachedLoadMs: median(cachedLoads.map((l) => l.ms)), cachedLoadRuns: cachedLoads.map((l) => l.ms),
      fromCache: cachedLoads.every((l) => l.cached), weightBytes: first.weightBytes, simd: first.simd,
      threads: first.threads, threadsFallback: first.threadsFallback,
    };
  });
}

// genOurs runs one greedy generation on window.cur and returns its timings.
async function genOurs(prompt, tokens) {
  return page.evaluate(async ({ prompt, tokens }) => {
    const it = window.cur.generate(prompt, { maxTokens: tokens, ignoreEOS: true });
    let n = 0;
    for await (const _ of it) n++; // eslint-disable-line no-unused-vars
    const st = it.stats;
    return {
      tokens: n, prefillTokS: st.promptTokens / (st.prefillMs / 1000),
      decodeTokS: (st.tokens - 1) / (st.decodeMs / 1000), prefillMs: st.prefillMs, decodeMs: st.decodeMs,
    };
  }, { prompt, tokens });
}

async function disposeOurs() {
  return page.evaluate(async () => {
    const mem = await window.cur.memory();
    await window.cur.dispose();
    window.cur = null;
    return mem.wasmBytes;
  });
}

// wllama: a first-visit load (its OPFS cache cleared), loads from that
// cache and a warm-up generation; the model stays loaded (window.curW).
async function loadWllama(m, type, threads) {
  const load = (first) => page.evaluate(wllamaLoadInPage, wllamaArgs(m, type, threads, first));
  return withRSS(async () => {
    const first = await load(true);
    await exitIn(page);
    const cachedLoads = [];
    for (let i = 0; i < loadRunsOf(m); i++) {
      cachedLoads.push(await load(false));
      if (i < loadRunsOf(m) - 1) await exitIn(page);
    }
    await genWllama(prompts(m.config.vocab_size)[0], 8); // warm-up
    return {
      firstLoadMs: first.ms, cachedLoadMs: median(cachedLoads.map((l) => l.ms)), cachedLoadRuns: cachedLoads.map((l) => l.ms),
      threads: first.threads, multithread: first.multi,
    };
  });
}

// freshPageLoads: each runtime loads the model from its cache in a new tab
// (a new document, as for a returning visitor), once both runtimes' models
// of the pair are gone: nothing compiled stays from the loads above (ours
// hands its compiled engine from one load to the next only within a page).
// --page-runs pairs of tabs, the order alternating (ours first in the first
// pair); returns the median milliseconds of each runtime and the runs.
// A wllama failure in any pair is its result.
async function freshPageLoads(m, quant, type, threads) {
  const pairs = [];
  for (let i = 0; i < pageRunsOf(m); i++) pairs.push(await freshPagePair(m, quant, type, threads, i % 2 === 1));
  const oursRuns = pairs.map((p) => p.ours.ms);
  const failed = pairs.find((p) => p.wllama.error);
  const wlRuns = pairs.map((p) => p.wllama.ms);
  return {
    ours: { ms: median(oursRuns), runs: oursRuns, cached: pairs.every((p) => p.ours.cached) },
    wllama: failed ? failed.wllama : { ms: median(wlRuns), runs: wlRuns },
  };
}

async function freshPagePair(m, quant, type, threads, wllamaFirst) {
  const inNewPage = async (run) => {
    const p = await context.newPage();
    try {
      if (LATENCY > 0) {
        const c = await context.newCDPSession(p);
        await c.send('Network.enable');
        await c.send('Network.emulateNetworkConditions', { offline: false, latency: LATENCY, downloadThroughput: -1, uploadThroughput: -1 });
      }
      await p.goto(server.url + 'bench.html');
      await p.waitForFunction(() => window.benchReady === true);
      return await run(p);
    } finally {
      await p.close();
    }
  };
  const loadOurs = () => inNewPage(async (p) => {
    const r = await p.evaluate(oursLoadInPage, oursArgs(m, quant, threads, false));
    await disposeIn(p);
    return r;
  });
  const loadWllama = () => inNewPage(async (p) => {
    const r = await p.evaluate(wllamaLoadInPage, wllamaArgs(m, type, threads, false));
    await exitIn(p);
    return r;
  }).catch((e) => ({ error: String(e.message || e).split('\n')[0] }));
  let ours;
  let wl;
  if (wllamaFirst) {
    wl = await loadWllama();
    ours = await loadOurs();
  } else {
    ours = await loadOurs();
    wl = await loadWllama();
  }
  return { ours, wllama: wl };
}

// genWllama: decode(prompt), then sample + decode per token, greedy; the
// same work as our generate loop (the first token's sampling counts in the
// prefill, as in ours).
async function genWllama(prompt, tokens) {
  return page.evaluate(async ({ prompt, steps }) => {
    const w = window.curW;
    await w.kvClear();
    await w.samplingInit({ temp: 0, top_k: 1 });
    const t0 = performance.now();
    await w.decode(prompt, {});
    let tok = (await w.samplingSample()).token;
    const t1 = performance.now();
    for (let i = 1; i < steps; i++) {
      await w.samplingAccept([tok]);
      await w.decode([tok], {});
      tok = (await w.samplingSample()).token;
    }
    const t2 = performance.now();
    return {
      tokens: steps, prefillTokS: prompt.length / ((t1 - t0) / 1000), decodeTokS: (steps - 1) / ((t2 - t1) / 1000),
      prefillMs: t1 - t0, decodeMs: t2 - t1,
    };
  }, { prompt, steps: tokens });
}

// ggufTensorBytes: the weight bytes a GGUF holds (file size minus header);
// close enough to "bytes read per token" for the bandwidth bound.
const ggufBytes = (f) => fs.statSync(f).size;

const results = {
  date: new Date().toISOString(), machine: machine(), chromium: chromiumVersion, crossOriginIsolated: isolated,
  wllama: wllamaVersion, wllamaPointerFix: wllamaPatched, settings: { runs: RUNS, smallRuns: SMALL_RUNS, loadRuns: LOAD_RUNS, smallLoadRuns: SMALL_LOAD_RUNS, pageRuns: PAGE_RUNS, smallPageRuns: SMALL_PAGE_RUNS, latencyMs: LATENCY, prompt: PROMPT, tokens: TOKENS, contextLength: CTX, threads: THREADS, splitMaxMiB: SPLIT_MAX >> 20 },
  sizes, bandwidth: {}, models: [],
};
function machine() {
  const cpu = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? 'unknown';
  return { nproc: os.availableParallelism ? os.availableParallelism() : os.cpus().length, cpu, loadavg: os.loadavg() };
}

try {
  log('streaming-read bandwidth ...');
  results.bandwidth.before = await bandwidth();
  for (const threads of THREADS) for (const m of models) {
    for (const pair of PAIRS) {
      const quant = pair === 'int8' ? 'int8' : 'none';
      const tag = `${m.name} ${pair} ${threads}T`;
      const type = pair === 'int8' ? 'q8_0' : 'f32';
      // A fresh document per pair: nothing of the previous pair stays alive.
      await page.reload();
      await page.waitForFunction(() => window.benchReady === true);
      log(`${tag}: loading ours ...`);
      const ours = await loadOurs(m, quant, threads);
      log(`${tag}: loading wllama ...`);
      let wl;
      try {
        wl = await loadWllama(m, type, threads);
        wl.weightBytes = ggufBytes(m.gguf[type]);
      } catch (e) {
        wl = { error: String(e.message || e).split('\n')[0] };
        log(`${tag}: wllama failed: ${wl.error}`);
      }
      ours.runs = [];
      if (!wl.error) wl.runs = [];
      const ps = prompts(m.config.vocab_size);
      for (let r = 1; r <= runsOf(m); r++) {
        ours.runs.push(await genOurs(ps[r], TOKENS));
        if (!wl.error) {
          try {
            wl.runs.push(await genWllama(ps[r], TOKENS));
          } catch (e) {
            wl = { ...wl, error: String(e.message || e).split('\n')[0] };
          }
        }
        const o = ours.runs.at(-1);
        const w = wl.runs && wl.runs.at(-1);
        log(`${tag} run ${r}: ours prefill ${o.prefillTokS.toFixed(1)} decode ${o.decodeTokS.toFixed(2)} tok/s` +
          (w ? `; wllama prefill ${w.prefillTokS.toFixed(1)} decode ${w.decodeTokS.toFixed(2)} tok/s` : ''));
      }
      for (const x of [ours, wl]) {
        if (x.runs && x.runs.length) {
          x.prefillTokS = median(x.runs.map((r) => r.prefillTokS));
          x.decodeTokS = median(x.runs.map((r) => r.decodeTokS));
        }
      }
      ours.wasmBytes = await disposeOurs();
      if (!wl.error || wl.runs) await exitIn(page).catch(() => {});
      log(`${tag}: loading each from its cache in a new page ...`);
      const fresh = await freshPageLoads(m, quant, type, threads);
      ours.newPageLoadMs = fresh.ours.ms;
      ours.newPageLoadRuns = fresh.ours.runs;
      ours.newPageFromCache = fresh.ours.cached;
      if (!wl.error && !fresh.wllama.error) {
        wl.newPageLoadMs = fresh.wllama.ms;
        wl.newPageLoadRuns = fresh.wllama.runs;
      }
      if (wl.error) {
        await page.reload();
        await page.waitForFunction(() => window.benchReady === true);
      }
      results.models.push({ model: m.name, note: m.note, pair, threads, ours, wllama: wl });
    }
  }
  results.bandwidth.after = await bandwidth();
} finally {
  await context.close();
  await server.stop();
  fs.rmSync(profile, { recursive: true, force: true });
}
// The bound uses the faster of the two probes (each a median of 7): the
// machine's memory is at least that fast, so no decode looks closer to its
// limit than it is because the memory was busy during one probe.
const bw = Math.max(results.bandwidth.before.median, results.bandwidth.after.median);
results.bandwidth.gbps = bw;
for (const r of results.models) {
  for (const who of ['ours', 'wllama']) {
    const x = r[who];
    if (x && x.weightBytes && Number.isFinite(x.decodeTokS)) {
      x.boundTokS = (bw * 1e9) / x.weightBytes;
      x.bandwidthPct = (100 * x.decodeTokS) / x.boundTokS;
    }
  }
}
if (pageErrors.length) results.pageErrors = pageErrors;

// ---- report ----------------------------------------------------------------------
fs.mkdirSync(path.dirname(jsonOut), { recursive: true });
fs.writeFileSync(jsonOut, JSON.stringify(results, null, 2));
log(`wrote ${jsonOut}`);
const rep = render(results);
console.log(rep.text);
fs.writeFileSync(mdOut, rep.md);
log(`wrote ${mdOut}`);
