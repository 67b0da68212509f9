import fs from 'node:fs';
const mod = await WebAssembly.compile(fs.readFileSync('/work/main/build/site/kernels.wasm'));
const rounds = +process.argv[2], n = +process.argv[3];
const mem = new WebAssembly.Memory({ initial: 200 });
const K = new WebAssembly.Instance(mod, { env: { mem } }).exports;
const t0 = performance.now();
for (let i = 0; i < rounds; i++) K.f16_to_f32(1 << 20, 0, n);
const t1 = performance.now();
await new Promise((r) => setTimeout(r, +process.argv[4] || 0));
const ts = [];
for (let i = 0; i < 8; i++) { const a = performance.now(); K.f16_to_f32(4 << 20, 0, 512 << 10); ts.push(performance.now() - a); }
console.log(`warm ${rounds}x${n}: ${(t1 - t0).toFixed(2)} ms; 512K-value calls ms:`, ts.map((x) => x.toFixed(2)).join(' '));
