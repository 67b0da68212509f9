// Just enough of the safetensors format for the loader to plan Range
// requests and fail early on a truncated file: an 8-byte little-endian
// header length N, N bytes of JSON {name: {dtype, shape, data_offsets}},
// then the data. The engine parses the header again and owns the layout.

import { AlibiError } from './errors.js';

export const MAX_HEADER = 100 * 1024 * 1024;

// headerLength reads N from the first 8 bytes.
export function headerLength(prefix, name = 'safetensors') {
  if (prefix.length < 8) throw new AlibiError('format', `alibi: ${name}: ${prefix.length} bytes, too short for a safetensors header`);
  const dv = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const n = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
  if (n < 2 || n > MAX_HEADER) throw new AlibiError('format', `alibi: ${name}: header length ${n} out of range`);
  return n;
}

// parseHeader parses the header from a prefix of the file that holds all of
// it and checks it against the file size when known. It returns the tensors
// and where the data ends.
export function parseHeader(prefix, { name = 'safetensors', fileSize } = {}) {
  const n = headerLength(prefix, name);
  if (prefix.length < 8 + n) throw new AlibiError('format', `alibi: ${name}: header of ${n} bytes but only ${prefix.length - 8} available`);
  let h;
  try {
    h = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(prefix.subarray(8, 8 + n)));
  } catch (e) {
    throw new AlibiError('format', `alibi: ${name}: header is not JSON: ${e.message}`);
  }
  if (!h || typeof h !== 'object' || Array.isArray(h)) throw new AlibiError('format', `alibi: ${name}: header is not an object`);
  const tensors = [];
  let dataEnd = 0;
  for (const [tn, t] of Object.entries(h)) {
    if (tn === '__metadata__') continue;
    const off = t && t.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !Number.isSafeInteger(off[0]) || !Number.isSafeInteger(off[1]) || off[0] < 0 || off[1] < off[0]) {
      throw new AlibiError('format', `alibi: ${name}: tensor ${tn}: bad data_offsets`);
    }
    tensors.push({ name: tn, dtype: t.dtype, shape: t.shape, begin: off[0], end: off[1] });
    dataEnd = Math.max(dataEnd, off[1]);
  }
  const dataStart = 8 + n;
  const size = dataStart + dataEnd;
  if (fileSize !== undefined && fileSize < size) {
    throw new AlibiError('format', `alibi: ${name}: truncated: ${fileSize} bytes, the header describes ${size}`);
  }
  return { headerLength: n, dataStart, size, tensors };
}
