// Computes reference ids and decodes for every conformance tokenizer with the Rust tokenizers
// library (npm @anush008/tokenizers 0.6.0 = tokenizers 0.22.2), cross-checked with
// @huggingface/tokenizers (JS). Writes tokenizer/testdata/golden/<name>.json.gz.
// Run from the repo root: node tools/tokref/reference.mjs [name...]
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tokenizerList } from './tokenizers.mjs';

const require = createRequire(import.meta.url);
const root = process.cwd();
const { Tokenizer } = require(`${root}/node_modules/@anush008/tokenizers`);
const hf = await import(`${root}/node_modules/@huggingface/tokenizers/dist/tokenizers.mjs`);

const corpus = readFileSync('tokenizer/testdata/corpus.jsonl', 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const only = process.argv.slice(2);
mkdirSync('tokenizer/testdata/golden', { recursive: true });

for (const tk of tokenizerList(root)) {
  if (only.length && !only.includes(tk.name)) continue;
  const data = readFileSync(tk.file);
  const rust = Tokenizer.fromString(data.toString('utf8'));
  let js = null;
  try {
    const cfg = tk.config && existsSync(tk.config) ? JSON.parse(readFileSync(tk.config, 'utf8')) : {};
    js = new hf.Tokenizer(JSON.parse(data.toString('utf8')), cfg);
  } catch (e) {
    console.log(`${tk.name}: @huggingface/tokenizers cannot load it: ${e.message}`);
  }
  const entries = [];
  let jsDiff = 0;
  for (const text of corpus) {
    const plain = (await rust.encode(text, null, { addSpecialTokens: false })).getIds();
    const special = (await rust.encode(text, null, { addSpecialTokens: true })).getIds();
    const decode = await rust.decode(special, false);
    const decodeSkip = await rust.decode(special, true);
    entries.push({ ids: plain, ids_special: special, decode, decode_skip: decodeSkip });
    if (js) {
      let same = false;
      try {
        const j = js.encode(text, { add_special_tokens: false }).ids;
        same = j.length === plain.length && j.every((x, i) => x === plain[i]);
      } catch { /* counted as a difference */ }
      if (!same) jsDiff++;
    }
  }
  const golden = {
    tokenizer: tk.name,
    sha256: createHash('sha256').update(data).digest('hex'),
    reference: '@anush008/tokenizers 0.6.0 (tokenizers 0.22.2)',
    corpus_size: corpus.length,
    js_differences: js ? jsDiff : -1,
    entries,
  };
  writeFileSync(`tokenizer/testdata/golden/${tk.name}.json.gz`, gzipSync(JSON.stringify(golden), { level: 9 }));
  console.log(`${tk.name}: ${entries.length} strings; @huggingface/tokenizers disagrees on ${js ? jsDiff : 'n/a'}`);
}
