// The R2 path: `wrangler dev --local --env r2` (miniflare's R2 emulation)
// with the site's model files put into the local bucket. Needs wrangler
// (pinned 4.86.0): ALIBI_WRANGLER or node_modules/.bin/wrangler.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, realpathSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { skipReason, siteFiles, largestModelFile, EDGE_DIR, ROOT } from './server.mjs';

const WRANGLER = process.env.ALIBI_WRANGLER || join(ROOT, 'node_modules/.bin/wrangler');
let skip = skipReason() || false;
if (!skip && !existsSync(WRANGLER)) {
  skip = `wrangler not installed (${WRANGLER}); add wrangler 4.86.0 to devDependencies or set ALIBI_WRANGLER`;
  if (process.env.ALIBI_FULL === '1') throw new Error(`ALIBI_FULL=1: ${skip}`);
}

const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1' };
let child, url, state, site, log = '';

// fetch with one retry on a network error (miniflare under load).
async function get(u, init) {
  try { return await fetch(u, init); } catch { await new Promise((r) => setTimeout(r, 500)); return fetch(u, init); }
}

function freePort() {
  return new Promise((res) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); }); });
}

function put(key, file) {
  execFileSync(WRANGLER, ['r2', 'object', 'put', `alibi-models/${key}`, '--file', file, '--local', '--persist-to', state, '--env', 'r2'],
    { cwd: EDGE_DIR, env, stdio: 'pipe' });
}

before(async () => {
  if (skip) return;
  site = realpathSync(process.env.ALIBI_SITE || join(EDGE_DIR, 'build/site'));
  state = mkdtempSync(join(tmpdir(), 'alibi-r2-'));
  for (const f of Object.keys(siteFiles()).filter((f) => f.startsWith('models/'))) put(f, join(site, f));
  const port = await freePort();
  child = spawn(WRANGLER, ['dev', '--local', '--env', 'r2', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', state],
    { cwd: EDGE_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60000;
  for (;;) {
    try { if ((await fetch(url + '/v1/models')).ok) break; } catch { /* not yet */ }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`wrangler dev did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
});

after(async () => {
  if (child && child.exitCode === null) await new Promise((r) => { child.on('exit', r); child.kill('SIGTERM'); });
  if (state) rmSync(state, { recursive: true, force: true });
});

test('R2: model files and R2-only files are served with Range', { skip }, async () => {
  const name = largestModelFile();
  const file = readFileSync(join(site, name));
  const res = await get(`${url}/${name}`, { headers: { Range: 'bytes=7-1006' } });
  assert.equal(res.status, 206);
  assert.ok(Buffer.from(await res.arrayBuffer()).equals(file.subarray(7, 1007)));
  assert.equal(res.headers.get('etag'), `"${siteFiles()[name].sha256.slice(0, 32)}"`);
  // A file only the bucket has (not in the site index): found through R2 head().
  const extra = randomBytes(5000);
  const tmp = join(state, 'extra.bin');
  writeFileSync(tmp, extra);
  put('models/only-in-r2.bin', tmp);
  const r2 = await get(`${url}/models/only-in-r2.bin`, { headers: { Range: 'bytes=100-' } });
  assert.equal(r2.status, 206);
  assert.equal(r2.headers.get('content-range'), 'bytes 100-4999/5000');
  assert.ok(Buffer.from(await r2.arrayBuffer()).equals(extra.subarray(100)));
  assert.equal((await get(`${url}/models/not-there.bin`)).status, 404);
});

test('R2: completions load the model from the bucket', { skip }, async () => {
  const res = await get(url + '/v1/completions', { method: 'POST', body: JSON.stringify({ prompt: 'The', max_tokens: 6, temperature: 0 }) });
  assert.equal(res.status, 200, await res.clone().text());
  const r = await res.json();
  assert.ok(r.choices[0].token_ids.length > 0);
  const st = await (await fetch(url + '/v1/status')).json();
  assert.equal(st.model_loads, 1);
  assert.equal(st.model_load_error, '');
});
