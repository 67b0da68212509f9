// alibi edge glue: runs the Go Worker (github.com/syumai/workers) with ONE
// Go instance per isolate. syumai/workers' stock glue (worker.mjs from
// workers-assets-gen) starts a fresh instance for every request, which would
// reload the model every time; this file instantiates Go once, with the
// library's `workers.ready` import and its runtime context
// (globalThis.context = { env, ctx, binding }), and then hands every request
// to the `binding.handleRequest` the library registers.
//
// It also supplies, on globalThis.__alibiEdge, what the library has no API
// for (see edge/bridge_js.go): ranged reads of the static assets and of R2
// with the runtime's native SHA-256, response bodies streamed straight from
// those stores, pull streams for server-sent events, a yield to the event
// loop, and the request bookkeeping below. Completion requests (POST /v1/...)
// are serialized here, one at a time per isolate, in arrival order.
import './wasm_exec.js';
import goModule from './edge.wasm';
import kernelsModule from './kernels.wasm';
import siteIndex from './site-index.json';
import { simdImports } from './simd-host.mjs';

const MAX_API_WAITING = 64; // completions waiting behind the running one; more is 503
const ID_HEADER = 'X-Alibi-Edge-Request'; // edge/bridge_js.go requestIDHeader

let starting = null; // Promise<{ binding, api }> of the live Go instance
let runtimeContext = null; // syumai/workers' runtime context of that instance
let nextId = 1;
const stats = { instances: 0, startMs: 0, simd: false };
const finishers = new Map(); // request id -> called when Go's handler returns

// syumai/workers' jsutil.TryCatch calls this (its stock worker.mjs defines it).
globalThis.tryCatch = (fn) => {
  try {
    return { result: fn() };
  } catch (e) {
    return { error: e };
  }
};

function startGo(env, ctx) {
  if (starting) {
    runtimeContext.ctx = ctx; // the newest request's ExecutionContext
    return starting;
  }
  starting = new Promise((resolve, reject) => {
    const t0 = Date.now();
    let api = null;
    let ready = false;
    const binding = {};
    runtimeContext = { env, ctx, binding };
    globalThis.context = runtimeContext; // read by syumai/workers when Go starts
    const maybeResolve = () => {
      if (api && ready) {
        stats.startMs = Date.now() - t0;
        resolve({ binding, api });
      }
    };
    globalThis.__alibiEdge = {
      index: JSON.stringify(siteIndex),
      hasDigest: HAS_DIGEST,
      open: (store, key, offset, length) => openRange(env, store, key, offset, length).then((b) => b && coalescing(b.getReader())),
      body: (store, key, offset, length) => openRange(env, store, key, offset, length).then((b) => b && withLength(b, length)),
      stream: (pull, cancel) => new ReadableStream({
        pull: (c) => new Promise((res) => pull((chunk) => {
          if (chunk) c.enqueue(chunk);
          else c.close();
          res();
        })),
        cancel: () => cancel(),
      }, { highWaterMark: 0 }),
      finished: (id) => {
        const f = finishers.get(id);
        if (f) { finishers.delete(id); f(); }
      },
      yield: () => new Promise((r) => setTimeout(r, 0)),
      log: (s) => console.log(s),
      stats,
      register: (a) => { api = a; maybeResolve(); },
    };
    const go = new Go();
    const simd = simdImports();
    const instance = new WebAssembly.Instance(goModule, {
      ...go.importObject,
      ...simd.importObject,
      workers: { ready: () => { ready = true; maybeResolve(); } },
    });
    try {
      stats.simd = env.ALIBI_SIMD === '0' ? false : simd.bind(instance, kernelsModule, { warmUp: true });
    } catch (e) {
      console.warn('alibi edge: SIMD kernels unavailable, using pure Go:', e);
    }
    stats.instances++;
    const exited = (e) => {
      console.error('alibi edge: Go instance exited', e || '');
      starting = null;
      failPending(e);
      reject(e || new Error('alibi edge: Go exited'));
    };
    go.run(instance).then(() => exited(), exited);
  });
  const mine = starting;
  mine.catch(() => { if (starting === mine) starting = null; }); // a failed start is retried
  return mine;
}

// Serializes completion requests in arrival order: acquire() resolves to a
// release function. A waiter whose client disconnects leaves the line.
const waiters = [];
let busy = false;
let apiWaiting = 0;
function acquire(signal) {
  return new Promise((resolve) => {
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      busy = false;
      grantNext();
    };
    const w = { grant: () => { busy = true; resolve(release); }, signal };
    if (!busy) { w.grant(); return; }
    waiters.push(w);
    apiWaiting++;
    if (signal) signal.addEventListener('abort', () => {
      const i = waiters.indexOf(w);
      if (i >= 0) { waiters.splice(i, 1); apiWaiting--; resolve(null); }
    }, { once: true });
  });
}
function grantNext() {
  while (waiters.length) {
    const w = waiters.shift();
    apiWaiting--;
    if (w.signal && w.signal.aborted) continue;
    w.grant();
    return;
  }
}

// Requests still waiting for Go's answer; if the Go instance exits (a
// crash), they are answered so that no request hangs.
const pending = new Set();
function goCall(promise) {
  return new Promise((resolve, reject) => {
    const entry = { reject };
    pending.add(entry);
    promise.then((v) => { pending.delete(entry); resolve(v); }, (e) => { pending.delete(entry); reject(e); });
  });
}
function failPending(e) {
  for (const entry of pending) entry.reject(e || new Error('alibi edge: Go exited'));
  pending.clear();
}

const HAS_DIGEST = typeof crypto !== 'undefined' && typeof crypto.DigestStream === 'function';

// coalescing wraps a stream reader so that each read() hands Go at least
// 1 MiB (or the rest): every read is a Go -> JS -> Go round trip. It also
// computes the SHA-256 of what it read with the runtime's native
// crypto.DigestStream (Go's sha256 under wasm is ~80x slower).
function coalescing(reader, min = 1 << 20) {
  let done = false;
  const ds = HAS_DIGEST ? new crypto.DigestStream('SHA-256') : null;
  const dw = ds ? ds.getWriter() : null;
  return {
    async sha256() {
      if (!dw || !done) return null;
      await dw.close();
      return [...new Uint8Array(await ds.digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
    },
    async read() {
      if (done) return { done: true, value: undefined };
      const parts = [];
      let n = 0;
      while (n < min) {
        const r = await reader.read();
        if (r.done) { done = true; break; }
        if (dw) await dw.write(r.value);
        parts.push(r.value);
        n += r.value.byteLength;
      }
      if (n === 0) return { done: true, value: undefined };
      if (parts.length === 1) return { done: false, value: parts[0] };
      const out = new Uint8Array(n);
      let o = 0;
      for (const p of parts) { out.set(p, o); o += p.byteLength; }
      return { done: false, value: out };
    },
    cancel: (reason) => reader.cancel(reason),
  };
}

function encodeKey(key) {
  return key.split('/').map(encodeURIComponent).join('/');
}

// openRange returns a ReadableStream of exactly `length` bytes of `key` at
// `offset` (length < 0: to the end), from R2 or the static assets.
async function openRange(env, store, key, offset, length) {
  if (store === 'r2') {
    const opts = length >= 0 ? { range: { offset, length } } : offset > 0 ? { range: { offset } } : {};
    const obj = await env.MODELS.get(key, opts);
    return obj ? obj.body : null;
  }
  const headers = {};
  const ranged = offset > 0 || length >= 0;
  if (ranged) headers.Range = `bytes=${offset}-${length >= 0 ? offset + length - 1 : ''}`;
  const res = await env.ASSETS.fetch(new Request(`https://assets.local/${encodeKey(key)}`, { headers }));
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`assets: ${key}: HTTP ${res.status}`);
  if (!ranged || res.status === 206) return res.body;
  return sliceStream(res.body, offset, length); // the asset server ignored Range
}

function sliceStream(body, offset, length) {
  let skip = offset;
  let left = length >= 0 ? length : Infinity;
  return body.pipeThrough(new TransformStream({
    transform(chunk, ctl) {
      if (left <= 0) return;
      let c = chunk;
      if (skip > 0) {
        if (c.byteLength <= skip) { skip -= c.byteLength; return; }
        c = c.subarray(skip);
        skip = 0;
      }
      if (c.byteLength > left) c = c.subarray(0, left);
      left -= c.byteLength;
      ctl.enqueue(c);
    },
  }));
}

function withLength(stream, length) {
  if (typeof FixedLengthStream === 'undefined' || !(length >= 0)) return stream;
  const fl = new FixedLengthStream(length);
  stream.pipeTo(fl.writable).catch(() => {});
  return fl.readable;
}

function jsonError(status, code, message) {
  return new Response(JSON.stringify({ error: { message, type: status >= 500 ? 'server_error' : 'invalid_request_error', param: null, code } }) + '\n', {
    status, headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Access-Control-Allow-Origin': '*' },
  });
}

const MAX_BODY = 1 << 20; // Go enforces the real limit (64 KiB); this only bounds the copy

async function readBody(request) {
  if (request.method === 'GET' || request.method === 'HEAD' || !request.body) return null;
  const len = Number(request.headers.get('content-length'));
  if (len > MAX_BODY) return new Uint8Array(MAX_BODY + 1);
  const reader = request.body.getReader();
  const parts = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    n += value.byteLength;
    if (n > MAX_BODY) { reader.cancel().catch(() => {}); break; }
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.byteLength; }
  return out;
}

async function handle(request, env, ctx) {
  const { binding, api } = await startGo(env, ctx);
  const url = new URL(request.url);
  const serialized = request.method === 'POST' && url.pathname.startsWith('/v1/');
  let release = null;
  let finish = () => {};
  let body = null;
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    try {
      body = await readBody(request); // before queueing: a slow upload must not hold the line
    } catch {
      return jsonError(400, 'bad_body', 'could not read the request body');
    }
  }
  if (serialized) {
    if (apiWaiting >= MAX_API_WAITING) return jsonError(503, 'overloaded', 'too many requests are waiting; retry later');
    // Keep this request's context alive until its turn is over, even if the
    // client goes away: the queue must move on.
    ctx.waitUntil(new Promise((r) => { finish = r; }));
    release = await acquire(request.signal);
    if (!release) { finish(); return jsonError(499, 'client_closed', 'client closed the request'); }
  }
  let released = false;
  const id = String(nextId++);
  const onAbort = () => api.abort(id);
  const done = () => {
    if (released) return;
    released = true;
    finishers.delete(id);
    if (request.signal) request.signal.removeEventListener('abort', onAbort);
    if (release) release();
    finish();
  };
  try {
    if (request.signal && request.signal.aborted) { done(); return jsonError(499, 'client_closed', 'client closed the request'); }
    const headers = new Headers(request.headers);
    headers.set(ID_HEADER, id); // replaces any value the client sent
    // What syumai/workers' jshttp.ToRequest reads (url, method, headers,
    // body). Not a new Request: its constructor would normalize the URL
    // (/%2e/x/.. -> /), and Go must see the path exactly as sent.
    const goRequest = { url: request.url, method: request.method, headers, body: body ? new Response(body).body : null };
    finishers.set(id, done); // Go calls finished(id) when its handler returns
    if (request.signal) request.signal.addEventListener('abort', onAbort);
    const res = await goCall(binding.handleRequest(goRequest));
    if (request.method === 'HEAD' && res.body) {
      res.body.cancel().catch(() => {});
      return new Response(null, { status: res.status, headers: res.headers });
    }
    return res;
  } catch (e) {
    done();
    console.error('alibi edge:', e && e.stack || e);
    return jsonError(500, 'internal', 'internal error');
  }
}

export default {
  fetch: handle,
};
