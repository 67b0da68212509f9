//go:build !(js && wasm)

package main

import (
	"fmt"
	"os"
)

// main explains how to build this command: the logic in api.go is portable
// and tested natively, but only the js/wasm build has a JavaScript host.
func main() {
	fmt.Fprintln(os.Stderr, "alibi wasm: build with GOOS=js GOARCH=wasm (go run ./cmd/build-wasm -o DIR)")
	os.Exit(2)
}
