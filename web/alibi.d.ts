// Type declarations of alibi.js, the public API of the alibi browser/Node
// runtime (DESIGN.md §6). Hand-written; keep in step with alibi.js.

/** The `type` of every error the runtime rejects with. */
export type ErrorType = 'download' | 'integrity' | 'format' | 'unsupported' | 'memory' | 'context' | 'aborted';

export declare const ERROR_TYPES: readonly ErrorType[];
export declare const VERSION: string;

export declare class AlibiError extends Error {
  constructor(type: ErrorType, message: string, options?: { cause?: unknown });
  readonly name: 'AlibiError';
  readonly type: ErrorType;
}

/** A phase of a load, in the order they are first reached. */
export type ProgressStatus = 'download' | 'verify' | 'load' | 'ready';

export interface ProgressEvent {
  status: ProgressStatus;
  /** The chunk, byte range or file being worked on (null once ready). */
  file: string | null;
  /** Weight bytes received so far, from the network or the cache; never decreases. */
  loaded: number;
  /** Size of all weight files. */
  total: number;
  /** Bytes that came over the network. */
  network: number;
  /** Bytes read from the model cache (verified again). */
  cached: number;
  /** Bytes written into the engine. */
  written: number;
  /** Milliseconds spent inside the engine's loader writes (conversion, quantization). */
  engineMs: number;
  /** Chunks that could not be cached (quota), if any. */
  cacheErrors?: number;
  /** 1 when the tokenizer came from its compact form in the cache (a returning visitor). */
  compactTokenizer?: number;
}

/** What loadModel accepts as a model. */
export type ModelSource =
  | string // URL of a web directory (manifest.json) or an HF-style directory; in Node also a directory path
  | URL
  | { files: ArrayLike<File> | File[] };

export interface LoadOptions {
  /** Called about 10 times a second while loading, and once with status 'ready'. */
  onProgress?: (event: ProgressEvent) => void;
  /** Aborts the download and load; the worker is terminated, verified chunks stay cached. */
  signal?: AbortSignal;
  /** Weights in memory: 'none' (f32, default) or 'int8' (quantized while loading). */
  quant?: 'none' | 'int8';
  /** Keep verified chunks in the model cache (the origin private file system, or Cache Storage where the workers cannot write files) and read them from there; also keep the runtime's own wasm (alibi.wasm) in Cache Storage (`alibi-runtime-v1`) to compile it from there next time. A model the cache holds whole loads from it without waiting for the network; after the load the runtime asks the source whether its files changed (small files, and the first 8 bytes, size and ETag of each weight file) and a changed model is downloaded again on the next load. Default true; browsers only. */
  cache?: boolean;
  /** Where worker.js, alibi.wasm, kernels.wasm and wasm_exec.js are hosted (default: next to alibi.js). */
  baseURL?: string | URL;
  /** Context length in tokens (default: the model's training length). */
  contextLength?: number;
  /** Refuse models needing more bytes than this (default 3.8e9, the usable wasm32 memory). */
  memoryLimit?: number;
  /** Requests in flight, 2 to 4 (default 3); a model read from the cache reads ahead up to 8 MiB (at least this many pieces). */
  concurrency?: number;
  /** Range piece size for HF-style sources in bytes (default 8 MiB; files under 64 MiB in about eight pieces of at least 1 MiB). */
  chunkSize?: number;
  /** Use the SIMD128 kernels when available (default true). */
  simd?: boolean;
  /**
   * Kernel threads (default 1). With 2 or more, the engine's memory is a
   * SharedArrayBuffer and threads-1 extra workers run part of every large
   * matrix kernel. Needs a cross-origin isolated page (COOP/COEP headers,
   * as `alibi serve` sends); elsewhere the model loads with one thread and
   * `info.threadsFallback` says why.
   */
  threads?: number;
  /** Minimum milliseconds between progress events (default 100). */
  progressInterval?: number;
}

export interface ModelInfo {
  architecture: string;
  parameters: number;
  contextLength: number;
  trainingContext: number;
  layers: number;
  heads: number;
  hidden: number;
  vocab: number;
  quant: 'none' | 'int8';
  weightBytes: number;
  bos: number;
  eos: number;
  /** The source the model was loaded from (normalized URL or path). */
  source: string;
  sourceKind: 'web' | 'hf';
  /** Size of the weight files. */
  fileBytes: number;
  /** Memory the engine estimated before downloading. */
  estimatedBytes: number;
  /** Whether the SIMD128 kernels are in use. */
  simd: boolean;
  /** Whether they are the ones with fused multiply-adds (kernels-fma.wasm, where the browser runs relaxed SIMD). */
  fma: boolean;
  /** Kernel threads in use: 1, or the `threads` option when the page is cross-origin isolated. */
  threads: number;
  /** Why fewer threads than asked for are used (absent when none were refused). */
  threadsFallback?: string;
  crossOriginIsolated: boolean;
  /** Whether every chunk is in the model cache. */
  cached: boolean;
  runtime: 'browser' | 'node';
  /** Sampling defaults from the model's generation_config.json, used for options generate() is not given. */
  generationDefaults: { temperature?: number; topK?: number; topP?: number; repetitionPenalty?: number };
  estimate: { load: number; estimate: number; limit: number; architecture: string } | null;
}

export interface GenerateOptions {
  /** Tokens to generate (default 128). */
  maxTokens?: number;
  /** 0 is greedy. Default: the model's generation_config.json, else 0. */
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  seed?: number;
  /** Stop strings and/or stop token ids (the end-of-sequence id always stops unless ignoreEOS). */
  stop?: string | number | Array<string | number>;
  ignoreEOS?: boolean;
  /** Leave special tokens out of the streamed text (default true). */
  skipSpecial?: boolean;
  /** Aborts the generation: the loop throws an AlibiError of type 'aborted'. */
  signal?: AbortSignal;
  /** Opt-in: attach the newest query's attention in this layer to every token (costs nothing when absent). */
  attention?: { layer: number };
}

export interface Token {
  id: number;
  /** Text the streaming decoder released with this token (never a split UTF-8 sequence). */
  text: string;
  /** With GenerateOptions.attention: one row per head, attention over the context so far. */
  attention?: Float32Array[];
}

export interface GenerateStats {
  promptTokens: number;
  tokens: number;
  prefillMs: number;
  decodeMs: number;
  totalMs: number;
  /** 'length' | 'eos' | 'stop' */
  reason: string;
  /** Text held back by the decoder when a stop id ended the generation (usually ''). */
  tail: string;
}

export interface Generation extends AsyncIterableIterator<Token> {
  /** Set when the loop ended normally. */
  readonly stats: GenerateStats | null;
}

export interface MemoryStats {
  /** Size of the wasm linear memory (never shrinks). */
  wasmBytes: number;
  heapAlloc: number;
  heapSys: number;
  sys: number;
  totalAlloc: number;
  simd: boolean;
  jsHeap: number | null;
}

export interface Model {
  readonly info: Readonly<ModelInfo>;
  tokenize(text: string, options?: { addSpecial?: boolean }): Promise<number[]>;
  detokenize(ids: ArrayLike<number>, options?: { skipSpecial?: boolean }): Promise<string>;
  tokenBytes(ids: ArrayLike<number>): Promise<Uint8Array[]>;
  /** Logits of the last position. */
  logits(ids: ArrayLike<number>, options?: { all?: false }): Promise<Float32Array>;
  /** Logits of every position. */
  logits(ids: ArrayLike<number>, options: { all: true }): Promise<Float32Array[]>;
  slopes(): Promise<Float32Array>;
  memory(): Promise<MemoryStats>;
  generate(promptOrIds: string | ArrayLike<number>, options?: GenerateOptions): Generation;
  dispose(): Promise<void>;
}

export declare function loadModel(source: ModelSource, options?: LoadOptions): Promise<Model>;

export interface CachedModel {
  url: string;
  name: string;
  architecture: string;
  bytes: number;
  cachedBytes: number;
  complete: boolean;
  date: string;
}

export declare function listCachedModels(): Promise<CachedModel[]>;
export declare function deleteCachedModel(url: string): Promise<boolean>;
export declare function storageEstimate(): Promise<{ usage: number | null; quota: number | null; persisted: boolean | null }>;

/** Times the engine's f32 matvec kernel in a fresh worker (benchmarks). */
export declare function benchKernels(options?: { simd?: boolean; threads?: number; rows?: number; cols?: number; ms?: number; cold?: boolean; baseURL?: string | URL }): Promise<{
  rows: number; cols: number; iters: number; nsPerOp: number; gflops: number; simd: boolean; simdBound: boolean; fma: boolean; threads: number; cold: boolean;
}>;
