// The npm package alibi-wasm in a Vite 7 app (examples/vite): pack the
// package, install the tarball into a copy of the example (vite pinned by its
// package-lock.json), `vite build`, serve dist with `alibi serve`, and in
// headless Chromium load the bundled default model and stream a greedy
// completion; the tokens must equal the same package's greedy tokens in Node.
// Also: the same dist from a server without cross-origin isolation headers,
// and the worker/wasm files taken from a baseURL (the CDN option).
//   node --test e2e/package-vite.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';

import { need, startServer, launch, browserMissing, repo } from './lib/harness.mjs';
import { pack, installExample, sh, siteDir, gateReason, offline, MODEL, plainServer, nodeGreedy, runPage, PROMPT } from './package-common.mjs';

const TOKENS = 16;

let missing = '';
let work;
let dist;
let pkg;
let server;
let plain;
let browser;

before(async () => {
  missing = gateReason() || await browserMissing();
  if (missing) return;
  pkg = await pack();
  try {
    work = installExample('vite', pkg.tgz);
  } catch (e) {
    if (!offline(e)) throw e;
    missing = `npm registry unreachable: ${e.message.split('\n')[0]}`;
    return;
  }
  sh(path.join(work, 'node_modules/.bin/vite'), ['build'], { cwd: work });
  dist = path.join(work, 'dist');
  const model = path.join(siteDir, 'models', MODEL);
  if (!fs.existsSync(path.join(model, 'manifest.json'))) throw new Error(`no bundled model at ${model}`);
  fs.cpSync(model, path.join(dist, 'models', MODEL), { recursive: true });
  // The unbundled package as a "CDN" folder for the baseURL option.
  fs.cpSync(pkg.dir, path.join(dist, 'cdn', 'alibi-wasm'), { recursive: true });
  // A plain page (no bundler) importing the package folder, as in its README.
  fs.writeFileSync(path.join(dist, 'plain.html'), `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><pre id="out"></pre>
<script type="module">
  import { loadModel } from './cdn/alibi-wasm/alibi.js';
  const state = window.alibiExample = { tokens: [], text: '', done: false, error: null };
  try {
    const model = await loadModel('./models/${MODEL}/');
    state.info = { ...model.info };
    for await (const t of model.generate(${JSON.stringify(PROMPT)}, { maxTokens: 8, temperature: 0 })) {
      state.tokens.push(t.id);
      document.getElementById('out').textContent += t.text;
    }
    state.done = true;
  } catch (e) { state.error = String(e); }
</script>
`);
  server = await startServer(dist);
  plain = await plainServer(dist);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  plain?.close();
});

test('vite: the bundle carries the worker, alibi.wasm, kernels.wasm and wasm_exec.js', async (t) => {
  if (!need(t, !missing, missing)) return;
  // Vite bundles a worker only for the literal form
  //   new Worker(new URL('./worker.js', import.meta.url), { type: 'module' })
  // in alibi.js; with the URL in a variable it copies worker.js verbatim as
  // an asset, whose './loader/*.js' imports then 404 in the built app.
  const src = fs.readFileSync(path.join(pkg.dir, 'alibi.js'), 'utf8');
  assert.match(src, /new Worker\(new URL\(['"]\.\/worker\.js['"],\s*import\.meta\.url\)/,
    "alibi.js must construct its worker as new Worker(new URL('./worker.js', import.meta.url), { type: 'module', ... }) " +
    'for bundlers (Vite, webpack 5) to bundle the worker and its imports');
  const pinned = JSON.parse(fs.readFileSync(path.join(repo, 'examples', 'vite', 'package.json'), 'utf8')).devDependencies.vite;
  const installed = JSON.parse(fs.readFileSync(path.join(work, 'node_modules', 'vite', 'package.json'), 'utf8')).version;
  assert.equal(installed, pinned, 'vite as pinned by examples/vite');
  assert.match(installed, /^7\./);
  const assets = fs.readdirSync(path.join(dist, 'assets'));
  assert.ok(assets.some((f) => /^alibi-.*\.wasm$/.test(f)), `alibi.wasm emitted: ${assets}`);
  if (fs.existsSync(path.join(pkg.dir, 'kernels.wasm'))) assert.ok(assets.some((f) => /^kernels-.*\.wasm$/.test(f)), `kernels.wasm emitted: ${assets}`);
  assert.ok(assets.some((f) => /^wasm_exec-.*\.js$/.test(f)), `wasm_exec.js emitted as a chunk: ${assets}`);
  const workers = assets.filter((f) => /^worker-.*\.js$/.test(f)).map((f) => fs.readFileSync(path.join(dist, 'assets', f), 'utf8'));
  assert.ok(workers.some((w) => !/from\s*['"]\.\/loader\//.test(w) && /alibi-[^'"]*\.wasm/.test(w)),
    'a bundled worker (its loader modules inlined, alibi.wasm rewritten to the hashed asset)');
  // No unbundled copy of worker.js next to it: a second literal
  // new URL('./worker.js', import.meta.url) in alibi.js makes bundlers emit
  // one (dead weight in Vite; webpack's minimizer fails on it).
  assert.deepEqual(workers.filter((w) => /from\s*['"]\.\/loader\//.test(w)).length, 0, 'no unbundled worker.js emitted as an asset');
});

test('vite: the built app streams a greedy completion in Chromium (alibi serve), same tokens as Node', async (t) => {
  if (!need(t, !missing, missing)) return;
  const want = await nodeGreedy(work, TOKENS);
  assert.ok(want.length > 0, 'node produced tokens');
  server.clear();
  const { state, errors, shown } = await runPage(browser, `${server.url}?tokens=${TOKENS}`);
  assert.equal(state.error, null, `page error: ${state.error}; console: ${errors.join(' | ')}`);
  assert.deepEqual(state.tokens, want, 'browser greedy tokens equal Node greedy tokens');
  assert.ok(shown.startsWith(PROMPT) && shown.length > PROMPT.length, `streamed text shown: ${shown}`);
  assert.equal(state.info.threads, 1);
  assert.equal(state.info.runtime, 'browser');
  assert.equal(state.info.crossOriginIsolated, true, 'alibi serve sends COOP/COEP');
  assert.equal(state.info.simd, fs.existsSync(path.join(pkg.dir, 'kernels.wasm')), 'SIMD kernels found through the bundle');
  const paths = server.requests().map((r) => r.path);
  assert.ok(paths.some((p) => /^\/assets\/alibi-.*\.wasm$/.test(p)), `alibi.wasm fetched from the bundle: ${paths}`);
  assert.ok(!paths.some((p) => p.startsWith('/cdn/')), 'nothing from the CDN folder without baseURL');
  assert.deepEqual(server.requests().filter((r) => r.status >= 400), [], 'no failed requests');
  assert.deepEqual(errors, []);
});

test('vite: works without cross-origin isolation (single thread), and says so in model.info', async (t) => {
  if (!need(t, !missing, missing)) return;
  const want = await nodeGreedy(work, TOKENS);
  const { state, errors } = await runPage(browser, `${plain.url}?tokens=${TOKENS}`);
  assert.equal(state.error, null, `page error: ${state.error}; console: ${errors.join(' | ')}`);
  assert.equal(state.info.crossOriginIsolated, false);
  assert.equal(state.info.threads, 1);
  assert.deepEqual(state.tokens, want);
});

test('vite: baseURL loads the worker and wasm files from another folder (CDN option)', async (t) => {
  if (!need(t, !missing, missing)) return;
  server.clear();
  const { state, errors } = await runPage(browser, `${server.url}?tokens=4&base=cdn/alibi-wasm/`);
  assert.equal(state.error, null, `page error: ${state.error}; console: ${errors.join(' | ')}`);
  assert.equal(state.tokens.length > 0, true);
  const paths = server.requests().map((r) => r.path);
  assert.ok(paths.includes('/cdn/alibi-wasm/worker.js'), `worker from baseURL: ${paths}`);
  assert.ok(paths.includes('/cdn/alibi-wasm/alibi.wasm'), `alibi.wasm from baseURL: ${paths}`);
  assert.ok(!paths.some((p) => /^\/assets\/alibi-.*\.wasm$/.test(p)), 'the bundled wasm is not fetched');
});

test('vite: the dev server (vite, optimizeDeps.exclude) serves a working app', async (t) => {
  if (!need(t, !missing, missing)) return;
  fs.cpSync(path.join(siteDir, 'models', MODEL), path.join(work, 'public', 'models', MODEL), { recursive: true });
  const dev = spawn(path.join(work, 'node_modules/.bin/vite'), ['--host', '127.0.0.1', '--port', '0', '--clearScreen', 'false'],
    { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  const killOnExit = () => dev.kill('SIGTERM');
  process.once('exit', killOnExit);
  t.after(() => { process.removeListener('exit', killOnExit); dev.kill('SIGTERM'); });
  let log = '';
  const url = await new Promise((resolve, reject) => {
    const onData = (d) => {
      log += d;
      // eslint-disable-next-line no-control-regex
      const m = /Local:\s+(http:\/\/\S+\/)/.exec(log.replace(/\x1b\[[0-9;]*m/g, ''));
      if (m) resolve(m[1]);
    };
    dev.stdout.on('data', onData);
    dev.stderr.on('data', onData);
    dev.on('exit', (code) => reject(new Error(`vite exited with ${code}: ${log}`)));
    setTimeout(() => reject(new Error(`vite dev server did not start: ${log}`)), 30_000);
  });
  const want = await nodeGreedy(work, 8);
  const { state, errors } = await runPage(browser, `${url}?tokens=8`);
  assert.equal(state.error, null, `page error: ${state.error}; console: ${errors.join(' | ')}; vite: ${log}`);
  assert.deepEqual(state.tokens, want);
});

test('vite: a plain page imports the unbundled package folder', async (t) => {
  if (!need(t, !missing, missing)) return;
  const want = await nodeGreedy(work, 8);
  const { state, errors } = await runPage(browser, `${server.url}plain.html`);
  assert.equal(state.error, null, `page error: ${state.error}; console: ${errors.join(' | ')}`);
  assert.deepEqual(state.tokens, want);
});
