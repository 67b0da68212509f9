//go:build !(js && wasm)

package engine

// nativeLimit caps loads when no MemoryLimit is given, so that a nonsense
// config (say vocab 16M × hidden 64K) fails with ErrMemory instead of
// crashing the process in an allocation.
const nativeLimit = 256 << 30

// memoryLimit returns the effective memory limit for a load.
func memoryLimit(opt int64) int64 {
	if opt <= 0 {
		return nativeLimit
	}
	return opt
}
