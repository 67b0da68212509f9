// Number formatting for the demo page: bytes, durations, rates.

const units = ['B', 'KB', 'MB', 'GB', 'TB'];

/** formatBytes(1536) -> "1.5 KB" (powers of 1024, three significant digits). */
export function formatBytes(n) {
  if (!Number.isFinite(n) || n < 0) return '–';
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  const digits = i === 0 || n >= 100 ? 0 : n >= 10 ? 1 : 2;
  return `${n.toFixed(digits)} ${units[i]}`;
}

/** formatDuration(ms) -> "850 ms", "4.2 s", "3 min 10 s". */
export function formatDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

/** formatRate(tokens per second) -> "123 tok/s". */
export function formatRate(tps) {
  if (!Number.isFinite(tps) || tps <= 0) return '–';
  return `${tps >= 100 ? Math.round(tps) : tps.toFixed(1)} tok/s`;
}

/** formatCount(3_212_288) -> "3.2 M". */
export function formatCount(n) {
  if (!Number.isFinite(n)) return '–';
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} K`;
  return String(n);
}
