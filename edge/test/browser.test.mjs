// The demo through the Worker in real Chromium: the page is cross-origin
// isolated, and the browser runtime (web/alibi.js) loads the bundled model
// from the Worker's model files and generates the same greedy tokens as the
// CLI. Needs Chromium (ALIBI_CHROMIUM, default /usr/bin/chromium) and
// playwright-core from the root node_modules.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { start, skipReason, siteFiles, ROOT } from './server.mjs';

const CHROMIUM = process.env.ALIBI_CHROMIUM || '/usr/bin/chromium';
let skip = skipReason() || false;
if (!skip) {
  if (!existsSync(CHROMIUM)) skip = `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
  else if (!existsSync(join(ROOT, 'node_modules/playwright-core'))) skip = 'playwright-core missing: npm ci at the root';
  else if (!siteFiles()['alibi.js']) skip = 'the site has no alibi.js (not a cmd/build-wasm folder)';
  if (skip && process.env.ALIBI_FULL === '1') throw new Error(`ALIBI_FULL=1: ${skip}`);
}

let srv, browser;
before(async () => {
  if (skip) return;
  srv = await start();
  const { chromium } = await import(join(ROOT, 'node_modules/playwright-core/index.mjs'));
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
});
after(async () => {
  await browser?.close();
  await srv?.stop();
});

test('demo page is cross-origin isolated and the runtime loads the model from the Worker', { skip }, async () => {
  const cli = process.env.ALIBI_BIN || (() => {
    const p = join(mkdtempSync(join(tmpdir(), 'alibi-edge-br-')), 'alibi');
    execFileSync('go', ['build', '-o', p, './cmd/alibi'], { cwd: ROOT, stdio: 'inherit' });
    return p;
  })();
  const prompt = 'The committee said that';
  const want = JSON.parse(execFileSync(cli, ['run', '--model', join(ROOT, 'models/brown-bloom'), '--prompt', prompt,
    '--max-tokens', '16', '--temperature', '0', '--json'], { encoding: 'utf8' }));
  // alibi run applies generation_config.json's repetition_penalty even when
  // greedy; web/alibi.js does not read that file, so pass it explicitly.
  const gcPath = join(srv.site, 'models/brown-bloom/generation_config.json');
  const rp = existsSync(gcPath) ? JSON.parse(readFileSync(gcPath, 'utf8')).repetition_penalty || 0 : 0;
  const page = await browser.newPage();
  const res = await page.goto(srv.url + '/');
  assert.equal(res.status(), 200);
  assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'page not cross-origin isolated');
  const out = await page.evaluate(async ({ prompt, rp }) => {
    const { loadModel } = await import('/alibi.js');
    const m = await loadModel('/models/brown-bloom/', { cache: false });
    const ids = [];
    let text = '';
    for await (const t of m.generate(prompt, { maxTokens: 16, temperature: 0, repetitionPenalty: rp })) { ids.push(t.id); text += t.text; }
    const info = m.info;
    await m.dispose();
    return { ids, text, simd: info.simd };
  }, { prompt, rp });
  assert.deepEqual(out.ids, want.ids);
  assert.equal(out.text, want.text);
  await page.close();
});
