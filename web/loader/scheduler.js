// The chunk scheduler: fetch items with a few requests in flight and hand
// them to a consumer strictly in order, with back-pressure. An item counts
// as held from the start of its fetch until its consumer finished, and at
// most `concurrency` items are held at once, so the page never keeps more
// than `concurrency` chunks in memory however fast the network is.

import { abortError } from './errors.js';

export async function runPipeline(items, { concurrency = 3, fetch, consume, signal, onHeld } = {}) {
  if (!(concurrency >= 1)) throw new Error('alibi: pipeline concurrency must be >= 1');
  const inner = new AbortController();
  const onAbort = () => inner.abort(signal.reason);
  if (signal) {
    if (signal.aborted) throw abortError(signal);
    signal.addEventListener('abort', onAbort, { once: true });
  }
  const pending = new Array(items.length);
  let next = 0;
  let held = 0;
  const start = () => {
    while (next < items.length && held < concurrency && !inner.signal.aborted) {
      const i = next++;
      held++;
      if (onHeld) onHeld(held);
      pending[i] = Promise.resolve().then(() => fetch(items[i], i, inner.signal));
      pending[i].catch((e) => inner.abort(e)); // fail fast; the error is rethrown below, in order
    }
  };
  try {
    start();
    for (let i = 0; i < items.length; i++) {
      const value = await pending[i];
      pending[i] = null;
      if (signal && signal.aborted) throw abortError(signal);
      await consume(items[i], value, i);
      held--;
      if (onHeld) onHeld(held);
      start();
    }
  } catch (e) {
    inner.abort(e);
    if (signal && signal.aborted) throw abortError(signal);
    throw e;
  } finally {
    if (signal) signal.removeEventListener('abort', onAbort);
  }
}
