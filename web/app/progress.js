// Loading progress: folds the runtime's onProgress events into one line of
// text and a fraction, with an ETA from the observed byte rate. Per the
// runtime (web/loader/progress.js), `loaded` counts all weight bytes received
// so far (network or cache), never decreases, and `total` is the size of all
// weight files; `network` and `cached` split `loaded` by source when present.
import { formatBytes, formatDuration } from './format.js';

const phaseNames = {
  download: 'Downloading',
  verify: 'Verifying',
  load: 'Loading weights',
  ready: 'Ready',
};

export class ProgressTracker {
  constructor(now = () => performance.now()) {
    this.now = now;
    this.reset();
  }

  reset() {
    this.start = this.now();
    this.ev = { status: '', file: '', loaded: 0, total: 0 };
    this.samples = []; // [t, loaded] over the last few seconds
  }

  /** update folds one progress event; returns the current summary. */
  update(ev) {
    const prev = this.ev;
    this.ev = {
      status: String(ev?.status ?? ''),
      file: String(ev?.file ?? ''),
      loaded: Math.max(prev.loaded, Number(ev?.loaded) || 0),
      total: Math.max(0, Number(ev?.total) || 0),
      network: Number(ev?.network) || 0,
      cached: Number(ev?.cached) || 0,
    };
    const t = this.now();
    this.samples.push([t, this.ev.loaded]);
    while (this.samples.length > 2 && t - this.samples[0][0] > 3000) this.samples.shift();
    return this.summary();
  }

  /** rate in bytes per ms over the recent window (0 when unknown). */
  rate() {
    if (this.samples.length < 2) return 0;
    const [t0, b0] = this.samples[0];
    const [t1, b1] = this.samples[this.samples.length - 1];
    return t1 - t0 >= 250 ? (b1 - b0) / (t1 - t0) : 0;
  }

  /** summary -> { fraction (0..1 or null), text, phase, etaMs } */
  summary() {
    const { status, file, loaded, total, network, cached } = this.ev;
    const elapsed = this.now() - this.start;
    if (status === 'ready') {
      const src = cached > 0 && network === 0 ? ' from this device' : network > 0 && cached === 0 ? ' from the network' : '';
      return { fraction: 1, phase: status, etaMs: 0, text: `Loaded ${formatBytes(total || loaded)}${src} in ${formatDuration(elapsed)}` };
    }
    const fraction = total > 0 ? Math.min(1, loaded / total) : null;
    const rate = this.rate();
    const etaMs = total > 0 && rate > 0 ? (total - loaded) / rate : null;
    const parts = [phaseNames[status] ?? (status || 'Starting')];
    if (total > 0) parts.push(`${formatBytes(loaded)} of ${formatBytes(total)} (${Math.floor(fraction * 100)}%)`);
    else if (loaded > 0) parts.push(formatBytes(loaded));
    if (rate > 0) parts.push(`${formatBytes(rate * 1000)}/s`);
    if (etaMs !== null && etaMs > 300) parts.push(`about ${formatDuration(etaMs)} left`);
    if (file) parts.push(file);
    return { fraction, phase: status, etaMs, text: parts.join(' · ') };
  }
}
