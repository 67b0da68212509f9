// render turns the JSON of e2e/bench/browser-bench.mjs into the console
// table and RESULTS.md. Re-render a saved run with
//   node e2e/bench/report.mjs [build/bench/browser-bench.json] [e2e/bench/RESULTS.md]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// paired returns the median over runs of ours/wllama for key: the runs
// alternate, so each pair saw the same machine load.
function paired(o, w, key) {
  if (!o.runs || !w.runs) return NaN;
  const n = Math.min(o.runs.length, w.runs.length);
  const r = [];
  for (let i = 0; i < n; i++) r.push(o.runs[i][key] / w.runs[i][key]);
  return median(r);
}

export function render(results) {
  const st = results.settings;
  const f1 = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const fx = (x) => (Number.isFinite(x) && x > 0 ? x.toFixed(2) + 'x' : '-');
  const ratio = (a, b, lowerBetter) => (Number.isFinite(a) && Number.isFinite(b) && a > 0 && b > 0 ? fx(lowerBetter ? b / a : a / b) : '-');
  const rows = [];
  const head = ['model', 'precision (ours / wllama)', 'threads', 'figure', 'ours', 'wllama', 'ours/wllama'];
  for (const r of results.models) {
    const o = r.ours;
    const w = r.wllama;
    const prec = r.pair === 'int8' ? 'int8 / Q8_0' : 'f32 / F32';
    const th = r.threads || 1;
    // The threads each runtime really used (ours falls back to 1 on a page
    // that is not cross-origin isolated; wllama likewise).
    const used = `${o.threads ?? th} / ${w.error ? '-' : (w.threads ?? th)}`;
    const add = (fig, a, b, d, rat) => rows.push([r.model, prec, used, fig, f1(a, d), w.error ? 'failed' : f1(b, d), rat]);
    add('load, first visit (s)', o.firstLoadMs / 1000, w.firstLoadMs / 1000, 2, ratio(o.firstLoadMs, w.firstLoadMs, true));
    add('load, from cache (s)', o.cachedLoadMs / 1000, w.cachedLoadMs / 1000, 2, ratio(o.cachedLoadMs, w.cachedLoadMs, true));
    if (o.newPageLoadMs !== undefined) {
      const lat = st.latencyMs > 0 ? `, ${st.latencyMs} ms latency` : '';
      add(`load, from cache in a new page${lat} (s)`, o.newPageLoadMs / 1000, w.newPageLoadMs / 1000, 2, ratio(o.newPageLoadMs, w.newPageLoadMs, true));
    }
    add(`prefill, ${st.prompt}-token prompt (tok/s)`, o.prefillTokS, w.prefillTokS, 1, fx(paired(o, w, 'prefillTokS')));
    add(`decode, ${st.tokens} tokens (tok/s)`, o.decodeTokS, w.decodeTokS, 2, fx(paired(o, w, 'decodeTokS')));
    add('decode, % of bandwidth bound', o.bandwidthPct, w.bandwidthPct, 0, '');
    add('weight bytes read per token (MB)', o.weightBytes / 1e6, w.weightBytes / 1e6, 0, ratio(o.weightBytes, w.weightBytes, true));
    add('peak renderer memory growth (MB)', o.rssPeakDelta / 1e6, w.rssPeakDelta / 1e6, 0, ratio(o.rssPeakDelta, w.rssPeakDelta, true));
    if (o.wasmBytes) rows.push([r.model, prec, used, 'wasm linear memory, ours (MB)', f1(o.wasmBytes / 1e6, 0), '', '']);
  }
  const sz = results.sizes;
  rows.push(['runtime', '', '1', 'download, wasm + JS gzipped (KB)', f1(sz.ours.gzip / 1e3, 0), f1(sz.wllama.gzip / 1e3, 0), ratio(sz.ours.gzip, sz.wllama.gzip, true)]);
  rows.push(['machine', '', '1', 'streaming read, SIMD sum (GB/s)', f1(results.bandwidth.gbps, 1), '', '']);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => String(c).padEnd(widths[i])).join('  ');
  const text = [
    `Chromium ${results.chromium}, wllama ${results.wllama}, crossOriginIsolated=${results.crossOriginIsolated}, ` +
      `${results.machine.nproc} CPUs (${results.machine.cpu})`,
    line(head), ...rows.map(line),
    'ratios: > 1x means ours is better (faster, or smaller for sizes, times and memory); prefill and decode ratios are medians of the paired runs.',
  ].join('\n');

  const md = [];
  md.push('# Browser benchmark: alibi vs wllama (llama.cpp in WebAssembly)', '');
  md.push(`Measured ${results.date.slice(0, 16).replace('T', ' ')} UTC by \`make bench-browser\` (e2e/bench/browser-bench.mjs) on ` +
    `${results.machine.nproc} CPUs (${results.machine.cpu}), load average ${results.machine.loadavg.map((x) => x.toFixed(1)).join(' ')} ` +
    '(the machine was shared with other jobs: absolute figures are noisy, the ratios come from the same run); ' +
    `headless Chromium ${results.chromium}; @wllama/wllama ${results.wllama}. "threads" is what each runtime used (ours / wllama): ` +
    'with 1, our single Go thread and wllama\'s single-thread build; with 2, our kernel threads (the SIMD kernels in an extra ' +
    'worker on a shared memory) and wllama\'s multi-thread build, on the cross-origin isolated page.', '');
  const small = (n, m) => (m && m !== n ? ` (${m} for the small model)` : '');
  md.push(`Prefill and decode: ${st.runs} generations per runtime${small(st.runs, st.smallRuns)} after a warm-up, ours and wllama alternating run by run with both ` +
    'models loaded; the figures are each runtime\'s median and the ratio is the median of the per-run ratios (each pair saw the same ' +
    `machine load). Loads: one first visit after clearing the runtime's model cache (its compiled wasm stays cached: ours in Cache Storage, wllama's in the HTTP cache), then the median of ${st.loadRuns} loads from it in the same page${small(st.loadRuns, st.smallLoadRuns)} (ours hands its compiled engine from one load to the next within a page), and once both runtimes' models are gone ${st.pageRuns ? `the median of ${st.pageRuns} loads from the cache in new tabs${small(st.pageRuns, st.smallPageRuns)}, ours and wllama alternating which goes first` : 'one load from the cache in a new tab'} (a returning visitor). ` +
    `Prompt ${st.prompt} tokens, ${st.tokens} greedy tokens, context ${st.contextLength}; wllama with an f32 KV cache like ours. ` +
    'Ours loads the HF safetensors (F16) directly, widening to f32 or quantizing to int8 while streaming; wllama loads the GGUF that ' +
    '`alibi convert --to gguf` writes from the same checkpoint (F32, Q8_0), in llama.cpp gguf-split shards of at most ' +
    `${st.splitMaxMiB ?? 512} MiB (wllama reads no file over 2 GB)` +
    (results.wllamaPointerFix ? '; its worker glue is served with one fix, pointers read as unsigned (`>>> 0`), without which its ' +
      'single-thread build cannot use a heap over 2 GiB (the 560m F32 model fails to load with "RangeError: Start offset ' +
      '-2048503664 is outside the bounds of the buffer"); the fix changes nothing below 2 GiB' : '') +
    `. Memory: growth of the renderer processes' resident set (page + ` +
    'workers) while each runtime loads and runs. The bandwidth bound is the streaming-read rate of a SIMD sum over 256 MiB in wasm (the faster of two probes, before and after the runs) ' +
    'divided by the weight bytes read per token (over 100% when the weights fit in the CPU caches). Ratios > 1x favour ours.', '');
  for (const r of results.models) if (r.note && r.pair === results.models[0].pair) md.push(`- ${r.model}: ${r.note}`);
  md.push('');
  md.push('| ' + head.join(' | ') + ' |', '|' + head.map(() => '---').join('|') + '|');
  for (const r of rows) md.push('| ' + r.join(' | ') + ' |');
  const failures = results.models.filter((r) => r.wllama && r.wllama.error);
  if (failures.length) {
    md.push('', 'wllama failed on:');
    for (const r of failures) md.push(`- ${r.model} ${r.pair} with ${r.threads || 1} thread(s): \`${r.wllama.error}\``);
  }
  md.push('', 'Raw figures (every run): build/bench/browser-bench.json.', '');
  return { text, md: md.join('\n') };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const json = process.argv[2] || path.join(repo, 'build', 'bench', 'browser-bench.json');
  const mdOut = process.argv[3] || path.join(repo, 'e2e', 'bench', 'RESULTS.md');
  const rep = render(JSON.parse(fs.readFileSync(json, 'utf8')));
  console.log(rep.text);
  fs.writeFileSync(mdOut, rep.md);
  console.error(`wrote ${mdOut}`);
}
