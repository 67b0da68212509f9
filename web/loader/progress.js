// Progress events of a load: { status, file, loaded, total } where status is
// 'download' | 'verify' | 'load' | 'ready'. `loaded` counts the weight bytes
// received so far (from the network or the cache) and never decreases;
// `total` is the size of all weight files. Events are throttled to one per
// `interval` ms (about 10 per second); a trailing event is delivered after
// the interval so the last state is never lost, and 'ready' (or any event
// passed with force) is delivered at once.

export const STATUSES = Object.freeze(['download', 'verify', 'load', 'ready']);

export function createProgress(onProgress, {
  interval = 100,
  now = () => (globalThis.performance ? performance.now() : Date.now()),
  schedule = (fn, ms) => setTimeout(fn, ms),
  cancel = (t) => clearTimeout(t),
} = {}) {
  let last = -Infinity;
  let pending = null;
  let timer = null;
  let loaded = 0;
  let total = 0;
  let closed = false;
  const extra = { network: 0, cached: 0, written: 0, engineMs: 0 };

  function emit(ev) {
    last = now();
    pending = null;
    if (timer !== null) { cancel(timer); timer = null; }
    if (onProgress) {
      try { onProgress(ev); } catch { /* a throwing listener must not break the load */ }
    }
  }

  function flush() {
    if (pending) emit(pending);
  }

  return {
    setTotal(t) { total = Math.max(total, t); },
    get loaded() { return loaded; },
    get total() { return total; },
    count(kind, n) { extra[kind] = (extra[kind] || 0) + n; },
    // report records a new state; `add` bytes are added to loaded.
    report(status, file, add = 0, { force = false } = {}) {
      if (closed) return;
      if (!STATUSES.includes(status)) throw new Error(`alibi: progress: bad status ${status}`);
      loaded = Math.min(total, loaded + Math.max(0, add));
      if (status === 'ready') loaded = total;
      const ev = { status, file, loaded, total, ...extra };
      if (status === 'ready') closed = true;
      if (force || status === 'ready' || now() - last >= interval) {
        emit(ev);
        return;
      }
      pending = ev;
      if (timer === null) {
        timer = schedule(() => { timer = null; flush(); }, Math.max(0, interval - (now() - last)));
      }
    },
    flush,
    close() { closed = true; pending = null; if (timer !== null) { cancel(timer); timer = null; } },
  };
}
