// Records llama.cpp reference outputs (through @wllama/wllama 2.3.7 in headless Chromium) for the
// fixtures of the families llama.cpp runs (BLOOM, MPT, Jais): engine/testdata/<family>-<name>/greedy.json.
//
//   node tools/reference/wllama_goldens.mjs [--check] [fixture-dir ...]
//
// Steps: each fixture is converted to an F32 GGUF by tools/reference/gguf-fixtures (engine/gguf
// ConvertBLOOMDir, llama.cpp's BloomModel conversion); a tiny 127.0.0.1 HTTP server serves the
// GGUFs, wllama's ESM build and wasm, and a page; Chromium (playwright-core, /usr/bin/chromium)
// loads each GGUF in wllama (single-thread wasm, n_ctx 128, f32 KV cache, flash attention off),
// decodes the prompt (fixture.json ids), then greedily decodes 32 tokens. At each of the 33
// decisions it reads the full distribution with getLogits(-1) and checks that the sampler
// (temp 0, top_k 1) picks the same token. It also checks that llama.cpp's tokenizer (gpt2 vocab,
// pre "bloom", from the GGUF) encodes the fixture's prompt text to the same ids. wllama returns softmax probabilities, so the recorded
// logits are log-probabilities (logits minus logsumexp): compare after the same normalisation.
// The numpy reference (bloom_ref.py --logits) is evaluated on the same prompt+generated ids and
// the max |log_softmax difference| over all 33 decisions and all tokens is recorded.
//
// --check: write nothing; exit 1 unless llama.cpp still gives the committed greedy.json tokens,
// agrees 32/32 with the numpy greedy tokens and stays within 2e-2 of numpy (log-softmax).
// --type=f16|q8_0: convert to that GGUF file type and only print the comparison (checks that
// llama.cpp reads this package's F16 and Q8_0 encodings; greedy.json always comes from F32).
// Fixtures llama.cpp cannot run (apply_residual_connection_post_layernorm) are skipped.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const wllamaDir = path.join(root, 'node_modules', '@wllama', 'wllama', 'esm');
const wllamaVersion = JSON.parse(fs.readFileSync(path.join(wllamaDir, '..', 'package.json'), 'utf8')).version;
const PY = '/usr/bin/python3';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const STEPS = 32;

const args = process.argv.slice(2);
const check = args.includes('--check');
// --type=f16|q8_0 converts to that file type instead and only prints the comparison (goldens are F32)
const typeArg = args.find((a) => a.startsWith('--type='));
const fileType = typeArg ? typeArg.slice('--type='.length) : 'f32';
const record = fileType === 'f32' && !check;
let dirs = args.filter((a) => !a.startsWith('--'));
if (dirs.length === 0) {
  const td = path.join(root, 'engine', 'testdata');
  // the families llama.cpp runs (it has no Falcon-RW or BTLM graph)
  dirs = fs.readdirSync(td).filter((d) => /^(bloom|mpt|jais|baichuan)-/.test(d)).sort().map((d) => path.join(td, d));
}
dirs = dirs.filter((d) => {
  const cfg = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8'));
  if (cfg.model_type === 'baichuan' && cfg.num_hidden_layers !== 40) {
    // llama.cpp picks ALiBi (13B) or RoPE (7B) by the layer count and aborts on any other
    console.log(`${path.basename(d)}: skipped (llama.cpp runs Baichuan with ALiBi only at 40 layers)`);
    return false;
  }
  if (cfg.attn_config && cfg.attn_config.qk_ln) {
    // llama.cpp's mpt graph reshapes the non-contiguous Q/K views for qk_ln:
    // wllama 2.3.7 aborts with GGML_ASSERT(ggml_is_contiguous(a)) (ggml.c:3530)
    console.log(`${path.basename(d)}: skipped (llama.cpp's mpt qk_ln path aborts: GGML_ASSERT(ggml_is_contiguous(a)))`);
    return false;
  }
  if (cfg.apply_residual_connection_post_layernorm) {
    console.log(`${path.basename(d)}: skipped (llama.cpp's bloom graph has no post-layernorm residual)`);
    return false;
  }
  return true;
});

// 1. GGUFs
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wllama-goldens-'));
const conv = spawnSync('go', ['run', './tools/reference/gguf-fixtures', '-out', tmp, '-type', fileType, ...dirs], {
  cwd: root, encoding: 'utf8',
});
if (conv.status !== 0) {
  console.error(conv.stdout, conv.stderr);
  throw new Error('gguf-fixtures failed');
}
// fixtures whose config llama.cpp cannot run are refused by the converter (e.g. MPT logit_scale)
for (const line of conv.stdout.split('\n')) if (line.startsWith('skip ')) console.log(line);
dirs = dirs.filter((d) => fs.existsSync(path.join(tmp, path.basename(d) + '.gguf')));

// 2. server
const page = `<!doctype html><meta charset="utf-8"><title>wllama goldens</title>
<script type="module">
import { Wllama } from '/wllama/index.js';
window.runFixture = async (url, prompt, steps, text) => {
  const blob = await (await fetch(url)).blob();
  const w = new Wllama({ 'single-thread/wllama.wasm': '/wllama/single-thread/wllama.wasm' },
                       { suppressNativeLog: !window.verbose });
  await w.loadModel([blob], { n_ctx: 128, n_batch: 128, n_threads: 1, seed: 1,
                              cache_type_k: 'f32', cache_type_v: 'f32', flash_attn: false });
  const textIds = await w.tokenize(text, false);
  await w.samplingInit({ temp: 0, top_k: 1 });
  const n = (await w.getLoadedContextInfo()).n_vocab;
  const dists = [], tokens = [], sampled = [];
  await w.decode(prompt, {});
  for (let i = 0; i <= steps; i++) {
    const probs = await w.getLogits(-1);
    const lp = new Array(n).fill(null);
    for (const { token, p } of probs) lp[token] = Math.log(p);
    dists.push(lp);
    if (i === steps) break;
    const s = await w.samplingSample();
    sampled.push(s.token);
    tokens.push(probs[0].token);
    await w.samplingAccept([s.token]);
    await w.decode([probs[0].token], {});
  }
  await w.exit();
  return { n, dists, tokens, sampled, textIds };
};
window.ready = true;
</script>`;
const mime = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm',
  '.gguf': 'application/octet-stream', '.html': 'text/html', '.map': 'application/json' };
const server = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  let file = null;
  if (u.pathname === '/favicon.ico') {
    res.writeHead(204);
    res.end();
    return;
  }
  if (u.pathname === '/' || u.pathname === '/index.html') {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(page);
    return;
  } else if (u.pathname.startsWith('/wllama/')) {
    file = path.join(wllamaDir, path.normalize(u.pathname.slice('/wllama/'.length)));
    if (!file.startsWith(wllamaDir)) file = null;
  } else if (u.pathname.startsWith('/gguf/')) {
    file = path.join(tmp, path.basename(u.pathname));
  }
  if (!file || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
    res.writeHead(404);
    res.end('not found');
    return;
  }
  res.writeHead(200, { 'content-type': mime[path.extname(file)] || 'application/octet-stream' });
  fs.createReadStream(file).pipe(res);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

// 3. browser
const { chromium } = await import('playwright-core');
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

function logSoftmax(row) {
  const m = Math.max(...row);
  const s = row.reduce((a, x) => a + Math.exp(x - m), 0);
  const l = m + Math.log(s);
  return row.map((x) => x - l);
}

const summary = [];
let failed = false;
try {
  const bpage = await browser.newPage();
  // WLLAMA_VERBOSE=1 shows llama.cpp's native log (load errors)
  const verbose = process.env.WLLAMA_VERBOSE === '1';
  bpage.on('console', (m) => { if (verbose || m.type() === 'error') console.error('page:', m.text()); });
  bpage.on('pageerror', (e) => console.error('page error:', e));
  await bpage.goto(base + '/');
  await bpage.waitForFunction(() => window.ready === true);
  await bpage.evaluate((v) => { window.verbose = v; }, verbose);
  for (const dir of dirs) {
    const name = path.basename(dir);
    const fixture = JSON.parse(fs.readFileSync(path.join(dir, 'fixture.json'), 'utf8'));
    const ref = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8'));
    const prompt = fixture.ids;
    const t0 = Date.now();
    const out = await bpage.evaluate(([u, p, s, x]) => window.runFixture(u, p, s, x), [`${base}/gguf/${name}.gguf`, prompt, STEPS, fixture.prompt]);
    const tokenizeAgrees = JSON.stringify(out.textIds) === JSON.stringify(prompt);
    const ms = Date.now() - t0;
    // numpy on the same sequence: logits at positions prompt.length-1 .. end-1
    const all = [...prompt, ...out.tokens];
    const numpy = (mode) => {
      // the family's numpy reference (fixture.json "reference"; BLOOM fixtures predate the field)
      const refScript = fixture.reference ? path.join(root, fixture.reference) : path.join(here, 'bloom_ref.py');
      const py = spawnSync(PY, [refScript, mode, dir, all.join(',')], { encoding: 'utf8', maxBuffer: 1 << 28 });
      if (py.status !== 0) throw new Error(`${path.basename(refScript)} ${mode} failed: ${py.stderr}`);
      return JSON.parse(py.stdout);
    };
    const minP = 1e-30;
    const compare = (npLogits) => {
      let maxDiff = 0, compared = 0;
      for (let i = 0; i <= STEPS; i++) {
        const np = logSoftmax(npLogits[prompt.length - 1 + i]);
        const lc = out.dists[i];
        for (let k = 0; k < out.n; k++) {
          if (lc[k] === null || !(lc[k] > Math.log(minP))) continue;
          maxDiff = Math.max(maxDiff, Math.abs(lc[k] - np[k]));
          compared++;
        }
      }
      return [maxDiff, compared];
    };
    const [maxDiff, compared] = compare(numpy('--logits'));
    const [maxDiffTable] = compare(numpy('--logits-ggml-gelu'));
    const npGreedy = ref.greedy ? ref.greedy.tokens : null;
    const agree = npGreedy ? out.tokens.filter((t, i) => t === npGreedy[i]).length : null;
    const samplerAgrees = out.sampled.every((t, i) => t === out.tokens[i]);
    const lastRef = logSoftmax(ref.logits[ref.logits.length - 1]);
    const last = out.dists[0];
    let lastDiff = 0;
    for (let k = 0; k < out.n; k++) if (last[k] !== null && last[k] > Math.log(minP)) lastDiff = Math.max(lastDiff, Math.abs(last[k] - lastRef[k]));
    const golden = {
      prompt,
      tokens: out.tokens,
      source: `wllama ${wllamaVersion} (llama.cpp)`,
      logits_last: last,
      logits_kind: 'log_softmax: wllama getLogits returns probabilities; compare log_softmax(engine logits) to these',
      gguf: `F32, engine/gguf ConvertDir (llama.cpp ${fixture.family || 'bloom'} conversion layout)`,
      settings: { n_ctx: 128, n_threads: 1, wasm: 'single-thread', cache_type_k: 'f32', cache_type_v: 'f32', flash_attn: false, sampler: 'getLogits argmax; samplingSample(temp 0, top_k 1) agrees: ' + samplerAgrees },
      vs_numpy: {
        max_abs_diff_log_softmax: Number(maxDiff.toPrecision(4)),
        max_abs_diff_last_prompt_position: Number(lastDiff.toPrecision(4)),
        max_abs_diff_log_softmax_with_ggml_fp16_gelu_table: Number(maxDiffTable.toPrecision(4)),
        decisions_compared: STEPS + 1,
        values_compared: compared,
        greedy_agree: agree,
      },
      tokenizer: `llama.cpp tokenize(fixture.json prompt) ${tokenizeAgrees ? 'equals' : 'DIFFERS from'} the prompt ids`,
    };
    summary.push({ fixture: name, max_abs_diff: golden.vs_numpy.max_abs_diff_log_softmax, last_pos_diff: golden.vs_numpy.max_abs_diff_last_prompt_position, fp16_gelu_diff: golden.vs_numpy.max_abs_diff_log_softmax_with_ggml_fp16_gelu_table, greedy_agree: `${agree}/${STEPS}`, sampler_agrees: samplerAgrees, tokenize: tokenizeAgrees, ms });
    if (!samplerAgrees || !tokenizeAgrees) failed = true;
    const file = path.join(dir, 'greedy.json');
    if (check && fileType === 'f32') {
      const old = JSON.parse(fs.readFileSync(file, 'utf8'));
      if (JSON.stringify(old.tokens) !== JSON.stringify(golden.tokens)) {
        console.error(`${name}: greedy tokens differ from the committed greedy.json`);
        failed = true;
      }
      if (agree !== STEPS || maxDiff > 2e-2) {
        console.error(`${name}: llama.cpp vs numpy: greedy ${agree}/${STEPS}, max |Δ log p| ${maxDiff} (want 32/32, ≤ 2e-2)`);
        failed = true;
      }
    } else if (record) {
      fs.writeFileSync(file, JSON.stringify(golden) + '\n');
    }
  }
} finally {
  await browser.close();
  server.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(`GGUF file type ${fileType}${record ? '' : ' (nothing written)'}`);
console.table(summary);
if (failed) process.exit(1);
