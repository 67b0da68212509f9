// Shared helpers of the browser tests (e2e/*.test.mjs) and benchmarks:
// build the served folder with cmd/build-wasm, build the alibi CLI, start
// `alibi serve` on a free port (with a request log), and launch Debian's
// Chromium through playwright-core. Tools that are missing make a test skip,
// except with ALIBI_FULL=1, where they make it fail.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FULL = process.env.ALIBI_FULL === '1';
export const CHROMIUM = process.env.ALIBI_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
export const buildDir = path.join(repo, 'build', 'e2e');

// need skips the test t with a message when ok is false (fails under ALIBI_FULL=1).
export function need(t, ok, why) {
  if (ok) return true;
  if (FULL) throw new Error(`${why} (ALIBI_FULL=1: required)`);
  t.skip(why);
  return false;
}

// requirements returns why the browser tests cannot run here, or ''.
export async function browserMissing() {
  if (!fs.existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
  try {
    await import('playwright-core');
  } catch {
    return 'playwright-core is not installed (npm ci at the repository root)';
  }
  if (spawnSync('go', ['version']).status !== 0) return 'no go command';
  return '';
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: repo, encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

// withLock runs fn holding a directory lock (name.lock in dir), so parallel
// test files share one build.
export async function withLock(name, fn, dir = buildDir) {
  fs.mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, name + '.lock');
  const deadline = Date.now() + 15 * 60e3;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > 10 * 60e3) fs.rmSync(lock, { recursive: true, force: true });
      } catch { /* gone */ }
      if (Date.now() > deadline) throw new Error(`lock ${lock} held too long`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

// treeStamp hashes the names, sizes and times of the files under dirs.
function treeStamp(dirs, extra = '') {
  const h = crypto.createHash('sha256');
  h.update(extra);
  const walk = (d) => {
    let ents;
    try {
      ents = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of ents.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = fs.statSync(p);
        h.update(`${p}\0${st.size}\0${st.mtimeMs}\n`);
      }
    }
  };
  for (const d of dirs) walk(path.join(repo, d));
  return h.digest('hex');
}

// alibiBinary builds the CLI (once per source change) and returns its path;
// ALIBI_BIN (set by `make test-e2e`) names a prebuilt one.
// With allowStale (enough for `alibi serve`), a failing build falls back to
// the last binary built.
export async function alibiBinary({ allowStale = false } = {}) {
  if (process.env.ALIBI_BIN && fs.existsSync(process.env.ALIBI_BIN)) return process.env.ALIBI_BIN;
  return withLock('alibi', async () => {
    const bin = path.join(buildDir, 'alibi');
    const stamp = treeStamp(['cmd/alibi', 'engine', 'tokenizer', 'wasm/webdir', 'internal', 'go.mod']);
    const sf = bin + '.stamp';
    if (fs.existsSync(bin) && fs.existsSync(sf) && fs.readFileSync(sf, 'utf8') === stamp) return bin;
    try {
      run('go', ['build', '-o', bin + '.new', './cmd/alibi']);
    } catch (e) {
      if (allowStale && fs.existsSync(bin)) {
        console.error(`harness: ${e.message.split('\n').slice(0, 3).join(' ')}; using the previous ${bin}`);
        return bin;
      }
      throw e;
    }
    fs.renameSync(bin + '.new', bin);
    fs.writeFileSync(sf, stamp);
    return bin;
  });
}

export const FIXTURES = ['bloom-f32-h4-l2', 'bloom-f16-h4-sharded', 'bloom-bf16-h12-l2'];
export const MID = 'e2e-mid'; // a synthetic checkpoint large enough to abort mid-download

function copyDir(src, dst) {
  fs.mkdirSync(dst, { recursive: true });
  for (const e of fs.readdirSync(src, { withFileTypes: true })) {
    if (e.isFile()) fs.copyFileSync(path.join(src, e.name), path.join(dst, e.name));
  }
}

// site builds (or reuses, while web/, wasm/, engine/, tokenizer/ and
// cmd/build-wasm are unchanged) the served folder for the tests in
// build/e2e/site: the runtime and the demo without wasm-opt, the fixtures as
// web directories (models/<name>/, 64 KiB chunks) and as HF directories
// (hf/<name>/), broken variants (models/tampered, hf/truncated,
// hf/unknown-arch) and an empty page e2e.html. It is separate from the
// `make site` folder (ALIBI_SITE) because it holds test-only files.
export async function site() {
  return withLock('site', async () => {
    const dir = path.join(buildDir, 'site');
    const stamp = treeStamp(['web', 'wasm', 'engine', 'tokenizer', 'cmd/build-wasm', 'internal', 'tools/package', 'e2e/lib', 'go.mod', 'models'], 'v3');
    const sf = path.join(buildDir, 'site.stamp');
    if (fs.existsSync(sf) && fs.readFileSync(sf, 'utf8') === stamp && fs.existsSync(path.join(dir, 'alibi.wasm'))) return dir;
    fs.rmSync(dir, { recursive: true, force: true });
    const hf = path.join(dir, 'hf');
    fs.mkdirSync(hf, { recursive: true });
    const midSrc = path.join(buildDir, MID);
    if (!fs.existsSync(path.join(midSrc, 'model.safetensors'))) {
      run('go', ['run', './e2e/lib/mkbloom', '-o', midSrc, '-hidden', '256', '-layers', '4', '-heads', '8', '-vocab', '4096',
        '-dtype', 'F32', '-tokenizer', path.join(repo, 'models/brown-bloom/tokenizer.json')]);
    }
    const models = [...FIXTURES.map((f) => path.join(repo, 'engine/testdata', f)), midSrc];
    const bundled = path.join(repo, 'models/brown-bloom');
    if (fs.existsSync(path.join(bundled, 'config.json'))) models.push(bundled);
    run('go', ['run', './cmd/build-wasm', '-o', dir, '-wasm-opt=false', '-chunk-size', String(64 << 10), '-model', models.join(',')]);
    for (const m of models) copyDir(m, path.join(hf, path.basename(m)));
    // Broken variants.
    const base = 'bloom-f32-h4-l2';
    copyDir(path.join(dir, 'models', base), path.join(dir, 'models', 'tampered'));
    const man = JSON.parse(fs.readFileSync(path.join(dir, 'models', 'tampered', 'manifest.json'), 'utf8'));
    const chunk = path.join(dir, 'models', 'tampered', man.files[0].chunks[0].path);
    const b = fs.readFileSync(chunk);
    b[b.length - 5] ^= 0x55;
    fs.writeFileSync(chunk, b);
    copyDir(path.join(hf, base), path.join(hf, 'truncated'));
    const st = path.join(hf, 'truncated', 'model.safetensors');
    fs.truncateSync(st, Math.floor(fs.statSync(st).size * 0.6));
    copyDir(path.join(hf, base), path.join(hf, 'unknown-arch'));
    const cfgPath = path.join(hf, 'unknown-arch', 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
    cfg.model_type = 'gpt2';
    cfg.architectures = ['GPT2LMHeadModel'];
    fs.writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
    fs.writeFileSync(path.join(dir, 'e2e.html'),
      '<!doctype html><meta charset="utf-8"><title>alibi e2e</title><body><p id="status">e2e</p></body>\n');
    fs.writeFileSync(sf, stamp);
    return dir;
  });
}

// native runs the alibi CLI on an HF directory and returns its JSON output.
export async function native(args) {
  const bin = await alibiBinary();
  return JSON.parse(run(bin, [...args, '--json']));
}

// startServer runs `alibi serve --dir dir --addr 127.0.0.1:0 --log` and
// parses its request log: requests() returns [{method, path, status, bytes, range}].
export async function startServer(dir) {
  const bin = await alibiBinary({ allowStale: true });
  const p = spawn(bin, ['serve', '--dir', dir, '--addr', '127.0.0.1:0', '--log'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const killOnExit = () => p.kill('SIGTERM'); // never leave a server behind a crashed script
  process.once('exit', killOnExit);
  p.once('exit', () => process.removeListener('exit', killOnExit));
  const log = [];
  let errBuf = '';
  p.stderr.setEncoding('utf8');
  p.stderr.on('data', (s) => {
    errBuf += s;
    let i;
    while ((i = errBuf.indexOf('\n')) >= 0) {
      const line = errBuf.slice(0, i);
      errBuf = errBuf.slice(i + 1);
      const m = /^serve: (\S+) (\S+) (\d+) (\d+) "(.*)"$/.exec(line);
      if (m) log.push({ method: m[1], path: m[2], status: Number(m[3]), bytes: Number(m[4]), range: m[5] });
    }
  });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (s) => {
      out += s;
      const m = /at (http:\/\/\S+\/)/.exec(out);
      if (m) resolve(m[1]);
    });
    p.on('exit', (code) => reject(new Error(`alibi serve exited with ${code}: ${errBuf}`)));
  });
  return {
    url,
    pid: p.pid,
    requests: () => log.slice(),
    clear: () => { log.length = 0; },
    stop: () => new Promise((r) => { p.once('exit', r); p.kill('SIGTERM'); }),
  };
}

// launch starts headless Chromium.
export async function launch() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

// openPage opens url in a new page of context and records console errors.
export async function openPage(context, url) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(url);
  page.errors = errors;
  return page;
}

// closeTo reports the largest |a-b| / max(1, |b|) over two arrays.
export function maxRelDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return m;
}

// staticImports lists the files a browser fetches for the ES modules
// entries (relative to dir): each entry and, transitively, every module it
// names in a static `from '...'` clause (the served files carry ?v=
// queries; dynamic import() calls are not followed). The download sizes of
// the benchmarks count these, so a module the build inlined into worker.js
// is not counted twice.
export function staticImports(dir, entries) {
  const seen = new Set();
  const visit = (rel) => {
    rel = path.posix.normalize(rel);
    if (seen.has(rel) || !fs.existsSync(path.join(dir, rel))) return;
    seen.add(rel);
    const text = fs.readFileSync(path.join(dir, rel), 'utf8');
    for (const m of text.matchAll(/\bfrom\s*'(\.{1,2}\/[^'?]+\.m?js)(\?[^']*)?'/g)) visit(path.posix.join(path.posix.dirname(rel), m[1]));
  };
  for (const e of entries) visit(e);
  return [...seen];
}
