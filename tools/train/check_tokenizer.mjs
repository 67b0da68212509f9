// check_tokenizer.mjs: the python encoder of tools/train/bpe.py must give exactly the ids that
// Hugging Face tokenizers (Rust, via @anush008/tokenizers 0.6.0 = tokenizers 0.22.2) gives for
// models/brown-bloom/tokenizer.json, on every line of the validation text, on the whole
// validation text as one string, and on edge cases of the pre-tokenizer regex.
//
// usage: node tools/train/check_tokenizer.mjs [tokenizer.json] [valid.txt]
// exit status 0 when all agree, 1 otherwise.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..", "..");
const require = createRequire(join(root, "package.json"));
const { Tokenizer } = require("@anush008/tokenizers");

const tokPath = resolve(process.argv[2] ?? join(root, "models", "brown-bloom", "tokenizer.json"));
const validPath = resolve(process.argv[3] ?? join(root, "build", "brown", "valid.txt"));
const python = process.env.PYTHON ?? "/usr/bin/python3";

const valid = readFileSync(validPath, "utf8");
const lines = valid.split("\n");
if (lines.at(-1) === "") lines.pop();

const edge = [
  "", " ", "  ", "a  b", "a   b", "a\tb", "a\n\nb", " leading", "trailing ", "trailing  ",
  "Hello, world.", "Hello world", " Hello world", "(parenthesized) text|pipe", "a(b)c|d",
  "wait... what?!", "“curly” quotes — dash", "…。，、।۔،", "x…y。z，w、v।u۔t،s",
  "tab\tand\u000bvt\u000cff\rcr", "nel\u0085x", "nbsp\u00a0x", "ogham\u1680x", "en\u2000em\u2003thin\u2009x",
  "ls\u2028ps\u2029x", "nnbsp\u202fmmsp\u205fideo\u3000x", "zwsp\u200bx", "fs\u001cgs\u001drs\u001eus\u001fx",
  "mongolian\u180ex", "bom\ufeffx", "emoji 🙂 and 👍🏽 flags 🇺🇸", "中文字符 测试", "Ünïcödé façade",
  "<s>special</s><pad><unk> tokens", "<s><s></s>", "a<s>b", " <s> ", "<s", "</s>x</s",
  "numbers 1,234.56 and 3.14159", "e-mail: someone@example.com", "C:\\path\\to\\file", "$100 % & * #",
  "\u0000nul\u0001soh\u007fdel", "don't can't won't", "''``''", "x".repeat(300), " ".repeat(17) + "y",
  "\n", "\n\n\n", "a \n b", ". . .", "?!?!", "¿Qué?", "ﬁ ligature", "e\u0301 combining",
];
const whole = [valid];
const items = [...lines, ...edge, ...whole];

const dir = mkdtempSync(join(tmpdir(), "check-tok-"));
let pyIds;
try {
  const jsonPath = join(dir, "items.json");
  writeFileSync(jsonPath, JSON.stringify(items));
  const out = execFileSync(python, [join(here, "bpe.py"), "encode", "--tokenizer", tokPath, "--json", jsonPath], {
    maxBuffer: 1 << 28,
    encoding: "utf8",
  });
  pyIds = JSON.parse(out);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const tok = Tokenizer.fromFile(tokPath);
let bad = 0;
let tokens = 0;
for (let i = 0; i < items.length; i++) {
  const enc = await tok.encode(items[i], null, { addSpecialTokens: false });
  const ids = Array.from(enc.getIds());
  tokens += ids.length;
  const py = pyIds[i];
  const same = ids.length === py.length && ids.every((v, j) => v === py[j]);
  if (!same) {
    bad++;
    if (bad <= 10) {
      console.error(`MISMATCH item ${i}: ${JSON.stringify(items[i]).slice(0, 200)}`);
      console.error(`  rust:   ${JSON.stringify(ids).slice(0, 300)}`);
      console.error(`  python: ${JSON.stringify(py).slice(0, 300)}`);
    }
  }
  // Round trip through the Rust decoder (byte-level: lossless for valid UTF-8 input).
  if (i >= lines.length + edge.length) {
    const dec = await tok.decode(ids, false);
    if (dec !== items[i]) {
      bad++;
      console.error(`DECODE MISMATCH on item ${i}`);
    }
  }
}
const kinds = `${lines.length} validation lines, ${edge.length} edge cases, whole validation text`;
if (bad) {
  console.error(`check_tokenizer: ${bad} mismatches over ${items.length} items (${kinds})`);
  process.exit(1);
}
console.log(`check_tokenizer: OK, python == HF tokenizers 0.22.2 on ${items.length} items (${kinds}), ${tokens} tokens`);
