// Shared helpers of the demo page tests (e2e/demo-*.test.mjs): the site
// folder, an `alibi serve` process, Chromium through playwright-core, a
// console-error collector, and a tiny hand-made BLOOM checkpoint whose every
// greedy token is an HTML payload (the XSS case).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const outputDir = path.join(root, 'e2e', 'output');
export const full = process.env.ALIBI_FULL === '1';
export const chromiumPath = process.env.ALIBI_CHROMIUM || '/usr/bin/chromium';
export const launchArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function siteDir() {
  return path.resolve(root, process.env.ALIBI_SITE || 'build/site');
}

/**
 * requirements returns null when everything the demo tests need exists, or
 * the reason it does not. Callers skip with the reason, except under
 * ALIBI_FULL=1 where a missing tool is a failure.
 */
export async function requirements() {
  if (!existsSync(chromiumPath)) return `chromium not found at ${chromiumPath} (apt-get install chromium)`;
  try {
    await import('playwright-core');
  } catch {
    return 'playwright-core is not installed (npm ci)';
  }
  const site = siteDir();
  if (!existsSync(path.join(site, 'index.html')) || !existsSync(path.join(site, 'alibi.js'))) {
    return `no built site in ${site} (go run ./cmd/build-wasm -o ${path.relative(root, site) || '.'})`;
  }
  if (!existsSync(path.join(site, 'models', 'brown-bloom', 'manifest.json'))) {
    return `the bundled model is missing from ${site}/models/brown-bloom`;
  }
  return null;
}

/**
 * gate returns why the demo tests cannot run here ('' when they can); the
 * tests skip with that reason. Under ALIBI_FULL=1 a missing requirement
 * throws instead, failing the suite.
 */
export async function gate() {
  const why = await requirements();
  if (why && full) throw new Error(`demo e2e: ${why} (ALIBI_FULL=1 makes this a failure)`);
  return why ?? '';
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** serve starts `alibi serve --dir dir` on a free port; resolves to { url, stop }. */
export async function serve(dir = siteDir()) {
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  const bin = process.env.ALIBI_BIN;
  const [cmd, args] = bin ? [bin, []] : ['go', ['run', './cmd/alibi']];
  const child = spawn(cmd, [...args, 'serve', '--dir', dir, '--addr', addr], {
    cwd: root, detached: true, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  let exited = null;
  child.on('exit', (code) => { exited = code; });
  const url = `http://${addr}/`;
  const deadline = Date.now() + 180_000; // `go run` may compile first
  for (;;) {
    if (exited !== null) throw new Error(`alibi serve exited with ${exited}: ${stderr}`);
    try {
      const res = await fetch(url);
      if (res.ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) {
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
      throw new Error(`alibi serve did not answer on ${url}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    stop() {
      // The process group: `go run` leaves the compiled binary as a child.
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
    },
  };
}

/** launch starts Debian's Chromium headless (never downloads a browser). */
export async function launch() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: launchArgs });
}

/**
 * launchPersistent starts Chromium with a real (non-incognito) profile in
 * userDataDir: installability checks report 'in-incognito' otherwise.
 */
export async function launchPersistent(userDataDir, options = {}) {
  const { chromium } = await import('playwright-core');
  return chromium.launchPersistentContext(userDataDir, { executablePath: chromiumPath, headless: true, args: launchArgs, ...options });
}

/** watchConsole records console errors, page errors and failed requests of page. */
export function watchConsole(page) {
  const errors = [];
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(`console: ${msg.text()}`); });
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('dialog', (d) => { errors.push(`dialog: ${d.message()}`); d.dismiss().catch(() => {}); });
  return errors;
}

export async function waitReady(page, timeout = 120_000) {
  await page.waitForFunction(() => {
    const s = document.querySelector('[data-testid="status"]');
    return s && /\bready\b/.test(s.textContent) && s.dataset.state === 'ready';
  }, null, { timeout });
}

/** generateAndWait clicks Generate and waits for the run to end; returns { text, count, state }. */
export async function generateAndWait(page, timeout = 120_000) {
  await page.click('[data-testid="generate"]');
  return waitGenerated(page, timeout);
}

export async function waitGenerated(page, timeout = 120_000) {
  await page.waitForFunction(() => {
    const o = document.querySelector('[data-testid="output"]');
    return ['done', 'stopped', 'error'].includes(o.dataset.state);
  }, null, { timeout });
  await waitReady(page, timeout);
  return page.evaluate(() => ({
    text: document.querySelector('[data-testid="output"] .gen')?.textContent ?? '',
    count: Number(document.querySelector('[data-testid="token-count"]').textContent),
    state: document.querySelector('[data-testid="output"]').dataset.state,
    status: document.querySelector('[data-testid="status"]').textContent,
  }));
}

export async function setSetting(page, testid, value) {
  await page.fill(`[data-testid="${testid}"]`, String(value));
  await page.dispatchEvent(`[data-testid="${testid}"]`, 'change');
}

export function output(name) {
  mkdirSync(outputDir, { recursive: true });
  return path.join(outputDir, name);
}

// ---- a tiny BLOOM whose greedy output is a fixed added token ---------------

/** The GPT-2 byte-to-unicode table of byte-level BPE vocabularies. */
function byteChars() {
  const bs = [];
  for (let i = 33; i <= 126; i++) bs.push(i);
  for (let i = 161; i <= 172; i++) bs.push(i);
  for (let i = 174; i <= 255; i++) bs.push(i);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) { bs.push(b); cs.push(256 + n); n++; }
  }
  const out = new Array(256);
  bs.forEach((b, i) => { out[b] = String.fromCodePoint(cs[i]); });
  return out;
}

function safetensors(tensors) {
  let offset = 0;
  const header = { __metadata__: { format: 'pt' } };
  for (const [name, { shape, data }] of Object.entries(tensors)) {
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([head, Buffer.from(json), ...Object.values(tensors).map((t) => Buffer.from(t.data.buffer))]);
}

/**
 * writeTinyBloom writes an HF-style BLOOM checkpoint (config.json,
 * tokenizer.json, model.safetensors) to dir. Its vocabulary is the 256 byte
 * tokens, `payload` as a (non-special) added token with id 256, and `</s>`
 * (257). Every block is zero, so the residual stream passes through; ln_f
 * has weight 0 and bias e0, so the final state is e0 whatever the input, and
 * with tied embeddings the logits are E·e0 = 20 for the payload token and 0
 * for every other: greedy decoding emits `payload` at every step.
 */
export function writeTinyBloom(dir, payload) {
  mkdirSync(dir, { recursive: true });
  const V = 258, H = 8, L = 1;
  const chars = byteChars();
  const vocab = {};
  chars.forEach((c, b) => { vocab[c] = b; });
  const tokenizer = {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [
      { id: 256, content: payload, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false },
      { id: 257, content: '</s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, vocab, merges: [] },
  };
  const config = {
    architectures: ['BloomForCausalLM'], model_type: 'bloom', vocab_size: V, hidden_size: H, n_layer: L, n_head: 2,
    layer_norm_epsilon: 1e-5, apply_residual_connection_post_layernorm: false, tie_word_embeddings: true,
    bos_token_id: 257, eos_token_id: 257, seq_length: 128,
  };
  const zeros = (...shape) => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
  const ones = (n) => ({ shape: [n], data: new Float32Array(n).fill(1) });
  const emb = zeros(V, H);
  for (let v = 0; v < 256; v++) for (let j = 1; j < H; j++) emb.data[v * H + j] = Math.sin(v * 7 + j) * 0.5; // dim 0 stays 0
  emb.data[256 * H] = 20; // the payload token: E[256] = 20·e0
  const lnfBias = zeros(H);
  lnfBias.data[0] = 1;
  const tensors = {
    'word_embeddings.weight': emb,
    'word_embeddings_layernorm.weight': ones(H),
    'word_embeddings_layernorm.bias': zeros(H),
  };
  for (let i = 0; i < L; i++) {
    const p = `h.${i}.`;
    Object.assign(tensors, {
      [`${p}input_layernorm.weight`]: ones(H),
      [`${p}input_layernorm.bias`]: zeros(H),
      [`${p}self_attention.query_key_value.weight`]: zeros(3 * H, H),
      [`${p}self_attention.query_key_value.bias`]: zeros(3 * H),
      [`${p}self_attention.dense.weight`]: zeros(H, H),
      [`${p}self_attention.dense.bias`]: zeros(H),
      [`${p}post_attention_layernorm.weight`]: ones(H),
      [`${p}post_attention_layernorm.bias`]: zeros(H),
      [`${p}mlp.dense_h_to_4h.weight`]: zeros(4 * H, H),
      [`${p}mlp.dense_h_to_4h.bias`]: zeros(4 * H),
      [`${p}mlp.dense_4h_to_h.weight`]: zeros(H, 4 * H),
      [`${p}mlp.dense_4h_to_h.bias`]: zeros(H),
    });
  }
  tensors['ln_f.weight'] = zeros(H);
  tensors['ln_f.bias'] = lnfBias;
  const files = {
    'config.json': JSON.stringify(config, null, 1),
    'tokenizer.json': JSON.stringify(tokenizer),
    'model.safetensors': safetensors(tensors),
  };
  for (const [name, data] of Object.entries(files)) writeFileSync(path.join(dir, name), data);
  return Object.keys(files).map((f) => path.join(dir, f));
}
