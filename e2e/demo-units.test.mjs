// Unit tests of the demo page's pure modules (no browser): number formats,
// progress folding with ETA, token labels, axis rounding, slopes, colours.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatCount, formatDuration, formatRate } from '../web/app/format.js';
import { ProgressTracker } from '../web/app/progress.js';
import { tokenLabel, hex } from '../web/app/render.js';
import { niceCeil, formatSlope, heatColor, headColor } from '../web/app/alibi-view.js';
import { describeError, errorType } from '../web/app/errors.js';

test('formatBytes, formatDuration, formatRate, formatCount', () => {
  const cases = [
    [formatBytes(0), '0 B'], [formatBytes(1023), '1023 B'], [formatBytes(1536), '1.50 KB'],
    [formatBytes(16_839_832), '16.1 MB'], [formatBytes(-1), '–'], [formatBytes(NaN), '–'],
    [formatDuration(850.4), '850 ms'], [formatDuration(4200), '4.2 s'], [formatDuration(42_000), '42 s'],
    [formatDuration(190_000), '3 min 10 s'], [formatDuration(undefined), '–'],
    [formatRate(123.4), '123 tok/s'], [formatRate(7.25), '7.3 tok/s'], [formatRate(0), '–'],
    [formatCount(4_206_336), '4.2 M'], [formatCount(258), '258'], [formatCount(1_100_000_000), '1.10 B'],
  ];
  for (const [got, want] of cases) assert.equal(got, want);
});

test('ProgressTracker: fraction, rate, ETA, ready text', () => {
  let now = 0;
  const p = new ProgressTracker(() => now);
  let s = p.update({ status: 'download', file: 'model.safetensors', loaded: 0, total: 10 << 20 });
  assert.equal(s.fraction, 0);
  assert.equal(s.etaMs, null, 'no rate yet');
  now = 1000;
  s = p.update({ status: 'download', file: 'model.safetensors', loaded: 2 << 20, total: 10 << 20 });
  assert.equal(s.fraction, 0.2);
  // 2 MiB per second, 8 MiB left: 4 s.
  assert.ok(Math.abs(s.etaMs - 4000) < 1, `eta ${s.etaMs}`);
  assert.match(s.text, /^Downloading · 2\.00 MB of 10\.0 MB \(20%\) · 2\.00 MB\/s · about 4\.0 s left · model\.safetensors$/);
  // loaded never goes backwards, even if an event says so.
  now = 1500;
  s = p.update({ status: 'load', file: 'model.safetensors', loaded: 1 << 20, total: 10 << 20 });
  assert.equal(s.fraction, 0.2);
  assert.match(s.text, /^Loading weights/);
  now = 3000;
  s = p.update({ status: 'ready', loaded: 10 << 20, total: 10 << 20, network: 0, cached: 10 << 20 });
  assert.equal(s.fraction, 1);
  assert.equal(s.text, 'Loaded 10.0 MB from this device in 3.0 s');
  p.reset();
  assert.equal(p.summary().fraction, null);
});

test('tokenLabel shows whitespace and partial UTF-8 visibly', () => {
  const enc = (s) => new TextEncoder().encode(s);
  assert.equal(tokenLabel(enc(' the')), '·the');
  assert.equal(tokenLabel(enc('a\nb\t')), 'a↵b→');
  assert.equal(tokenLabel(Uint8Array.of(0xe2, 0x80)), '‹e2 80›', 'half a character');
  assert.equal(tokenLabel(enc('<img src=x>')), '<img·src=x>');
  assert.equal(tokenLabel(null, 'fallback text'), 'fallback·text');
  assert.equal(tokenLabel(new Uint8Array()), '∅');
  assert.equal(hex(Uint8Array.of(0, 15, 255)), '00 0f ff');
});

test('niceCeil, formatSlope, colours', () => {
  for (const [x, want] of [[0.3, 0.4], [1, 1], [1.01, 2], [2.5, 4], [7, 10], [16, 20], [0, 1]]) {
    assert.equal(niceCeil(x), want, `niceCeil(${x})`);
  }
  assert.equal(formatSlope(0.5), '0.5');
  assert.equal(formatSlope(0.0625), '0.063');
  assert.equal(formatSlope(2 ** -8), '2^-8');
  assert.equal(formatSlope(0.003), '3.00e-3');
  assert.deepEqual(heatColor(1, false), [254, 240, 138]);
  assert.deepEqual(heatColor(0, true), [30, 34, 43]);
  assert.deepEqual(heatColor(-1, false), heatColor(0, false), 'clamped');
  assert.notEqual(headColor(0, 8), headColor(7, 8));
});

test('error descriptions per type', () => {
  for (const type of ['download', 'integrity', 'memory', 'unsupported', 'format', 'context', 'aborted']) {
    const d = describeError(Object.assign(new Error('boom'), { type }));
    assert.equal(d.type, type);
    assert.ok(d.title.length > 4 && d.detail.length > 10, type);
    assert.equal(d.message, 'boom');
  }
  assert.equal(errorType({ name: 'AbortError' }), 'aborted');
  assert.equal(describeError(new Error('x')).type, 'unknown');
});
