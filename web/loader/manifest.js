// manifest.json of a web directory (DESIGN.md §3), written by
// `alibi convert --to web`:
//   {"format": "alibi-web", "version": 1,
//    "model": {"architecture": "bloom", "config": "config.json", "tokenizer": "tokenizer.json",
//              "index": "model.safetensors.index.json" (sharded checkpoints only)},
//    "files": [{"name": "model.safetensors", "size": 1234, "sha256": "…",
//               "chunks": [{"path": "model.safetensors.000", "offset": 0, "size": 1234, "sha256": "…"}]}]}
// parseManifest checks everything the loader relies on and throws a
// 'format' AlibiError naming the offending field.

import { AlibiError } from './errors.js';
import { isSha256Hex } from './sha256.js';

export const MANIFEST_FORMAT = 'alibi-web';
export const MANIFEST_VERSION = 1;

function bad(msg) {
  return new AlibiError('format', `alibi: manifest.json: ${msg}`);
}

// safeRelativePath reports whether p is a plain relative path inside the
// directory (no scheme, no absolute path, no '..').
export function safeRelativePath(p) {
  if (typeof p !== 'string' || p === '' || p.length > 1024) return false;
  if (p.startsWith('/') || p.includes('\\') || /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(p)) return false;
  return p.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

function isSize(n) {
  return Number.isSafeInteger(n) && n >= 0;
}

export function parseManifest(input) {
  let m = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const text = typeof input === 'string' ? input : new TextDecoder().decode(input);
    try {
      m = JSON.parse(text);
    } catch (e) {
      throw bad(`not JSON: ${e.message}`);
    }
  }
  if (!m || typeof m !== 'object' || Array.isArray(m)) throw bad('not an object');
  if (m.format !== MANIFEST_FORMAT) throw bad(`format ${JSON.stringify(m.format)}, want "${MANIFEST_FORMAT}"`);
  if (m.version !== MANIFEST_VERSION) {
    throw new AlibiError('unsupported', `alibi: manifest.json: version ${JSON.stringify(m.version)}, this runtime reads version ${MANIFEST_VERSION}`);
  }
  const model = m.model;
  if (!model || typeof model !== 'object') throw bad('missing "model"');
  for (const k of ['config', 'tokenizer']) {
    if (!safeRelativePath(model[k])) throw bad(`model.${k} ${JSON.stringify(model[k])} is not a relative path`);
  }
  if (model.index !== undefined && !safeRelativePath(model.index)) throw bad(`model.index ${JSON.stringify(model.index)} is not a relative path`);
  if (!Array.isArray(m.files) || m.files.length === 0) throw bad('"files" must be a non-empty array');
  const names = new Set();
  const files = m.files.map((f, i) => {
    const where = `files[${i}]`;
    if (!f || typeof f !== 'object') throw bad(`${where} is not an object`);
    if (typeof f.name !== 'string' || !safeRelativePath(f.name)) throw bad(`${where}.name ${JSON.stringify(f.name)} is not a relative path`);
    if (names.has(f.name)) throw bad(`${where}.name ${f.name} appears twice`);
    names.add(f.name);
    if (!isSize(f.size)) throw bad(`${where}.size ${JSON.stringify(f.size)} is not a byte count`);
    if (f.sha256 !== undefined && !isSha256Hex(f.sha256)) throw bad(`${where}.sha256 is not 64 lower-case hex digits`);
    if (!Array.isArray(f.chunks) || (f.chunks.length === 0 && f.size > 0)) throw bad(`${where}.chunks must be a non-empty array`);
    let off = 0;
    const chunks = f.chunks.map((c, k) => {
      const cw = `${where}.chunks[${k}]`;
      if (!c || typeof c !== 'object') throw bad(`${cw} is not an object`);
      if (!safeRelativePath(c.path)) throw bad(`${cw}.path ${JSON.stringify(c.path)} is not a relative path`);
      if (!isSize(c.size) || c.size === 0) throw bad(`${cw}.size ${JSON.stringify(c.size)} is not a positive byte count`);
      if (c.offset !== off) throw bad(`${cw}.offset ${JSON.stringify(c.offset)}, want ${off} (chunks must be contiguous and in order)`);
      if (!isSha256Hex(c.sha256)) throw bad(`${cw}.sha256 is not 64 lower-case hex digits`);
      off += c.size;
      return { path: c.path, offset: c.offset, size: c.size, sha256: c.sha256 };
    });
    if (off !== f.size) throw bad(`${where}: chunks cover ${off} bytes, size is ${f.size}`);
    return { name: f.name, size: f.size, sha256: f.sha256, chunks };
  });
  return {
    format: m.format,
    version: m.version,
    model: { architecture: model.architecture, config: model.config, tokenizer: model.tokenizer, index: model.index, quant: model.quant },
    files,
    totalBytes: files.reduce((s, f) => s + f.size, 0),
  };
}
