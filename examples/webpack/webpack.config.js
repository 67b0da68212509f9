// webpack 5 with its defaults: alibi-wasm needs no loader or option. webpack
// bundles the worker from new Worker(new URL('./worker.js', import.meta.url))
// and emits alibi.wasm and kernels.wasm as assets from new URL('./x.wasm',
// import.meta.url). The small plugin below only copies index.html.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

class IndexHTML {
  apply(compiler) {
    const { RawSource } = compiler.webpack.sources;
    compiler.hooks.thisCompilation.tap('IndexHTML', (compilation) => {
      compilation.hooks.processAssets.tap({ name: 'IndexHTML', stage: compiler.webpack.Compilation.PROCESS_ASSETS_STAGE_ADDITIONAL }, () => {
        compilation.emitAsset('index.html', new RawSource(fs.readFileSync(new URL('./index.html', import.meta.url))));
      });
    });
  }
}

export default {
  mode: 'production',
  entry: './src/main.js',
  output: { path: fileURLToPath(new URL('./dist/', import.meta.url)), publicPath: 'auto', clean: true },
  performance: { hints: false }, // alibi.wasm is several MB by nature
  plugins: [new IndexHTML()],
};
