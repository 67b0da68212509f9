// Package engine runs ALiBi-attention language models (BLOOM first) in
// portable Go, natively and on js/wasm: config parsing, architecture tables,
// a streaming safetensors loader, the forward pass with a preallocated KV
// cache, a seeded sampler and a generation session.
//
// Data flow:
//
//	config.json ──ParseConfig──► Config ──NewLoader──► Loader
//	*.safetensors bytes, any split ──OpenFile(name).Write──► header check against
//	    the architecture table ──► F16/BF16→f32 (→ int8) per element, straight
//	    into final buffers (QKV un-interleaved once) ──Finish──► Model
//	Model.NewSession ──► Session: Prefill (batched, chunks of 64 rows) /
//	    Step (no allocation) ──► logits ──Sampler──► next id; Generate loops.
//
// Files:
//
//	config.go     Config, ParseConfig, the family registry
//	bloom.go      BLOOM: config keys and the tensor-name table
//	weights.go    roles, tensor specs, the weight structs, Model, Info
//	options.go    LoadOptions, Quant, EstimateMemory
//	loader.go     Loader: index, per-file writers, element sinks
//	loadfs.go     LoadDir, LoadFS
//	alibi.go      ALiBi slopes
//	session.go    Session: Prefill, PrefillAll, Step, Generate, attention
//	              and trace hooks
//	forward.go    the forward pass, top to bottom
//	attention.go  causal ALiBi attention with an online softmax
//	sampler.go    Sampler: greedy, temperature, top-k, top-p, min-p, penalty
//	errors.go     error kinds
//
// Errors wrap one of ErrFormat, ErrUnsupported, ErrContext or ErrMemory;
// Kind names the kind for the JavaScript layer.
package engine
