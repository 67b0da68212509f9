// alibi-wasm in Node 20: load a model from a directory (a web directory with
// manifest.json, or an HF-style folder) and generate greedily.
//
//   node generate.mjs [MODEL_DIR] [--prompt TEXT] [--tokens N] [--json]
//
// MODEL_DIR defaults to the repository's bundled model, models/brown-bloom.
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { loadModel, VERSION } from 'alibi-wasm';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    prompt: { type: 'string', default: 'The jury said' },
    tokens: { type: 'string', default: '16' },
    json: { type: 'boolean', default: false },
  },
});
const dir = positionals[0] || fileURLToPath(new URL('../../models/brown-bloom', import.meta.url));

const model = await loadModel(dir);
try {
  const prompt = await model.tokenize(values.prompt);
  const ids = [];
  let text = '';
  if (!values.json) process.stdout.write(values.prompt);
  for await (const t of model.generate(prompt, { maxTokens: Number(values.tokens), temperature: 0 })) {
    ids.push(t.id);
    text += t.text;
    if (!values.json) process.stdout.write(t.text);
  }
  const { info } = model;
  if (values.json) {
    console.log(JSON.stringify({ version: VERSION, prompt, ids, text, architecture: info.architecture, simd: info.simd, threads: info.threads }));
  } else {
    console.log(`\n[alibi-wasm ${VERSION}: ${info.architecture}, ${info.parameters} parameters, ${ids.length} tokens, simd ${info.simd}]`);
  }
} finally {
  await model.dispose();
}
