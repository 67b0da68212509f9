// alibi service worker: the app shell offline, one version at a time.
//
// Registered as sw.js?v=<version>, where version comes from assets.json
// ({"version", "files": [...], "lazy": [...]}, written by cmd/build-wasm).
// On install it precaches the listed files but the lazy ones (the
// kernel-threads build, which most visits never load) under
// `alibi-shell-<version>`, and keeps assets.json there; a lazy file is
// cached the first time it is fetched. It serves the shell cache-first from
// that one cache, so a page never mixes files of two builds. A newer build
// installs beside it and waits until the page asks it to take over
// ("reload to update").
//
// Model files are not cached here: the runtime keeps verified chunks in its
// own Cache Storage. Requests for them go to the network, and when that
// fails (offline) they are answered from any cache that holds the exact URL.

const VERSION = new URL(self.location.href).searchParams.get('v') || 'dev';
const SHELL = `alibi-shell-${VERSION}`;
const SCOPE = new URL(self.registration.scope);

// The shell cache's entry listing this build's lazy files.
const LAZY_KEY = 'alibi-sw-lazy.json';

// Paths (relative to the scope) that are never part of the shell.
const isModelPath = (p) => p.startsWith('models/');
const isControlPath = (p) => p === 'assets.json' || p === 'sw.js';

function relPath(url) {
  return url.pathname.startsWith(SCOPE.pathname) ? url.pathname.slice(SCOPE.pathname.length) : null;
}

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const res = await fetch(new URL('assets.json', SCOPE), { cache: 'no-store' });
    if (!res.ok) throw new Error(`sw: assets.json: HTTP ${res.status}`);
    const assets = await res.json();
    if (VERSION !== 'dev' && assets.version !== VERSION) {
      // The server moved on while this worker was being fetched: fail the
      // install; the page registers the newer version on its next visit.
      throw new Error(`sw: assets.json version ${assets.version}, worker ${VERSION}`);
    }
    const lazy = new Set(assets.lazy || []);
    const files = (assets.files || []).filter((f) => !isModelPath(f.replace(/^\.?\//, '')) && !isControlPath(f) && !lazy.has(f));
    if (!files.includes('index.html')) files.push('index.html');
    const cache = await caches.open(SHELL);
    // cache: 'reload' skips the HTTP cache, so the shell is the server's current build.
    await cache.addAll(files.map((f) => new Request(new URL(f, SCOPE), { cache: 'reload' })));
    await cache.put(new URL(LAZY_KEY, SCOPE), new Response(JSON.stringify([...lazy]), { headers: { 'Content-Type': 'application/json' } }));
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('alibi-shell-') && name !== SHELL) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'skip-waiting') self.skipWaiting();
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== SCOPE.origin) return; // other sites: the runtime handles them
  const path = relPath(url);
  if (path === null || isControlPath(path)) return; // straight to the network
  if (isModelPath(path)) {
    event.respondWith(modelFetch(req));
    return;
  }
  event.respondWith(shellFetch(req, path));
});

async function shellFetch(req, path) {
  const cache = await caches.open(SHELL);
  let hit = await cache.match(req);
  if (!hit && (req.mode === 'navigate' || path === '')) hit = await cache.match(new URL('index.html', SCOPE));
  // Versioned names (app.js?v=...) and plain ones map to the same entry:
  // this cache only ever holds one build, so ignoring the query is safe.
  if (!hit) hit = await cache.match(req, { ignoreSearch: true });
  if (hit) return hit;
  const res = await fetch(req);
  if (res.ok && res.status === 200 && await isLazy(cache, path)) await cache.put(req, res.clone());
  return res;
}

// isLazy reports whether path is a lazy file of this worker's build.
async function isLazy(cache, path) {
  const list = await cache.match(new URL(LAZY_KEY, SCOPE));
  if (!list) return false;
  try {
    return (await list.json()).includes(path);
  } catch {
    return false;
  }
}

async function modelFetch(req) {
  try {
    return await fetch(req);
  } catch (err) {
    // Offline. A byte range cannot be answered from a whole cached file
    // here; the runtime reads its own cache for those.
    if (!req.headers.has('range')) {
      const hit = await caches.match(req);
      if (hit) return hit;
    }
    throw err;
  }
}
