// wasm_exec_node.mjs WASM [ARGS...]: runs a GOOS=js GOARCH=wasm binary in
// Node like Go's lib/wasm/wasm_exec_node.js, and supplies the `alibi_simd`
// imports (engine/kernels/simd/host.mjs) with the SIMD128 kernel module bound,
// or the stub when ALIBI_SIMD=0 or no module is available. Started by
// go_js_wasm_exec, which sets ALIBI_GOROOT and ALIBI_KERNELS_WASM.
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TextEncoder, TextDecoder } from 'node:util';

if (process.argv.length < 3) {
  console.error('usage: go_js_wasm_exec [wasm binary] [arguments]');
  process.exit(1);
}

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const require = createRequire(import.meta.url);

globalThis.require = require;
globalThis.fs = fs;
globalThis.path = path;
globalThis.TextEncoder ??= TextEncoder;
globalThis.TextDecoder ??= TextDecoder;
globalThis.performance ??= require('node:perf_hooks').performance;
globalThis.crypto ??= crypto.webcrypto;

const goroot = process.env.ALIBI_GOROOT || process.env.GOROOT;
if (!goroot) {
  console.error('wasm_exec_node: ALIBI_GOROOT is not set (run through go_js_wasm_exec)');
  process.exit(1);
}
require(path.join(goroot, 'lib', 'wasm', 'wasm_exec.js'));

const { simdImports, compileKernels } = await import(
  pathToFileURL(path.join(repo, 'engine', 'kernels', 'simd', 'host.mjs')).href);

async function loadKernels() {
  if (process.env.ALIBI_SIMD === '0') return null;
  const file = process.env.ALIBI_KERNELS_WASM || path.join(repo, 'build', 'kernels', 'kernels.wasm');
  let bytes;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    const msg = `wasm_exec_node: no SIMD kernels (${err.message}); build them with tools/wasmexec/build-kernels.sh`;
    if (process.env.ALIBI_FULL === '1') throw new Error(msg);
    console.error(msg + '; running pure Go');
    return null;
  }
  return compileKernels(bytes);
}

const threads = Number(process.env.ALIBI_THREADS || 1);
const { sharedMemoryFor, startPool, threadedImports, patchForSharedMemory } = await import(
  pathToFileURL(path.join(repo, 'engine', 'kernels', 'simd', 'threads.mjs')).href);

const go = new Go();
go.argv = process.argv.slice(2);
go.env = Object.assign({ TMPDIR: os.tmpdir() }, process.env);
go.exit = process.exit;
const simd = simdImports();
Object.assign(go.importObject, simd.importObject);

try {
  let kernels, instance;
  if (threads > 1) {
    // A binary rewritten by tools/wasmshared (go_js_wasm_exec does it): Go's
    // memory is the shared import env.memory, and kernel threads share it.
    const goModule = await WebAssembly.compile(fs.readFileSync(process.argv[2]));
    const memory = sharedMemoryFor(goModule);
    if (!memory) throw new Error('wasm_exec_node: ALIBI_THREADS needs a binary rewritten by tools/wasmshared');
    kernels = await loadKernels();
    if (!kernels) throw new Error('wasm_exec_node: ALIBI_THREADS needs the kernel module');
    const { Worker } = await import('node:worker_threads');
    const threadURL = pathToFileURL(path.join(repo, 'engine', 'kernels', 'simd', 'thread.mjs'));
    const pool = await startPool({ module: kernels, memory, threads, spawn: () => new Worker(threadURL) });
    for (const h of pool.helpers) h.worker.unref();
    patchForSharedMemory(globalThis);
    go.importObject.alibi_simd = threadedImports(simd.imports, pool);
    instance = new WebAssembly.Instance(goModule, { ...go.importObject, env: { memory } });
  } else {
    [kernels, { instance }] = await Promise.all([
      loadKernels(),
      WebAssembly.instantiate(fs.readFileSync(process.argv[2]), go.importObject),
    ]);
  }
  // Benchmarks: tier the kernels up before Go times anything.
  const benchmarking = go.argv.some((a) => /^-test\.bench(=|$)/.test(a) && !/^-test\.bench=(\^\$)?$/.test(a));
  simd.bind(instance, kernels, { warmUp: benchmarking });
  process.on('exit', (code) => { // Node.js exits if no event handler is pending
    if (code === 0 && !go.exited) {
      // deadlock, make Go print error and stack traces
      go._pendingEvent = { id: 0 };
      go._resume();
    }
  });
  await go.run(instance);
} catch (err) {
  console.error(err);
  process.exit(1);
}
