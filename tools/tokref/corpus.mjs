// Writes tokenizer/testdata/corpus.jsonl: strings that break tokenizers, one JSON string per line.
// Deterministic: run `node tools/tokref/corpus.mjs` from the repo root.
import { writeFileSync } from 'node:fs';

const out = [];
const add = (...s) => out.push(...s);

// Plain text and English quirks.
add('', 'Hello world', 'Hello, world!', 'hello  world', ' leading space', 'trailing space ', '  two leading',
  "I'm can't won't they're we've you'll he'd it's", "I'M CAN'T THEY'RE WE'VE YOU'LL HE'D IT'S", "'s 't 're 've 'm 'll 'd",
  "rock 'n' roll", "O'Neil's dog's bone", "don't'", "''''", "'", "'S'T'RE", "The quick brown fox jumps over the lazy dog.",
  'ALL CAPS SENTENCE', 'camelCaseWords andPascalCase HTTPServer XMLHttpRequest', 'snake_case_words __dunder__',
  'e.g. i.e. etc. U.S.A. Ph.D.', 'Mr. Smith went to Washington... and then?!', 'hyphen-ated co-operate re-entry',
  'A', 'a', '.', '!', '?', '...', '…', '—', '–', '---', '***', '!!!???', '(parenthesized) [bracketed] {braced} <angled>',
  'a|b|c', 'pipe | separated | values', '(((nested)))', '))((', 'x (y) z');
// Whitespace.
add(' ', '  ', '   ', '    ', '        ', '\t', '\t\t', '\n', '\n\n', '\n\n\n', '\r', '\r\n', '\r\n\r\n', ' \n', '\n ', ' \n ',
  '\t\n', 'a\tb', 'a\nb', 'a\r\nb', 'a \n b', 'a  \n\n  b', 'a\t\t\tb', 'line1\nline2\nline3', 'end\n', '\nstart',
  'a \t\n\r b', '   \t   \n   ', 'word \t', ' \u00a0 ', 'a\u00a0b', 'non\u00a0breaking\u00a0space', '\u00a0\u00a0lead',
  'ideographic\u3000space', '\u3000\u3000', 'en\u2002space em\u2003space thin\u2009space', 'zero\u200bwidth\u200bspace',
  'line\u2028separator', 'para\u2029separator', 'narrow\u202fnbsp', 'x\u0085y', 'a\u000bb\u000cc', 'ogham\u1680space',
  'a \u3000 b', '  hello   world  ', 'hello\n\n\nworld', 'hello \n world', 'tabs\tand spaces \t mixed');
// Numbers of every length.
let digits = '';
for (let n = 1; n <= 25; n++) { digits += String((n * 7) % 10); add(digits); }
add('1', '12', '123', '1234', '12345', '123456', '1234567', '0', '00', '007', '3.14159', '-42', '+1', '1e10', '6.02e23',
  '1,000,000', '1 000 000', '$1,234.56', '€99', '¥1000', '100%', '50/50', '2024-01-15', '12:34:56', '192.168.0.1',
  'v1.2.3', 'abc123def', '123abc', 'a1b2c3', '١٢٣٤٥', '१२३४५', '一二三', '①②③', 'Ⅻ', '½ ¾ ⅓', '²³', '0x1F 0b1010 0o17',
  'pi=3.1415926535897932384626433832795028841971693993751');
// Code, JSON, URLs, markup.
add('func main() {\n\tfmt.Println("hello")\n}', 'def f(x):\n    return x ** 2\n', 'for (int i = 0; i < n; i++) { a[i] += b[i]; }',
  'if x == 1 && y != 2 || !z {', 'const re = /\\s+(?!\\S)/g;', '#include <stdio.h>', 'SELECT * FROM users WHERE id = 1;',
  '<div class="a">Hi &amp; bye</div>', '<|endoftext|> is not special here? maybe', '{"key": "value", "n": [1, 2, 3], "ok": true}',
  '{"nested":{"a":{"b":null}}}', '[]', '{}', '"quoted"', "'single'", '`backticks`', '```go\nx := 1\n```',
  'https://example.com/path?q=1&r=two#frag', 'http://localhost:8080/', 'mailto:someone@example.org', 'user@example.com',
  'C:\\Windows\\System32', '/usr/local/bin/go', '~/.bashrc', '$HOME/${VAR}', 'a->b => c <= d >= e', 'x+=1;y-=2;z*=3',
  '// comment\n/* block */', '    indented code', '\t\tdouble tab', 'print("naïve café")', 'a//b', 'a/b/c', 'path/to/file.txt\n',
  '@decorator\ndef g(): pass', '#hashtag @mention', 'key=value;key2=value2', '0xDEADBEEF', '---\ntitle: x\n---', '| a | b |\n|---|---|');
// Scripts.
add('日本語のテキストです。', '中文测试，你好世界！', '漢字とひらがなとカタカナ', '東京タワー', '한국어 텍스트입니다', '안녕하세요 세계',
  'مرحبا بالعالم', 'السلام عليكم', 'English and العربية mixed', 'हिन्दी में लिखा गया पाठ', 'नमस्ते दुनिया', 'ภาษาไทยไม่มีช่องว่าง',
  'สวัสดีชาวโลก', 'Привет, мир!', 'ΓΕΙΑ σου κόσμε', 'Ελληνικά ς σ Σ', 'שלום עולם', 'Tiếng Việt có dấu', 'Ärger über Öl und Übel, Straße',
  'ǅemal ǈudi', 'İstanbul ıIiİ', 'ß ẞ ﬁ ﬂ', 'ﬀ ﬃ ℌ ℍ', 'ｆｕｌｌｗｉｄｔｈ　ｔｅｘｔ', 'ｶﾀｶﾅ', 'Ⓐⓑⓒ', '𝐁𝐨𝐥𝐝 𝑖𝑡𝑎𝑙𝑖𝑐', 'ᚠᚢᚦᚨᚱᚲ',
  'ქართული', 'Հայերեն', 'አማርኛ', 'தமிழ்', 'ಕನ್ನಡ', 'বাংলা', 'ਪੰਜਾਬੀ', 'ગુજરાતી', 'සිංහල', 'ລາວ', 'ខ្មែរ', 'မြန်မာ', 'Монгол', '藏文 བོད་ཡིག',
  'mixed中文and English混合', 'カタカナ123ひらがな', '한글ABC123', 'Ω≈ç√∫˜µ≤≥÷', '日本語\n中文\n한국어');
// Emoji.
add('😀', '😀😃😄', 'I ❤️ tokenizers', '👍🏽', '👩‍💻', '👨‍👩‍👧‍👦', '🏳️‍🌈', '🇺🇸🇯🇵🇫🇷', '🇺', '✊🏿✊🏻', '🧑🏽‍🚀 to the 🌕',
  '1️⃣ 2️⃣ #️⃣', '©️ ®️ ™️', '☺️☹️', 'emoji😀in😀words', '😀 😀  😀', '🫠🫨', '♂️♀️', '👁️‍🗨️');
// Combining accents, NFC vs NFD.
add('\u0301', '\u0301\u0302', ' \u0301', '\u0301 x', 'café', 'cafe\u0301', 'naïve', 'nai\u0308ve', 'Å', 'A\u030a', '\u212b', 'ñ n\u0303', 'e\u0301\u0301\u0301', 'a\u0300\u0301\u0302\u0303',
  '\u0301leading combining', 'x\u20dd', 'Zalgo t̸̢e̵x̴t̷', 'ḱ ǘ ǹ', 'Ǆ ǅ ǆ', '\u1e9b\u0323', 'ﬁve', 'Ⅸ', '㎏', '㍻', 'ｱ', '\u00bd');
// Control chars, replacement char, odd code points.
add('\u0000', 'a\u0000b', '\u0001\u0002\u0003', '\u001b[31mred\u001b[0m', '\u007f', 'a\u0008b', '\ufffd', 'bad\ufffdbyte',
  '\ufffd\ufffd\ufffd', '\ufeffBOM', '\u200dzwj', '\u200c\u200d', '\u2060', '\u00ad soft hyphen', '\ue000 private', '\u{10ffff}',
  '\u{1f600}\u200d', 'a\u0085b', '\u061c\u200e\u200f', 'x\u034fy');
// Special-token literals inside text (for every tokenizer family).
add('<s>', '</s>', '<unk>', '<pad>', '<s> hello </s>', 'a<s>b</s>c', '<bos>text<eos>', '<bos> <bos>', '<|endoftext|>',
  'x<|endoftext|>y', '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n', '<|begin_of_text|>hello<|eot_id|>',
  '<|start_header_id|>user<|end_header_id|>\n\nHi', '<start_of_turn>user\nhello<end_of_turn>', '<|startoftext|><|return|>',
  '<｜begin▁of▁sentence｜>hi<｜end▁of▁sentence｜>', '<｜User｜>q<｜Assistant｜>', '<tool_call>{"a":1}</tool_call>',
  '<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>', '< s>', '<s >', '<<s>>', '<|endoftext', 'endoftext|>', '<|im_start|>',
  ' <s> ', '  <|endoftext|>  ', '<mask>', '[multimodal]', '<unused0><unused1>', '<|reserved_special_token_0|>', '<think>x</think>',
  '▁', '▁▁', '▁hello', 'a▁b', 'Ġ', 'Ċ', 'ĠĠ', '<0x41>', '<0xFF>', '[CLS] [SEP] [MASK] [UNK]', '##ing', 'un##affable');
// Added-token flags of the fixtures: single_word, lstrip/rstrip, normalized non-special tokens.
add('I love New York!', 'NewYork and New Yorker', 'New York', 'new york', 'say hello world twice, HELLO  WORLD',
  'hello worlds', 'line<br>  next', '<br><br>', 'x [MASK] y', 'x[MASK]y', 'a <mask>b', '  <mask>  ', '<mask><mask>',
  'Visit New York<mask> now', '<s>New York</s>');
// Long strings.
add('a'.repeat(10000), 'ab'.repeat(2500), 'Supercalifragilisticexpialidocious'.repeat(50), 'x'.repeat(300),
  ' '.repeat(1000), '\n'.repeat(500), '9'.repeat(1000), '😀'.repeat(300), '中'.repeat(2000),
  'The Fulton County Grand Jury said Friday an investigation of recent primary election produced no evidence that any irregularities took place. '.repeat(20));
// Mixtures.
add('Hello 世界! 123 😀\n\tcafé\u00a0naïve <s>', 'a1!b2@c3#', "It's 3:45pm—time's up! (Really?) [Yes.]",
  'Price: $5.99 (was $10.00); save 40%!', 'Ünïcödé tëxt wïth ümläüts', 'x\u0301y\u0302z\u0303', '\t\u3000\u00a0 \n',
  'WORD\u00a0WORD', 'end.', 'end.\n', 'What?!', 'Hmm...', 'a , b . c ! d ? e', 'a,b.c!d?e', '。，、', 'टेस्ट।', 'اختبار،', 'اختبار۔',
  ' ?', ' .', ' (', '( ', ' | ', 'a  (b)', '$$$', '^_^', ':-)', '<3', '@@@', '###', '%%%', '&&&', '~~~', '```', '\'\'\'');

// Random strings over an alphabet of characters the pre-tokenizer regexes treat differently
// (letters of each case class, marks, digits, whitespace kinds, punctuation, symbols), from a
// fixed-seed generator: they check the hand-written regex matchers against Oniguruma.
{
  const alphabet = [...'aZé ßİſKǅʰ\'sStTrReEvVlLmMdD\t\n\r \u00a0\u3000\u2028\u0085 0129٣①½.,!?…。，、।۔،()|-/#😀👍🏽\u200d\u0301\u20dd\u0903中かカ한_$<>"\\\ufffd'];
  let seed = 12345;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  for (let i = 0; i < 300; i++) {
    const len = 1 + rnd(24);
    let str = '';
    for (let k = 0; k < len; k++) str += alphabet[rnd(alphabet.length)];
    add(str);
  }
}

const seen = new Set();
const lines = [];
for (const s of out) {
  if (seen.has(s)) continue;
  seen.add(s);
  lines.push(JSON.stringify(s));
}
writeFileSync('tokenizer/testdata/corpus.jsonl', lines.join('\n') + '\n');
console.log(`corpus: ${lines.length} strings`);
