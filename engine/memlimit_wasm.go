//go:build js && wasm

package engine

// wasmLimit is the 32-bit address space of a wasm instance.
const wasmLimit = 4 << 30

// memoryLimit returns the effective memory limit for a load.
func memoryLimit(opt int64) int64 {
	if opt <= 0 || opt > wasmLimit {
		return wasmLimit
	}
	return opt
}
