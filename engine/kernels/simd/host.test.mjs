// node --test engine/kernels/simd/  (needs build/kernels/kernels.wasm:
// tools/wasmexec/build-kernels.sh; skipped without it unless ALIBI_FULL=1)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { simdImports, compileKernels, warmUp, warmUpIdle, KERNELS, ABI_VERSION, MODULE } from './host.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const wasmPath = process.env.ALIBI_KERNELS_WASM || path.resolve(here, '../../../build/kernels/kernels.wasm');
const haveWasm = fs.existsSync(wasmPath);
const skip = !haveWasm && process.env.ALIBI_FULL !== '1' && `no ${wasmPath} (run tools/wasmexec/build-kernels.sh)`;

// A stand-in for the Go instance: all host.mjs needs is exports.mem.
const fakeGo = () => ({ exports: { mem: new WebAssembly.Memory({ initial: 1 }) } });

test('unbound imports: available() is 0 and kernels throw', () => {
  const s = simdImports();
  assert.deepEqual(Object.keys(s.importObject), [MODULE]);
  for (const name of KERNELS) assert.equal(typeof s.imports[name], 'function', name);
  assert.equal(s.imports.available(), 0);
  assert.equal(s.imports.version(), 0);
  assert.equal(s.bind(fakeGo(), null), false);
  assert.equal(s.bound(), false);
  assert.throws(() => s.imports.dot(0, 0, 0), /no kernel module is bound/);
});

test('bound kernels compute in the Go memory', { skip }, async () => {
  const mod = await compileKernels(fs.readFileSync(wasmPath));
  const go = fakeGo();
  const s = simdImports();
  assert.equal(s.bind(go, mod), true);
  assert.equal(s.imports.available(), 1);
  assert.equal(s.imports.version(), ABI_VERSION);
  const f = new Float32Array(go.exports.mem.buffer);
  // w (3x5) at float 16, x (5) at float 64, dst (3) at float 0
  const w = [1, 2, 3, 4, 5, 0, 1, 0, 1, 0, -1, -1, -1, -1, -1], x = [1, 2, 3, 4, 5];
  f.set(w, 16); f.set(x, 64); f[3] = 42;
  s.imports.matvec(0, 64, 256, 3, 5);
  assert.deepEqual([...f.subarray(0, 4)], [55, 6, -15, 42]);
  assert.equal(s.imports.dot(64, 64, 5), 55);
});

test('bind rejects a module of another ABI or without all kernels', { skip }, async () => {
  const mod = await compileKernels(fs.readFileSync(wasmPath));
  assert.throws(() => simdImports().bind({ exports: {} }, mod), /exports\.mem missing/);
  // a module that only has available/version, with a wrong version
  const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 127, 3, 3, 2, 0, 0,
    7, 23, 2, 9, 97, 118, 97, 105, 108, 97, 98, 108, 101, 0, 0, 7, 118, 101, 114, 115, 105, 111, 110, 0, 1,
    10, 11, 2, 4, 0, 65, 1, 11, 4, 0, 65, 9, 11]);
  const bad = await compileKernels(bytes);
  assert.throws(() => simdImports().bind(fakeGo(), bad), /lacks dot/);
});

test('warmUp runs once per module', { skip }, async () => {
  const mod = await compileKernels(fs.readFileSync(wasmPath));
  assert.ok(warmUp(mod) >= 0);
  assert.equal(warmUp(mod), 0);
});

test('warmUpIdle runs the warm-up in slices between other tasks, once per module', { skip }, async () => {
  const mod = await compileKernels(fs.readFileSync(wasmPath));
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, 0);
  const p = warmUpIdle(mod, { rounds: 10 });
  assert.equal(warmUp(mod), 0, 'warming already: the synchronous warm-up has nothing to do');
  assert.equal(await warmUpIdle(mod), 0);
  const ms = await p;
  clearInterval(timer);
  assert.ok(ms >= 0);
  assert.ok(ticks >= 5, `other tasks ran between the 30 slices (${ticks} timer ticks)`);
  // the module still computes after its warm-up
  const go = fakeGo();
  const s = simdImports();
  assert.equal(s.bind(go, mod), true);
  const f = new Float32Array(go.exports.mem.buffer);
  f.set([1, 2, 3], 16);
  assert.equal(s.imports.dot(64, 64, 3), 14);
});

test('relaxedSIMD() says whether the host runs the kernels with fused multiply-adds', { skip }, async () => {
  const { relaxedSIMD } = await import('./host.mjs');
  const { spawnSync } = await import('node:child_process');
  const fmaPath = path.join(fs.mkdtempSync(path.join((await import('node:os')).tmpdir(), 'alibi-fma-')), 'kernels-fma.wasm');
  const built = spawnSync(path.resolve(here, '../../../tools/wasmexec/build-kernels.sh'), [fmaPath], { encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr);
  // Node 20 runs relaxed SIMD only behind a flag: the probe agrees with
  // whether the real module validates, with the flag and without it.
  const probe = `import { relaxedSIMD } from ${JSON.stringify(path.join(here, 'host.mjs'))};
    import fs from 'node:fs';
    console.log(JSON.stringify([relaxedSIMD(), WebAssembly.validate(fs.readFileSync(${JSON.stringify(fmaPath)}))]));`;
  for (const flags of [[], ['--experimental-wasm-relaxed-simd']]) {
    const r = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', probe], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const [probed, validates] = JSON.parse(r.stdout);
    assert.equal(probed, validates, `flags ${flags}`);
    if (flags.length) assert.equal(probed, true, 'with the flag Node 20 runs relaxed SIMD');
  }
  assert.equal(relaxedSIMD(), WebAssembly.validate(fs.readFileSync(fmaPath)));
  // The plain kernels validate everywhere the fused ones do and more.
  assert.equal(WebAssembly.validate(fs.readFileSync(wasmPath)), true);
});
