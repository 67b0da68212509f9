// The two settings alibi-wasm needs in Vite:
// - worker.format 'es': the runtime's worker uses top-level await and
//   dynamic imports (wasm_exec.js, the SIMD host), which IIFE workers cannot.
// - optimizeDeps.exclude: the dev server must serve the package as files, so
//   new URL('./worker.js', import.meta.url) and './alibi.wasm' resolve next to
//   alibi.js instead of inside Vite's pre-bundle cache.
import { defineConfig } from 'vite';

export default defineConfig({
  base: './',
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['alibi-wasm'] },
  build: { target: 'es2022' },
});
