package kernels

// Assemble the SIMD128 kernel module (needs wabt's wat2wasm) into
// <repo>/build/kernels/kernels.wasm; the go test -exec runner in
// tools/wasmexec does this by itself when kernels.wat is newer.
//go:generate bash ../../tools/wasmexec/build-kernels.sh
