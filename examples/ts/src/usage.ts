// Uses every public API of alibi-wasm (alibi.d.ts) under tsc --strict;
// e2e/package-ts.test.mjs checks that every exported name and member is
// mentioned here and that this compiles.
import {
  loadModel, listCachedModels, deleteCachedModel, storageEstimate, benchKernels,
  AlibiError, ERROR_TYPES, VERSION,
} from 'alibi-wasm';
import type {
  ErrorType, ProgressStatus, ProgressEvent, ModelSource, LoadOptions, ModelInfo, GenerateOptions, Token,
  GenerateStats, Generation, MemoryStats, Model, CachedModel,
} from 'alibi-wasm';

export async function demo(out: HTMLElement, files: File[]): Promise<string> {
  const controller = new AbortController();
  const statuses: ProgressStatus[] = [];
  const onProgress = (e: ProgressEvent): void => {
    statuses.push(e.status);
    const f: string | null = e.file;
    const counts: number[] = [e.loaded, e.total, e.network, e.cached, e.written, e.engineMs, e.cacheErrors ?? 0, e.compactTokenizer ?? 0];
    out.title = `${f ?? ''} ${counts.join(' ')}`;
  };
  const options: LoadOptions = {
    onProgress, signal: controller.signal, quant: 'int8', cache: true, baseURL: new URL('https://cdn.example/alibi-wasm/'),
    contextLength: 1024, memoryLimit: 2e9, concurrency: 3, chunkSize: 8 << 20, simd: true, threads: 2, progressInterval: 100,
  };
  const sources: ModelSource[] = ['/models/brown-bloom/', new URL('https://example.com/m/'), { files }];
  const model: Model = await loadModel(sources[0]!, options);

  const info: Readonly<ModelInfo> = model.info;
  const summary: Array<string | number | boolean | null> = [
    info.architecture, info.parameters, info.contextLength, info.trainingContext, info.layers, info.heads, info.hidden,
    info.vocab, info.quant, info.weightBytes, info.bos, info.eos, info.source, info.sourceKind, info.fileBytes,
    info.estimatedBytes, info.simd, info.fma, info.threads, info.threadsFallback ?? null, info.crossOriginIsolated, info.cached, info.runtime,
    info.generationDefaults.temperature ?? null, info.generationDefaults.topK ?? null,
    info.generationDefaults.topP ?? null, info.generationDefaults.repetitionPenalty ?? null,
    info.estimate ? info.estimate.load + info.estimate.estimate + info.estimate.limit : null,
    info.estimate?.architecture ?? null,
  ];

  const ids: number[] = await model.tokenize('The jury said', { addSpecial: false });
  const text: string = await model.detokenize(ids, { skipSpecial: true });
  const bytes: Uint8Array[] = await model.tokenBytes(Int32Array.from(ids));
  const last: Float32Array = await model.logits(ids);
  const lastToo: Float32Array = await model.logits(ids, { all: false });
  const all: Float32Array[] = await model.logits(ids, { all: true });
  const slopes: Float32Array = await model.slopes();
  const mem: MemoryStats = await model.memory();
  const memory = [mem.wasmBytes, mem.heapAlloc, mem.heapSys, mem.sys, mem.totalAlloc, mem.simd, mem.jsHeap];

  const gen: GenerateOptions = {
    maxTokens: 32, temperature: 0.7, topK: 40, topP: 0.9, minP: 0.05, repetitionPenalty: 1.1, seed: 7,
    stop: ['\n', info.eos], ignoreEOS: false, skipSpecial: true, signal: controller.signal, attention: { layer: 0 },
  };
  const generation: Generation = model.generate(text, gen);
  let streamed = '';
  for await (const t of generation) {
    const token: Token = t;
    streamed += token.text;
    const rows: Float32Array[] | undefined = token.attention;
    out.dataset['last'] = `${token.id} ${rows?.length ?? 0}`;
  }
  const stats: GenerateStats | null = generation.stats;
  if (stats) {
    const s: Array<number | string> = [stats.promptTokens, stats.tokens, stats.prefillMs, stats.decodeMs, stats.totalMs, stats.reason, stats.tail];
    out.dataset['stats'] = s.join(',');
  }
  for await (const t of model.generate(ids, { stop: 2 })) streamed += t.text;
  await model.generate('x', { stop: 'END' }).next();

  try {
    await model.logits([]);
  } catch (e) {
    if (e instanceof AlibiError) {
      const type: ErrorType = e.type;
      const name: 'AlibiError' = e.name;
      if (!ERROR_TYPES.includes(type)) throw new AlibiError('format', `${name}: unexpected type`, { cause: e });
    }
  }

  const cached: CachedModel[] = await listCachedModels();
  for (const c of cached) {
    const row: Array<string | number | boolean> = [c.url, c.name, c.architecture, c.bytes, c.cachedBytes, c.complete, c.date];
    if (!c.complete) await deleteCachedModel(c.url).then((gone: boolean) => row.push(gone));
  }
  const est = await storageEstimate();
  const quota: Array<number | boolean | null> = [est.usage, est.quota, est.persisted];
  const bench = await benchKernels({ simd: true, threads: 1, rows: 256, cols: 256, ms: 50, cold: false, baseURL: '/alibi/' });
  const b: Array<number | boolean> = [bench.rows, bench.cols, bench.iters, bench.nsPerOp, bench.gflops, bench.simd, bench.simdBound, bench.fma, bench.threads, bench.cold];

  await model.dispose();
  controller.abort();
  return [VERSION, statuses, summary, bytes.length, last.length, lastToo.length, all.length, slopes.length, memory, streamed, quota, b]
    .map(String).join('\n');
}
