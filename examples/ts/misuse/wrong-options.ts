// Deliberate misuse: every line marked `// error TSxxxx` must be rejected by
// tsc --strict (e2e/package-ts.test.mjs checks each marker and nothing else).
import { loadModel } from 'alibi-wasm';

const model = await loadModel('/models/brown-bloom/', { quant: 'int4' }); // error TS2322
await loadModel('/models/brown-bloom/', { onProgress: (e: number) => e }); // error TS2322
for await (const t of model.generate('hi', { maxTokens: '8' })) console.log(t.text); // error TS2322
const n: number = await model.detokenize([1, 2]); // error TS2322
model.generate('hi', { temperature: 0, stop: [true] }); // error TS2322
await model.tokenize(42); // error TS2345
