package gguf_test

import (
	"bytes"
	"fmt"

	"github.com/c9e48c40/alibi/engine/gguf"
)

// Converting a Hugging Face BLOOM directory to GGUF and reading it back.
// `alibi convert --to gguf` does the same with the output going to a file.
func ExampleConvertBLOOMDir() {
	var buf bytes.Buffer
	err := gguf.ConvertBLOOMDir(&buf, "../testdata/bloom-f32-h4-l2", gguf.ConvertOptions{FileType: gguf.FileTypeQ8_0})
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		fmt.Println(err)
		return
	}
	arch, _ := f.String("general.architecture")
	layers, _ := f.Uint("bloom.block_count")
	qkv, _ := f.Tensor("blk.0.attn_qkv.weight")
	down, _ := f.Tensor("blk.0.ffn_down.weight")
	fmt.Println(arch, layers, len(f.Tensors))
	fmt.Println(qkv.Dims, qkv.Type) // rows of 24: Q8_0 falls back to F16
	fmt.Println(down.Dims, down.Type)
	// Output:
	// bloom 2 29
	// [24 72] F16
	// [96 24] Q8_0
}
