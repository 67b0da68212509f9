// examples/embed/: the minimal third-party page imports alibi.js, loads the
// bundled model and streams a completion into a <div>.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gate, serve, launch, root, siteDir, watchConsole } from './lib/demo-helpers.mjs';

let skip = '';
let browser, server, site;

before(async () => {
  skip = await gate();
  if (skip) return;
  site = mkdtempSync(path.join(os.tmpdir(), 'alibi-embed-'));
  cpSync(siteDir(), site, { recursive: true });
  cpSync(path.join(root, 'examples', 'embed'), path.join(site, 'examples', 'embed'), { recursive: true });
  server = await serve(site);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.stop();
  if (site) rmSync(site, { recursive: true, force: true });
});

test('the embed example is short and streams a completion', async (t) => {
  if (skip) return t.skip(skip);
  const html = readFileSync(path.join(root, 'examples', 'embed', 'index.html'), 'utf8');
  assert.ok(html.trimEnd().split('\n').length < 40, 'under 40 lines');
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  const errors = watchConsole(page);
  await page.goto(`${server.url}examples/embed/`);
  await page.waitForSelector('#go:not([disabled])', { timeout: 120_000 });
  // Count the DOM updates of the output <div>: streaming means many.
  await page.evaluate(() => {
    window.mutations = 0;
    new MutationObserver((l) => { window.mutations += l.length; })
      .observe(document.getElementById('out'), { childList: true, characterData: true, subtree: true });
  });
  await page.click('#go');
  await page.waitForSelector('#go:not([disabled])', { timeout: 120_000 });
  const r = await page.evaluate(() => ({ text: document.getElementById('out').textContent, mutations: window.mutations }));
  assert.ok(r.text.trim().length > 10, `completion: ${JSON.stringify(r.text)}`);
  assert.ok(r.mutations > 5, `streamed in ${r.mutations} updates`);
  assert.deepEqual(errors, []);
});
