// The npm package alibi-wasm in a webpack 5 app with webpack's defaults
// (examples/webpack): pack, install the tarball, `webpack`, serve dist with
// `alibi serve`, and in headless Chromium load the bundled default model and
// stream a greedy completion equal to the same package's in Node.
//   node --test e2e/package-webpack.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { need, startServer, launch, browserMissing } from './lib/harness.mjs';
import { pack, installExample, sh, siteDir, gateReason, offline, MODEL, nodeGreedy, runPage, PROMPT } from './package-common.mjs';

const TOKENS = 12;

let missing = '';
let work;
let dist;
let pkg;
let server;
let browser;
let buildError = null;

before(async () => {
  missing = gateReason() || await browserMissing();
  if (missing) return;
  pkg = await pack();
  try {
    work = installExample('webpack', pkg.tgz);
  } catch (e) {
    if (!offline(e)) throw e;
    missing = `npm registry unreachable: ${e.message.split('\n')[0]}`;
    return;
  }
  dist = path.join(work, 'dist');
  try {
    sh(path.join(work, 'node_modules/.bin/webpack'), [], { cwd: work });
  } catch (e) {
    buildError = e;
    return;
  }
  fs.cpSync(path.join(siteDir, 'models', MODEL), path.join(dist, 'models', MODEL), { recursive: true });
  server = await startServer(dist);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('webpack: the package builds with webpack defaults', async (t) => {
  if (!need(t, !missing, missing)) return;
  // Known causes, all in the runtime (web/alibi.js, web/worker.js, web/loader/*):
  // - import('node:…') must carry /* webpackIgnore: true */ (webpack cannot read node: URIs for the web);
  // - only the Worker constructor may use new URL('./worker.js', import.meta.url): any other literal
  //   new URL('./worker.js', import.meta.url) makes webpack emit the unbundled worker as an asset,
  //   which its minimizer then fails to parse (an ES module as a script).
  assert.equal(buildError, null, buildError && buildError.message.split('\n').filter((l) => /ERROR|node:|Unexpected/.test(l)).slice(0, 8).join('\n'));
  const files = fs.readdirSync(dist);
  assert.ok(files.filter((f) => f.endsWith('.wasm')).length >= (fs.existsSync(path.join(pkg.dir, 'kernels.wasm')) ? 2 : 1), `wasm assets: ${files}`);
});

test('webpack: the built app streams a greedy completion in Chromium, same tokens as Node', async (t) => {
  if (!need(t, !missing, missing)) return;
  if (buildError) assert.fail('webpack build failed (see the test above)');
  const want = await nodeGreedy(work, TOKENS);
  server.clear();
  const { state, errors, shown } = await runPage(browser, `${server.url}?tokens=${TOKENS}`);
  assert.equal(state.error, null, `page error: ${state.error}; console: ${errors.join(' | ')}`);
  assert.deepEqual(state.tokens, want);
  assert.ok(shown.startsWith(PROMPT) && shown.length > PROMPT.length);
  assert.equal(state.info.threads, 1);
  assert.equal(state.info.simd, fs.existsSync(path.join(pkg.dir, 'kernels.wasm')));
  assert.deepEqual(server.requests().filter((r) => r.status >= 400), []);
  assert.deepEqual(errors, []);
});
