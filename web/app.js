// The alibi demo page: loads the bundled model, streams completions, and
// shows what the runtime is doing (stats, tokens, ALiBi biases, attention).
// Uses only the public alibi.js API. Model text is untrusted: it is only
// ever written with textContent / Text nodes (see app/render.js).

import * as alibi from './alibi.js';
import { ProgressTracker } from './app/progress.js';
import { OutputView, TokenView } from './app/render.js';
import { drawBiasCurves, Heatmap } from './app/alibi-view.js';
import { showError, clearError, errorType } from './app/errors.js';
import { formatBytes, formatCount, formatDuration, formatRate } from './app/format.js';
import { CacheManager } from './app/cache.js';
import { registerServiceWorker } from './app/pwa.js';

const $ = (id) => document.getElementById(id);
const BUNDLED = { url: new URL('./models/brown-bloom/', location.href).href, label: 'brown-bloom' };
const OUTPUT_PLACEHOLDER = 'The completion appears here, token by token.';

const ui = {
  status: $('status'), progress: $('progress'), progressText: $('progress-text'),
  modelName: $('model-name'), facts: $('model-facts'), modelError: $('model-error'),
  prompt: $('prompt'), generate: $('generate'), stop: $('stop'), clear: $('clear'), genError: $('gen-error'),
  output: $('output'), settings: $('settings'), int8: $('s-int8'), threads: $('s-threads'),
  stat: {
    ttft: $('stat-ttft'), prefill: $('stat-prefill'), decode: $('stat-decode'),
    tokens: $('stat-tokens'), size: $('stat-size'), memory: $('stat-memory'),
  },
  attnLayer: $('attn-layer'), attnLive: $('attn-live'),
  loadBundled: $('load-bundled'), urlForm: $('url-form'), url: $('model-url'),
  fileInput: $('file-input'), dirInput: $('dir-input'), drop: $('drop'),
  envFacts: $('env-facts'),
};

const state = {
  model: null,
  source: null, // { source, label } of the loaded (or loading) model
  loadAbort: null,
  genAbort: null,
  busy: false, // generating
};

const output = new OutputView(ui.output);
const tokens = new TokenView($('tokens'), $('token-info'));
const heatmap = new Heatmap($('heatmap'), $('heat-info'), (p) => tokens.chips[p]?.firstChild.textContent ?? '');
const progress = new ProgressTracker();
const cache = new CacheManager({
  api: alibi,
  list: $('cache-list'), meter: $('storage-meter'), text: $('storage-text'),
  persist: $('persist'), persistState: $('persist-state'), refresh: $('cache-refresh'),
  currentURL: () => (typeof state.source?.source === 'string' ? state.source.source : null),
});

function setStatus(kind, text) {
  ui.status.dataset.state = kind;
  ui.status.textContent = text;
}

function setControls() {
  const ready = Boolean(state.model) && !state.loadAbort;
  ui.generate.disabled = !ready || state.busy;
  ui.stop.disabled = !state.busy && !state.loadAbort; // Stop also cancels a load
  ui.int8.disabled = Boolean(state.loadAbort);
  // Kernel threads need SharedArrayBuffer: a cross-origin isolated page.
  ui.threads.disabled = Boolean(state.loadAbort) || !globalThis.crossOriginIsolated;
}

// ---- settings ---------------------------------------------------------------

const defaults = { maxTokens: 64, temperature: 0.8, topK: 40, topP: 0.95, repetitionPenalty: 1.1, seed: 42, contextLength: 1024 };
const limits = {
  maxTokens: [1, 16384, true], temperature: [0, 5, false], topK: [0, 1e6, true],
  topP: [0, 1, false], repetitionPenalty: [0.5, 3, false], seed: [0, Number.MAX_SAFE_INTEGER, true],
  contextLength: [16, 16384, true],
};
// Settings that shape the loaded model rather than one generation.
const loadSettings = new Set(['contextLength', 'int8', 'threads']);

const SETTINGS_KEY = 'alibi-demo-settings';

/** restoreSettings puts back the values saved by saveSettings (ignores anything malformed). */
function restoreSettings() {
  let saved = null;
  try {
    saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? 'null');
  } catch { /* private mode or bad JSON: defaults */ }
  if (!saved || typeof saved !== 'object') return;
  const form = ui.settings.elements;
  for (const name of Object.keys(limits)) {
    if (Number.isFinite(saved[name])) form.namedItem(name).value = String(saved[name]);
  }
  if (typeof saved.int8 === 'boolean') ui.int8.checked = saved.int8;
  if ([1, 2, 4].includes(saved.threads)) ui.threads.value = String(saved.threads);
  readSettings();
}

function saveSettings() {
  try {
    localStorage.setItem(SETTINGS_KEY, JSON.stringify({ ...readSettings(), int8: ui.int8.checked, threads: threads() }));
  } catch { /* storage unavailable: settings last for this visit */ }
}

/** readSettings returns the generate options, each clamped to its range. */
function readSettings() {
  const form = ui.settings.elements;
  const out = {};
  for (const [name, [lo, hi, integer]] of Object.entries(limits)) {
    const input = form.namedItem(name);
    let v = Number(input.value);
    if (input.value.trim() === '' || !Number.isFinite(v)) v = defaults[name];
    v = Math.min(hi, Math.max(lo, integer ? Math.round(v) : v));
    if (String(v) !== input.value) input.value = String(v);
    out[name] = v;
  }
  return out;
}

// ---- loading ----------------------------------------------------------------

function quant() { return ui.int8.checked ? 'int8' : 'none'; }
function threads() { return globalThis.crossOriginIsolated ? Number(ui.threads.value) || 1 : 1; }
function contextLength() { return readSettings().contextLength; }

async function load(source, label) {
  if (state.genAbort) state.genAbort.abort();
  if (state.loadAbort) state.loadAbort.abort();
  const abort = new AbortController();
  state.loadAbort = abort;
  state.source = { source, label };
  clearError(ui.modelError);
  setControls();
  const old = state.model;
  state.model = null;
  if (old) await old.dispose().catch(() => {});
  // A newer load (another click, a drop) may have started while the old
  // model was disposed: it owns the UI now.
  if (state.loadAbort !== abort) return;

  ui.modelName.textContent = label;
  ui.facts.replaceChildren();
  progress.reset();
  ui.progress.value = 0;
  ui.progress.removeAttribute('value'); // indeterminate until the first event
  ui.progressText.textContent = 'Starting';
  setStatus('loading', `loading ${label}`);

  try {
    const model = await alibi.loadModel(source, {
      quant: quant(),
      threads: threads(),
      contextLength: contextLength(),
      cache: true,
      signal: abort.signal,
      onProgress: (ev) => {
        if (state.loadAbort !== abort) return;
        const s = progress.update(ev);
        if (s.fraction === null) ui.progress.removeAttribute('value');
        else ui.progress.value = s.fraction;
        ui.progressText.textContent = s.text;
        if (s.phase !== 'ready') setStatus('loading', `loading ${label}${s.fraction === null ? '' : ` ${Math.floor(s.fraction * 100)}%`}`);
      },
    });
    if (state.loadAbort !== abort) { await model.dispose().catch(() => {}); return; }
    state.model = model;
    state.loadAbort = null;
    ui.progress.value = 1;
    ui.progressText.textContent = progress.update({ status: 'ready' }).text;
    await showModel(model, label);
    if (state.model !== model) return; // a newer load took over meanwhile
    setStatus('ready', `ready · ${label}`);
  } catch (err) {
    if (state.loadAbort !== abort) return; // superseded by a newer load
    state.loadAbort = null;
    ui.progress.value = 0;
    const d = showError(ui.modelError, err);
    if (d.type === 'aborted') {
      ui.progressText.textContent = 'Cancelled';
      setStatus('error', 'load cancelled (aborted)');
    } else {
      ui.progressText.textContent = 'Failed';
      setStatus('error', `error: ${d.title.toLowerCase()} (${d.type})`);
    }
  } finally {
    setControls();
    cache.refresh();
  }
}

function fact(name, value) {
  const li = document.createElement('li');
  const b = document.createElement('strong');
  b.textContent = value;
  li.append(`${name} `, b);
  return li;
}

async function showModel(model, label) {
  const i = model.info ?? {};
  ui.facts.replaceChildren(
    fact('arch', String(i.architecture ?? '?')),
    fact('params', formatCount(i.parameters)),
    fact('layers', String(i.layers ?? '?')),
    fact('heads', String(i.heads ?? '?')),
    fact('vocab', formatCount(i.vocab)),
    fact('context', String(i.contextLength ?? '?')),
    ...(i.trainingContext && i.trainingContext !== i.contextLength ? [fact('trained on', String(i.trainingContext))] : []),
    fact('weights', i.quant === 'int8' ? 'int8' : 'f32'),
    fact('SIMD', i.simd ? 'on' : 'off'),
    fact('threads', String(i.threads ?? 1)),
  );
  ui.stat.size.textContent = formatBytes(i.weightBytes);
  await Promise.all([updateMemory(), showSlopes(model)]);
  const layers = i.layers || 0;
  const prev = Number(ui.attnLayer.value);
  ui.attnLayer.replaceChildren(...Array.from({ length: layers }, (_, l) => {
    const o = document.createElement('option');
    o.value = String(l);
    o.textContent = String(l);
    return o;
  }));
  ui.attnLayer.value = String(Number.isInteger(prev) && prev < layers ? prev : Math.max(0, layers - 1));
  ui.attnLayer.disabled = layers === 0;
  heatmap.clear('Generate with Live on to see where each head looks.');

  ui.envFacts.textContent = `${label}: ${formatCount(i.parameters)} parameters, SIMD ${i.simd ? 'on' : 'off'}, ` +
    `${i.threads ?? 1} kernel thread${(i.threads ?? 1) === 1 ? '' : 's'}, ` +
    `${crossOriginIsolated ? 'cross-origin isolated' : 'not cross-origin isolated'}.`;
}

async function showSlopes(model) {
  let slopes;
  try {
    slopes = Array.from(model.info?.slopes ?? (model.slopes ? await model.slopes() : []));
  } catch {
    slopes = [];
  }
  if (state.model !== model) return;
  const ctx = model.info?.contextLength || 64;
  drawBiasCurves($('bias-plot'), $('bias-legend'), slopes, Math.min(64, ctx));
}

async function updateMemory() {
  if (!state.model?.memory) return;
  try {
    const m = await state.model.memory();
    ui.stat.memory.textContent = formatBytes(m.wasmBytes);
  } catch {
    ui.stat.memory.textContent = '–';
  }
}

// ---- generating -------------------------------------------------------------

async function generate() {
  const model = state.model;
  if (!model || state.busy || state.loadAbort) return;
  const opts = readSettings();
  delete opts.contextLength; // applies at load time
  const prompt = ui.prompt.value;
  clearError(ui.genError);
  state.busy = true;
  const abort = new AbortController();
  state.genAbort = abort;
  setControls();
  setStatus('generating', 'generating');
  for (const k of ['ttft', 'prefill', 'decode']) ui.stat[k].textContent = '…';
  ui.stat.tokens.textContent = '0';

  let count = 0;
  let firstAt = 0;
  let iter = null;
  let sawAttention = false;
  let promptTokens = 0;
  let ttftMs = NaN;
  let outcome = 'done';
  const started = performance.now();
  try {
    const ids = await model.tokenize(prompt);
    promptTokens = ids.length;
    tokens.clear();
    const promptBytes = model.tokenBytes ? await model.tokenBytes(ids) : null;
    tokens.add(ids, 'prompt', promptBytes);
    output.start(prompt);
    heatmap.clear(ui.attnLive.checked ? 'Waiting for the first token…' : 'Live attention is off.');

    const pending = []; // output chips waiting for their bytes
    let flushing = false;
    const flush = async () => {
      if (flushing || !pending.length || !model.tokenBytes) return;
      flushing = true;
      const batch = pending.splice(0);
      try {
        tokens.setBytes(batch, await model.tokenBytes(batch.map((c) => Number(c.dataset.id))));
      } catch { /* the chips keep their text labels */ }
      flushing = false;
      if (pending.length) flush();
    };

    const genOpts = { ...opts, signal: abort.signal };
    if (ui.attnLive.checked && !ui.attnLayer.disabled) genOpts.attention = { layer: Number(ui.attnLayer.value) };
    const genStart = performance.now();
    iter = model.generate(ids, genOpts);
    for await (const item of iter) {
      count++;
      if (count === 1) {
        firstAt = performance.now();
        ttftMs = firstAt - genStart;
        ui.stat.ttft.textContent = formatDuration(ttftMs);
      }
      output.append(item.text);
      pending.push(...tokens.add([item.id], 'out', null, [item.text]));
      flush();
      ui.stat.tokens.textContent = String(count);
      if (count > 1) ui.stat.decode.textContent = formatRate((count - 1) / ((performance.now() - firstAt) / 1000));
      if (item.attention) { sawAttention = true; heatmap.update(item.attention, promptTokens); }
    }
    await flush();
    if (genOpts.attention && !sawAttention) heatmap.clear('This runtime sent no attention weights.');
  } catch (err) {
    if (errorType(err) === 'aborted') {
      outcome = 'stopped';
    } else {
      outcome = 'error';
      showError(ui.genError, err);
    }
  } finally {
    state.busy = false;
    state.genAbort = null;
    output.finish(outcome);
    // Runtime timings exist for completed runs only (a stopped run's would be stale).
    const runStats = outcome === 'done' ? (iter?.stats ?? model.lastStats) : null;
    showFinalStats(normalizeStats(runStats), count, promptTokens, ttftMs);
    setControls();
    updateMemory();
  }
  const elapsed = formatDuration(performance.now() - started);
  if (outcome === 'error') {
    setStatus('ready', `ready · generation failed (${ui.genError.dataset.errorType})`);
  } else {
    setStatus('ready', `ready · ${count} token${count === 1 ? '' : 's'} in ${elapsed}${outcome === 'stopped' ? ' (stopped)' : ''}`);
  }
}

/**
 * normalizeStats reads the runtime's generation stats: the iterator's .stats
 * ({ promptTokens, tokens, prefillMs, decodeMs }) or model.lastStats
 * ({ generatedTokens, prefillTokensPerSec, decodeTokensPerSec, ... }).
 */
function normalizeStats(s) {
  if (!s) return null;
  const generated = s.generatedTokens ?? s.tokens;
  const prefillTps = s.prefillTokensPerSec ?? (s.prefillMs > 0 && s.promptTokens ? s.promptTokens / (s.prefillMs / 1000) : NaN);
  const decodeTps = s.decodeTokensPerSec ?? (s.decodeMs > 0 && generated > 1 ? (generated - 1) / (s.decodeMs / 1000) : NaN);
  return { generated, prefillTps, decodeTps };
}

function showFinalStats(s, count, promptTokens, ttftMs) {
  ui.stat.tokens.textContent = String(s?.generated ?? count);
  if (ui.stat.ttft.textContent === '…') ui.stat.ttft.textContent = '–';
  // A stopped run has no runtime timings: time to first token bounds the prefill.
  const prefill = s && Number.isFinite(s.prefillTps) ? s.prefillTps : promptTokens / (ttftMs / 1000);
  ui.stat.prefill.textContent = formatRate(prefill);
  // Without runtime timings, keep the page-side decode rate measured while streaming.
  if (s && Number.isFinite(s.decodeTps)) ui.stat.decode.textContent = formatRate(s.decodeTps);
  else if (ui.stat.decode.textContent === '…') ui.stat.decode.textContent = '–';
}

function stop() {
  if (state.genAbort) state.genAbort.abort();
  else if (state.loadAbort) state.loadAbort.abort(new DOMException('loading cancelled', 'AbortError'));
}

// ---- model picker -----------------------------------------------------------

function labelForURL(u) {
  const parts = u.pathname.split('/').filter(Boolean).filter((p) => !['resolve', 'main', 'manifest.json'].includes(p));
  return parts.slice(-2).join('/') || u.host;
}

function loadFiles(files) {
  files = Array.from(files).filter((f) => f.size > 0 || f.name.endsWith('.json'));
  if (!files.length) return;
  const dir = files[0].webkitRelativePath ? files[0].webkitRelativePath.split('/')[0] : '';
  const label = dir || (files.length === 1 ? files[0].name : `${files.length} local files`);
  load({ files }, label);
}

// readEntries walks a dropped folder (webkitGetAsEntry) into File objects.
async function readEntry(entry, out) {
  if (entry.isFile) {
    out.push(await new Promise((res, rej) => entry.file(res, rej)));
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    for (;;) {
      const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
      if (!batch.length) break;
      for (const e of batch) await readEntry(e, out);
    }
  }
}

async function onDrop(e) {
  e.preventDefault();
  ui.drop.classList.remove('over');
  const items = Array.from(e.dataTransfer?.items ?? []);
  const entries = items.map((it) => it.webkitGetAsEntry?.()).filter(Boolean);
  let files = [];
  if (entries.length && entries.some((en) => en.isDirectory)) {
    for (const en of entries) await readEntry(en, files);
    const label = entries.length === 1 ? entries[0].name : `${files.length} local files`;
    load({ files }, label);
    return;
  }
  files = Array.from(e.dataTransfer?.files ?? []);
  loadFiles(files);
}

// ---- wiring -----------------------------------------------------------------

function wire() {
  ui.generate.addEventListener('click', generate);
  ui.stop.addEventListener('click', stop);
  ui.clear.addEventListener('click', () => {
    if (state.busy) return;
    output.clear(OUTPUT_PLACEHOLDER);
    tokens.clear();
    heatmap.clear('Generate with Live on to see where each head looks.');
  });
  document.querySelector('.skip').addEventListener('click', (e) => {
    e.preventDefault();
    ui.prompt.focus();
  });
  ui.prompt.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.altKey && !e.isComposing) {
      e.preventDefault();
      generate();
    }
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && (state.busy || state.loadAbort)) { e.preventDefault(); stop(); }
  });
  ui.settings.addEventListener('submit', (e) => e.preventDefault());
  ui.settings.addEventListener('change', (e) => {
    saveSettings();
    if (loadSettings.has(e.target.name) && state.source) load(state.source.source, state.source.label);
  });

  ui.loadBundled.addEventListener('click', () => load(BUNDLED.url, BUNDLED.label));
  ui.urlForm.addEventListener('submit', (e) => {
    e.preventDefault();
    let u;
    try {
      u = new URL(ui.url.value.trim(), location.href);
      if (!/^https?:$/.test(u.protocol)) throw new Error('only http and https addresses can be loaded');
    } catch (err) {
      showError(ui.modelError, Object.assign(new Error(`not a usable address: ${err.message}`), { type: 'download' }));
      return;
    }
    load(u.href, labelForURL(u));
  });
  ui.fileInput.addEventListener('change', () => { loadFiles(ui.fileInput.files); ui.fileInput.value = ''; });
  ui.dirInput.addEventListener('change', () => { loadFiles(ui.dirInput.files); ui.dirInput.value = ''; });
  for (const input of [ui.fileInput, ui.dirInput]) {
    // The visible control is the <label>; keep it reachable by keyboard.
    const label = document.querySelector(`label[for="${input.id}"]`);
    label.tabIndex = 0;
    label.setAttribute('role', 'button');
    label.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); input.click(); }
    });
  }
  ui.drop.addEventListener('dragover', (e) => { e.preventDefault(); ui.drop.classList.add('over'); });
  ui.drop.addEventListener('dragleave', () => ui.drop.classList.remove('over'));
  ui.drop.addEventListener('drop', onDrop);
  // A file dropped anywhere else would navigate away from the page.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => { if (!ui.drop.contains(e.target)) { e.preventDefault(); } });

  cache.onDeleted = (url) => {
    if (state.source?.source === url && !state.model) ui.progressText.textContent = 'Removed from this device';
  };
}

function showNetwork() {
  $('net-state').textContent = navigator.onLine ? '' : 'Offline: the page and cached models keep working.';
}

function main() {
  showNetwork();
  addEventListener('online', showNetwork);
  addEventListener('offline', showNetwork);
  // Head colours depend on the scheme: redraw the bias curves when it changes.
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => { if (state.model) showSlopes(state.model); });
  restoreSettings();
  wire();
  setControls();
  registerServiceWorker({ banner: $('update'), button: $('update-reload') }).catch((err) => {
    console.warn('alibi demo: service worker:', err);
  });
  load(BUNDLED.url, BUNDLED.label);
}

main();
