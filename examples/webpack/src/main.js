// Loads the model (default: models/brown-bloom/ next to the page, copy it from
// the built site's models/ folder into public/ or dist/; ?model=URL to
// override) and streams a greedy completion of the prompt. ?base=URL loads the
// worker and wasm files from there instead of the bundle (the CDN option).
import { loadModel, VERSION } from 'alibi-wasm';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const source = new URL(params.get('model') || 'models/brown-bloom/', location.href);
const maxTokens = Number(params.get('tokens') || 24);
const baseURL = params.get('base') ? new URL(params.get('base'), location.href) : undefined;

// window.alibiExample is what e2e/package-vite.test.mjs reads.
const state = { version: VERSION, info: null, tokens: [], text: '', done: false, error: null };
window.alibiExample = state;

async function generate(model) {
  $('go').disabled = true;
  $('out').textContent = $('prompt').value;
  state.tokens = [];
  state.text = '';
  state.done = false;
  for await (const t of model.generate($('prompt').value, { maxTokens, temperature: 0 })) {
    state.tokens.push(t.id);
    state.text += t.text;
    $('out').textContent += t.text;
  }
  state.done = true;
  $('go').disabled = false;
}

try {
  const model = await loadModel(source.href, {
    baseURL,
    onProgress: (e) => { $('status').textContent = `${e.status} ${e.loaded}/${e.total} bytes`; },
  });
  state.info = { ...model.info };
  $('status').textContent = `alibi-wasm ${VERSION}: ${model.info.architecture}, ${model.info.parameters} parameters, ` +
    `simd ${model.info.simd}, threads ${model.info.threads}, crossOriginIsolated ${model.info.crossOriginIsolated}`;
  $('form').addEventListener('submit', (e) => { e.preventDefault(); generate(model).catch(fail); });
  await generate(model);
} catch (e) {
  fail(e);
}

function fail(e) {
  state.error = `${e && e.type ? e.type + ': ' : ''}${e && e.message ? e.message : e}`;
  $('status').textContent = `error: ${state.error}`;
}
