// The demo as an offline web app: installable manifest, service worker,
// cache manager, a reload with the network off that still loads the cached
// model and generates, and the "reload to update" flow that never mixes two
// builds. Runs against a copy of the built site (the update test edits it).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gate, serve, launch, launchPersistent, siteDir, watchConsole, waitReady, generateAndWait, setSetting } from './lib/demo-helpers.mjs';

// Console lines Chromium itself prints for requests that fail while offline.
const offlineNoise = /ERR_INTERNET_DISCONNECTED|Failed to load resource|Failed to fetch|net::ERR_FAILED/;

async function controlled(page) {
  await page.waitForFunction(async () => {
    const reg = await navigator.serviceWorker.getRegistration();
    return Boolean(reg?.active && navigator.serviceWorker.controller);
  }, null, { timeout: 60_000, polling: 250 });
}

describe('demo PWA', { concurrency: false }, () => {
  let skip = '';
  let browser, server, site;

  before(async () => {
    skip = await gate();
    if (skip) return;
    site = mkdtempSync(path.join(os.tmpdir(), 'alibi-pwa-'));
    cpSync(siteDir(), site, { recursive: true });
    server = await serve(site);
    browser = await launch();
  });
  // visit opens the demo in a fresh context and waits until the model is
  // ready and (unless waitControl is false) the service worker controls the page.
  async function visit(t, { waitControl = true } = {}) {
    const context = await browser.newContext();
    t.after(() => context.close());
    const page = await context.newPage();
    const errors = watchConsole(page);
    await page.goto(server.url);
    await waitReady(page);
    if (waitControl) await controlled(page);
    return { context, page, errors };
  }

  after(async () => {
    await browser?.close();
    server?.stop();
    if (site) rmSync(site, { recursive: true, force: true });
  });

  test('installable: Chromium reports a valid manifest and no installability errors', async (t) => {
    if (skip) return t.skip(skip);
    // A real profile: incognito contexts are never installable.
    const profile = mkdtempSync(path.join(os.tmpdir(), 'alibi-profile-'));
    const context = await launchPersistent(profile);
    t.after(async () => { await context.close(); rmSync(profile, { recursive: true, force: true }); });
    const page = context.pages()[0] ?? await context.newPage();
    const errors = watchConsole(page);
    await page.goto(server.url);
    await waitReady(page);
    await controlled(page);
    const cdp = await context.newCDPSession(page);
    const m = await cdp.send('Page.getAppManifest');
    assert.deepEqual(m.errors, [], `manifest errors: ${JSON.stringify(m.errors)}`);
    const manifest = JSON.parse(m.data);
    assert.equal(manifest.display, 'standalone');
    assert.deepEqual(manifest.icons.map((i) => i.sizes).sort(), ['192x192', '512x512', '512x512']);
    let inst = null;
    try {
      inst = await cdp.send('Page.getInstallabilityErrors');
    } catch (e) {
      t.diagnostic(`Page.getInstallabilityErrors unavailable: ${e.message}`);
    }
    if (inst) assert.deepEqual(inst.installabilityErrors, [], JSON.stringify(inst.installabilityErrors));
    // Every icon the manifest names is a PNG of the stated size.
    for (const icon of manifest.icons) {
      const png = readFileSync(path.join(site, icon.src));
      assert.equal(png.subarray(1, 4).toString(), 'PNG');
      assert.equal(`${png.readUInt32BE(16)}x${png.readUInt32BE(20)}`, icon.sizes);
    }
    assert.deepEqual(errors, []);
  });

  test('offline: after one visit a reload shows the page, loads the cached model and generates', async (t) => {
    if (skip) return t.skip(skip);
    const { context, page, errors } = await visit(t);
    await setSetting(page, 'max-tokens', 8);
    const online = await generateAndWait(page);
    assert.ok(online.count > 0);
    assert.deepEqual(errors, [], 'online visit is clean');

    await context.setOffline(true);
    try {
      await page.reload();
      await waitReady(page);
      assert.match(await page.textContent('#progress-text'), /^Loaded/);
      assert.match(await page.textContent('#net-state'), /^Offline/);
      await setSetting(page, 'max-tokens', 8);
      await setSetting(page, 'temperature', 0);
      const r = await generateAndWait(page);
      assert.equal(r.state, 'done');
      assert.ok(r.count > 0 && r.text.length > 0, 'generated offline');
      const shell = await page.evaluate(async () => (await caches.keys()).filter((k) => k.startsWith('alibi-shell-')));
      assert.equal(shell.length, 1, `one shell cache: ${shell}`);
    } finally {
      await context.setOffline(false);
    }
    assert.deepEqual(errors.filter((e) => !offlineNoise.test(e)), []);
  });

  test('the kernel-threads build is cached on first use, not precached, and then works offline', async (t) => {
    if (skip) return t.skip(skip);
    const { context, page, errors } = await visit(t);
    const lazy = JSON.parse(readFileSync(path.join(site, 'assets.json'), 'utf8')).lazy;
    assert.deepEqual([...lazy].sort(), ['alibi-mt.wasm', 'kernels-mt-fma.wasm', 'kernels-mt.wasm', 'simd-thread.mjs', 'simd-threads.mjs']);
    const shellHas = () => page.evaluate(async (files) => {
      const name = (await caches.keys()).find((k) => k.startsWith('alibi-shell-'));
      const cache = await caches.open(name);
      const out = {};
      for (const f of files) out[f] = Boolean(await cache.match(new URL(f, location.href), { ignoreSearch: true }));
      return out;
    }, lazy);
    assert.ok(Object.values(await shellHas()).every((x) => !x), 'precached a lazy file');
    assert.ok(await page.evaluate(async () => Boolean(await caches.match('app.js', { ignoreSearch: true }))), 'app.js precached');
    // Two kernel threads: the lazy files are fetched and kept.
    await page.selectOption('[data-testid="threads"]', '2');
    await page.waitForFunction(() => document.querySelector('[data-testid="status"]').dataset.state === 'loading');
    await waitReady(page);
    assert.match(await page.textContent('#model-facts'), /threads\s*2/);
    // The kernel module the browser runs is kept: kernels-mt-fma.wasm where
    // it runs relaxed SIMD, else kernels-mt.wasm (the other one is never asked for).
    const has = await shellHas();
    const { 'kernels-mt.wasm': plainMT, 'kernels-mt-fma.wasm': fmaMT, ...rest } = has;
    assert.ok(Object.values(rest).every(Boolean) && plainMT !== fmaMT, JSON.stringify(has));
    await context.setOffline(true);
    try {
      await page.reload();
      await waitReady(page);
      assert.match(await page.textContent('#model-facts'), /threads\s*2/, 'threads offline');
      await setSetting(page, 'max-tokens', 6);
      const r = await generateAndWait(page);
      assert.equal(r.state, 'done');
      assert.ok(r.count > 0);
    } finally {
      await context.setOffline(false);
    }
    assert.deepEqual(errors.filter((e) => !offlineNoise.test(e)), []);
  });

  test('cache manager lists the bundled model and deletes it', async (t) => {
    if (skip) return t.skip(skip);
    const { page, errors } = await visit(t, { waitControl: false });
    const row = page.locator('[data-testid="cache-list"] li[data-url*="models/brown-bloom"]');
    await row.waitFor();
    assert.match(await row.locator('.size').textContent(), /\d (KB|MB|GB)/);
    assert.match(await row.locator('.name').textContent(), /loaded$/);
    assert.match(await page.textContent('#storage-text'), /used of/);
    await page.click('#persist');
    await page.waitForFunction(() => /Persistent|declined/.test(document.getElementById('persist-state').textContent));
    await row.locator('[data-testid="cache-delete"]').click();
    await row.waitFor({ state: 'detached' });
    // The runtime agrees: nothing listed for that URL any more.
    const left = await page.evaluate(async () => {
      const alibi = await import('./alibi.js');
      return (await alibi.listCachedModels()).map((m) => m.url).filter((u) => u.includes('models/brown-bloom'));
    });
    assert.deepEqual(left, []);
    // Keyboard focus stays inside the section.
    assert.ok(await page.evaluate(() => document.activeElement?.closest('section')?.getAttribute('aria-labelledby') === 'cache-h'));
    // Loading again downloads and lists it again.
    await page.click('#load-bundled');
    await waitReady(page);
    await row.waitFor();
    assert.deepEqual(errors, []);
  });

  test('a new build shows "reload to update" and the page never mixes versions', async (t) => {
    if (skip) return t.skip(skip);
    const { context, page, errors } = await visit(t);
    const assetsPath = path.join(site, 'assets.json');
    const before = JSON.parse(readFileSync(assetsPath, 'utf8'));

    // A new build: two shell files change and so does the version.
    const marker = `/* build ${Date.now()} */`;
    appendFileSync(path.join(site, 'app.css'), `\n${marker}\n`);
    appendFileSync(path.join(site, 'app', 'format.js'), `\n${marker}\n`);
    writeFileSync(assetsPath, JSON.stringify({ ...before, version: `${before.version}-next` }));
    t.after(() => writeFileSync(assetsPath, JSON.stringify(before)));

    const readShell = () => page.evaluate(async (files) => {
      const out = {};
      for (const f of files) out[f] = await (await fetch(f)).text();
      return out;
    }, ['app.css', 'app/format.js']);

    await page.reload();
    await waitReady(page);
    await page.waitForSelector('#update:not([hidden])', { timeout: 60_000 });
    // Still the old build, entirely: the page came from the old worker's cache.
    const old = await readShell();
    assert.ok(!old['app.css'].includes(marker) && !old['app/format.js'].includes(marker), 'old build until the update');
    const cssRule = await page.evaluate(() => [...document.styleSheets].some((s) => s.href?.endsWith('app.css')));
    assert.ok(cssRule);

    await Promise.all([
      page.waitForEvent('load', { timeout: 60_000 }),
      page.click('#update-reload'),
    ]);
    await waitReady(page);
    assert.equal(await page.isHidden('#update'), true, 'no notice after updating');
    const fresh = await readShell();
    assert.ok(fresh['app.css'].includes(marker) && fresh['app/format.js'].includes(marker), 'new build after the update');
    const shell = await page.evaluate(async () => (await caches.keys()).filter((k) => k.startsWith('alibi-shell-')));
    assert.deepEqual(shell, [`alibi-shell-${before.version}-next`], 'only the new shell cache remains');
    assert.deepEqual(errors, []);
  });
});
