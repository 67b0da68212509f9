// splitGGUF cuts a GGUF file into shards the way llama.cpp's gguf-split does
// (`--split-max-size`), so that wllama can load models past its 2 GB
// per-file limit: PREFIX-00001-of-0000N.gguf, ... Each shard is a GGUF v3
// file with its own tensor infos and data; the first keeps every metadata
// key, and all carry split.no (u16), split.count (u16) and
// split.tensors.count (i32). Tensors are never cut. Returns the shard paths
// (just [src] when the file is small enough).
import fs from 'node:fs';

const T = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STRING: 8, ARRAY: 9, U64: 10, I64: 11, F64: 12 };
const SCALAR = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

// readHeader parses the header of the GGUF at fd (metadata kept as raw bytes).
function readHeader(fd) {
  let buf = Buffer.alloc(1 << 20);
  let have = 0;
  const need = (n) => {
    while (have < n) {
      if (n > buf.length) {
        const b = Buffer.alloc(Math.max(n, buf.length * 2));
        buf.copy(b, 0, 0, have);
        buf = b;
      }
      const r = fs.readSync(fd, buf, have, buf.length - have, have);
      if (r === 0) throw new Error('gguf-split: truncated header');
      have += r;
    }
  };
  let off = 0;
  const u32 = () => { need(off + 4); const v = buf.readUInt32LE(off); off += 4; return v; };
  const u64 = () => { need(off + 8); const v = Number(buf.readBigUInt64LE(off)); off += 8; return v; };
  const str = () => { const n = u64(); need(off + n); const s = buf.toString('utf8', off, off + n); off += n; return s; };
  const skipValue = (t) => {
    if (t === T.STRING) { const n = u64(); need(off + n); off += n; return; }
    if (t === T.ARRAY) {
      const et = u32();
      const n = u64();
      if (SCALAR[et] !== undefined) { need(off + n * SCALAR[et]); off += n * SCALAR[et]; return; }
      for (let i = 0; i < n; i++) skipValue(et);
      return;
    }
    if (SCALAR[t] === undefined) throw new Error(`gguf-split: unknown metadata type ${t}`);
    need(off + SCALAR[t]);
    off += SCALAR[t];
  };
  need(24);
  if (buf.toString('latin1', 0, 4) !== 'GGUF') throw new Error('gguf-split: not a GGUF file');
  off = 4;
  const version = u32();
  if (version !== 3) throw new Error(`gguf-split: GGUF version ${version} (want 3)`);
  const nTensors = u64();
  const nKV = u64();
  const kvs = [];
  let alignment = 32;
  for (let i = 0; i < nKV; i++) {
    const start = off;
    const key = str();
    const t = u32();
    const vstart = off;
    skipValue(t);
    if (key === 'general.alignment') alignment = buf.readUInt32LE(vstart);
    if (!key.startsWith('split.')) kvs.push(Buffer.from(buf.subarray(start, off)));
  }
  const tensors = [];
  for (let i = 0; i < nTensors; i++) {
    const name = str();
    const nd = u32();
    const dims = [];
    for (let d = 0; d < nd; d++) dims.push(u64());
    const type = u32();
    const offset = u64();
    tensors.push({ name, dims, type, offset });
  }
  const dataStart = Math.ceil(off / alignment) * alignment;
  const fileSize = fs.fstatSync(fd).size;
  for (let i = 0; i < tensors.length; i++) {
    // Sizes from the offsets (data is laid out in order, padded to alignment).
    const end = i + 1 < tensors.length ? tensors[i + 1].offset : fileSize - dataStart;
    tensors[i].size = end - tensors[i].offset;
  }
  return { kvs, tensors, alignment, dataStart };
}

function kvU16(key, v) {
  const k = Buffer.from(key, 'utf8');
  const b = Buffer.alloc(8 + k.length + 4 + 2);
  b.writeBigUInt64LE(BigInt(k.length), 0);
  k.copy(b, 8);
  b.writeUInt32LE(T.U16, 8 + k.length);
  b.writeUInt16LE(v, 12 + k.length);
  return b;
}
function kvI32(key, v) {
  const k = Buffer.from(key, 'utf8');
  const b = Buffer.alloc(8 + k.length + 4 + 4);
  b.writeBigUInt64LE(BigInt(k.length), 0);
  k.copy(b, 8);
  b.writeUInt32LE(T.I32, 8 + k.length);
  b.writeInt32LE(v, 12 + k.length);
  return b;
}
function tensorInfo(t, offset) {
  const n = Buffer.from(t.name, 'utf8');
  const b = Buffer.alloc(8 + n.length + 4 + 8 * t.dims.length + 4 + 8);
  let o = 0;
  b.writeBigUInt64LE(BigInt(n.length), o); o += 8;
  n.copy(b, o); o += n.length;
  b.writeUInt32LE(t.dims.length, o); o += 4;
  for (const d of t.dims) { b.writeBigUInt64LE(BigInt(d), o); o += 8; }
  b.writeUInt32LE(t.type, o); o += 4;
  b.writeBigUInt64LE(BigInt(offset), o);
  return b;
}

export function splitGGUF(src, prefix, maxBytes = 512 << 20) {
  const size = fs.statSync(src).size;
  if (size <= maxBytes) return [src];
  const fd = fs.openSync(src, 'r');
  try {
    const h = readHeader(fd);
    const align = (x) => Math.ceil(x / h.alignment) * h.alignment;
    // Greedy groups of whole tensors.
    const groups = [];
    let cur = [];
    let bytes = 0;
    for (const t of h.tensors) {
      if (cur.length && bytes + t.size > maxBytes) {
        groups.push(cur);
        cur = [];
        bytes = 0;
      }
      cur.push(t);
      bytes += align(t.size);
    }
    if (cur.length) groups.push(cur);
    const n = groups.length;
    const pad = (i) => String(i).padStart(5, '0');
    const files = [];
    const chunk = Buffer.alloc(16 << 20);
    for (let g = 0; g < n; g++) {
      const file = `${prefix}-${pad(g + 1)}-of-${pad(n)}.gguf`;
      const kvs = [...(g === 0 ? h.kvs : []), kvU16('split.no', g), kvU16('split.count', n), kvI32('split.tensors.count', h.tensors.length)];
      const infos = [];
      let off = 0;
      for (const t of groups[g]) {
        infos.push(tensorInfo(t, off));
        off = align(off + t.size);
      }
      const head = Buffer.alloc(24);
      head.write('GGUF', 0, 'latin1');
      head.writeUInt32LE(3, 4);
      head.writeBigUInt64LE(BigInt(groups[g].length), 8);
      head.writeBigUInt64LE(BigInt(kvs.length), 16);
      let header = Buffer.concat([head, ...kvs, ...infos]);
      header = Buffer.concat([header, Buffer.alloc(align(header.length) - header.length)]);
      const tmp = file + '.tmp';
      const out = fs.openSync(tmp, 'w');
      try {
        let pos = 0;
        fs.writeSync(out, header, 0, header.length, pos);
        pos += header.length;
        for (const t of groups[g]) {
          let left = t.size;
          let from = h.dataStart + t.offset;
          while (left > 0) {
            const k = fs.readSync(fd, chunk, 0, Math.min(left, chunk.length), from);
            if (k === 0) throw new Error('gguf-split: truncated tensor data');
            fs.writeSync(out, chunk, 0, k, pos);
            pos += k;
            from += k;
            left -= k;
          }
          const p = align(pos - header.length) + header.length - pos;
          if (p > 0) {
            fs.writeSync(out, Buffer.alloc(p), 0, p, pos);
            pos += p;
          }
        }
      } finally {
        fs.closeSync(out);
      }
      fs.renameSync(tmp, file);
      files.push(file);
    }
    return files;
  } finally {
    fs.closeSync(fd);
  }
}
