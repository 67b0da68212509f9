// Shared by e2e/package-*.test.mjs: the npm package alibi-wasm, written by
// tools/package/build.sh from the built site (env ALIBI_SITE, default
// build/site, built when missing) and packed with npm pack, once per run
// (a directory lock makes parallel test files share it). ALIBI_NPM_DIR=DIR
// tests an already written package folder instead.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { repo, buildDir, FULL, withLock } from './lib/harness.mjs';

export const siteDir = path.resolve(repo, process.env.ALIBI_SITE || 'build/site');
export const pkgBuild = path.join(buildDir, 'package');
export const MODEL = 'brown-bloom';
export const PROMPT = 'The jury said';

// sh runs a command and returns its stdout; a failure throws with its output.
export function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: repo, encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) {
    const e = new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
    e.result = r;
    throw e;
  }
  return r.stdout;
}

// hasNpm reports whether npm runs (the registry is needed for vite/typescript).
export function hasNpm() {
  return spawnSync('npm', ['--version']).status === 0;
}

let packed = null;

// pack returns { dir, tgz }: the package folder and its tarball, written
// once per process (and under a lock across processes).
export function pack() {
  if (!packed) {
    packed = withLock('pack', async () => {
      if (process.env.ALIBI_NPM_DIR) {
        // Test a package folder written elsewhere (e.g. a release candidate).
        const dir = path.resolve(process.env.ALIBI_NPM_DIR);
        const name = sh('npm', ['pack', '--silent', '--pack-destination', pkgBuild], { cwd: dir }).trim().split('\n').pop();
        return { dir, tgz: path.join(pkgBuild, name) };
      }
      const dir = path.join(pkgBuild, 'npm');
      const out = sh('bash', [path.join(repo, 'tools/package/build.sh'), dir], { env: { ...process.env, ALIBI_SITE: siteDir } });
      const tgz = out.trim().split('\n').pop();
      if (!fs.existsSync(tgz)) throw new Error(`tools/package/build.sh printed ${tgz}, which does not exist`);
      return { dir, tgz };
    }, pkgBuild);
  }
  return packed;
}

// installExample copies examples/<name> (without node_modules and dist) to a
// fresh work folder and installs the packed tarball there with npm, keeping
// the example's pinned devDependencies from its package-lock.json.
export function installExample(name, tgz) {
  const src = path.join(repo, 'examples', name);
  const work = path.join(pkgBuild, name);
  fs.rmSync(work, { recursive: true, force: true });
  fs.cpSync(src, work, {
    recursive: true,
    filter: (p) => !/[/\\](node_modules|dist|public[/\\]models)([/\\]|$)/.test(p.slice(src.length)),
  });
  const npmArgs = ['--no-audit', '--no-fund', '--loglevel=error'];
  // Pinned tools (vite, typescript) exactly as locked, then the fresh tarball
  // (its integrity changes with every build, so it is installed by path).
  dropPackageEntry(work);
  sh('npm', ['ci', ...npmArgs, '--ignore-scripts'], { cwd: work });
  sh('npm', ['install', ...npmArgs, '--ignore-scripts', tgz], { cwd: work });
  return work;
}

// dropPackageEntry removes alibi-wasm from the work copy's package.json and
// package-lock.json: the checked-in lock pins the integrity of an earlier
// build of the tarball, which npm ci would refuse.
function dropPackageEntry(work) {
  const p = path.join(work, 'package-lock.json');
  if (fs.existsSync(p)) {
    const lock = JSON.parse(fs.readFileSync(p, 'utf8'));
    for (const [k, v] of Object.entries(lock.packages || {})) {
      if (k.endsWith('node_modules/alibi-wasm')) delete lock.packages[k];
      else if (k === '' && v.dependencies) delete v.dependencies['alibi-wasm'];
    }
    fs.writeFileSync(p, JSON.stringify(lock, null, 2));
    const pj = path.join(work, 'package.json');
    const meta = JSON.parse(fs.readFileSync(pj, 'utf8'));
    if (meta.dependencies) delete meta.dependencies['alibi-wasm'];
    if (meta.devDependencies) delete meta.devDependencies['alibi-wasm'];
    fs.writeFileSync(pj, JSON.stringify(meta, null, 2));
  }
}

// offline reports whether err is npm failing to reach the registry (a
// reason to skip, like a missing tool).
export function offline(err) {
  return /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|network request/i.test(String(err && err.message));
}

// gateReason: tools missing make the tests skip (fail with ALIBI_FULL=1).
export function gateReason() {
  if (!hasNpm()) return 'npm is not installed';
  if (spawnSync('go', ['version']).status !== 0) return 'no go command';
  return '';
}

export { FULL };

// plainServer serves dir without COOP/COEP headers: no cross-origin isolation.
export function plainServer(dir) {
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };
  const srv = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    let p = path.join(dir, rel);
    if (!p.startsWith(dir)) { res.writeHead(403).end(); return; }
    if (fs.existsSync(p) && fs.statSync(p).isDirectory()) p = path.join(p, 'index.html');
    if (!fs.existsSync(p)) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': types[path.extname(p)] || 'application/octet-stream' });
    fs.createReadStream(p).pipe(res);
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => {
    srv.url = `http://127.0.0.1:${srv.address().port}/`;
    resolve(srv);
  }));
}

// nodeGreedy runs the package installed in work in Node on the site's model.
export async function nodeGreedy(work, tokens) {
  const { loadModel } = await import(pathToFileURL(path.join(work, 'node_modules/alibi-wasm/alibi.js')).href);
  const m = await loadModel(path.join(siteDir, 'models', MODEL));
  try {
    const ids = [];
    for await (const t of m.generate(PROMPT, { maxTokens: tokens, temperature: 0 })) ids.push(t.id);
    return ids;
  } finally {
    await m.dispose();
  }
}

// runPage opens url in a fresh context and waits for examples/*/src/main.js to finish.
export async function runPage(browser, url) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(url);
    await page.waitForFunction(() => window.alibiExample && (window.alibiExample.done || window.alibiExample.error), null, { timeout: 120_000 });
    const state = await page.evaluate(() => JSON.parse(JSON.stringify(window.alibiExample)));
    const shown = await page.textContent('#out');
    return { state, errors, shown };
  } finally {
    await context.close();
  }
}
