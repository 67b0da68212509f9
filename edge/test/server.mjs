// Test harness: starts workerd with edge/config.capnp on a free port (or
// uses ALIBI_EDGE_URL), and tells where the served site is.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, realpathSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const EDGE_DIR = resolve(process.env.ALIBI_EDGE_DIR || join(dirname(fileURLToPath(import.meta.url)), '..'));
export const ROOT = resolve(EDGE_DIR, '..');
const FULL = process.env.ALIBI_FULL === '1';

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
    s.on('error', rej);
  });
}

// skipReason returns why the suite cannot run ('' when it can). Under
// ALIBI_FULL=1 a missing prerequisite is an error, not a skip.
export function skipReason() {
  if (process.env.ALIBI_EDGE_URL) return '';
  const workerd = join(ROOT, 'node_modules/.bin/workerd');
  let why = '';
  if (!existsSync(workerd)) why = `workerd not installed (${workerd}); run npm ci at the root`;
  else if (!existsSync(join(EDGE_DIR, 'build/edge.wasm')) || !existsSync(join(EDGE_DIR, 'build/site-index.json'))) why = 'edge not built; run make edge';
  if (why && FULL) throw new Error(`ALIBI_FULL=1: ${why}`);
  return why;
}

let server = null;

// start returns { url, site, stop() }.
export async function start() {
  if (server) return server;
  const site = realpathSync(process.env.ALIBI_SITE || join(EDGE_DIR, 'build/site'));
  if (process.env.ALIBI_EDGE_URL) {
    server = { url: process.env.ALIBI_EDGE_URL.replace(/\/$/, ''), site, stop: async () => {} };
    return server;
  }
  const port = await freePort();
  const workerd = join(ROOT, 'node_modules/.bin/workerd');
  const child = spawn(workerd, ['serve', '--experimental', 'config.capnp', '--socket-addr', `http=127.0.0.1:${port}`], {
    cwd: EDGE_DIR, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`workerd exited ${child.exitCode}: ${log}`);
    try { await fetch(url + '/v1/models'); break; } catch { /* not yet */ }
    if (Date.now() > deadline) { child.kill(); throw new Error(`workerd did not start: ${log}`); }
    await new Promise((r) => setTimeout(r, 100));
  }
  server = {
    url, site, log: () => log,
    stop: () => new Promise((r) => { if (child.exitCode !== null) return r(); child.on('exit', r); child.kill('SIGTERM'); }),
  };
  return server;
}

// siteFiles lists the served files (from the build's site index).
export function siteFiles() {
  const idx = JSON.parse(readFileSync(join(EDGE_DIR, 'build/site-index.json'), 'utf8'));
  return idx.files;
}

export function modelDirInSite() { return 'models/brown-bloom'; }

export function largestModelFile(site) {
  const files = siteFiles();
  return Object.keys(files).filter((f) => f.startsWith('models/')).sort((a, b) => files[b].size - files[a].size)[0];
}

export { readFileSync, statSync, readdirSync };
