// The demo page in Chromium, against the built site served by `alibi serve`:
// load -> generate -> stop, settings, keyboard-only use, the XSS case with a
// model whose output is an HTML payload, error messages per error type, and
// screenshots at phone and desktop widths without horizontal overflow.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  gate, serve, launch, siteDir, watchConsole, waitReady, generateAndWait, waitGenerated, setSetting, output, writeTinyBloom,
} from './lib/demo-helpers.mjs';

const PAYLOAD = '<img src=x onerror=alert(1)>';

describe('demo page', { concurrency: false }, () => {
  let server, browser, tmp;
  let skip = '';

  before(async () => {
    skip = await gate();
    if (skip) return;
    tmp = mkdtempSync(path.join(os.tmpdir(), 'alibi-demo-'));
    // A copy of the site with one more model: an HF-style directory whose
    // greedy output is an HTML payload (the XSS case).
    const site = path.join(tmp, 'site');
    cpSync(siteDir(), site, { recursive: true });
    writeTinyBloom(path.join(site, 'models', 'xss'), PAYLOAD);
    // And the bundled model with one flipped byte (the integrity case).
    const tampered = path.join(site, 'models', 'tampered');
    cpSync(path.join(site, 'models', 'brown-bloom'), tampered, { recursive: true });
    const man = JSON.parse(readFileSync(path.join(tampered, 'manifest.json'), 'utf8'));
    const chunk = path.join(tampered, man.files[0].chunks[0].path);
    const bytes = readFileSync(chunk);
    bytes[bytes.length >> 1] ^= 0x55;
    writeFileSync(chunk, bytes);
    server = await serve(site);
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    server?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  async function open(t, opts = {}) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...opts });
    t.after(() => context.close());
    const page = await context.newPage();
    const errors = watchConsole(page);
    await page.goto(server.url);
    return { context, page, errors };
  }

  test('loads the bundled model, generates, and stops mid-stream', async (t) => {
    if (skip) return t.skip(skip);
    const { page, errors } = await open(t);
    await waitReady(page);
    const loaded = await page.evaluate(() => ({
      progress: document.querySelector('[data-testid="progress"]').value,
      progressText: document.getElementById('progress-text').textContent,
      facts: document.getElementById('model-facts').textContent,
      size: document.getElementById('stat-size').textContent,
      memory: document.getElementById('stat-memory').textContent,
      curves: document.querySelectorAll('#bias-plot .curve').length,
      heads: Number(/heads\s*(\d+)/.exec(document.getElementById('model-facts').textContent)?.[1]),
      context: Number(/context\s*(\d+)/.exec(document.getElementById('model-facts').textContent)?.[1]),
    }));
    assert.equal(loaded.progress, 1);
    assert.match(loaded.progressText, /^Loaded \d/);
    assert.match(loaded.facts, /arch\s*bloom/);
    assert.match(loaded.size, /\d (KB|MB|GB)$/);
    assert.match(loaded.memory, /\d (KB|MB|GB)$/);
    assert.ok(loaded.heads > 0, 'heads shown');
    assert.equal(loaded.curves, loaded.heads, 'one bias curve per head');

    // Long enough that it cannot finish before Stop is pressed.
    await setSetting(page, 'max-tokens', Math.max(64, Math.min(4096, loaded.context - 32)));
    await page.click('[data-testid="generate"]');
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="token-count"]').textContent) >= 3);
    assert.equal(await page.isEnabled('[data-testid="stop"]'), true);
    assert.equal(await page.isDisabled('[data-testid="generate"]'), true);
    await page.click('[data-testid="stop"]');
    const r = await waitGenerated(page);
    assert.equal(r.state, 'stopped');
    assert.match(r.status, /ready.*stopped/);
    assert.ok(r.count >= 3 && r.count < loaded.context - 32, `stopped after ${r.count} tokens`);
    assert.ok(r.text.length > 0, 'streamed some text');
    await page.waitForTimeout(300);
    const later = await page.evaluate(() => document.querySelector('[data-testid="output"] .gen').textContent);
    assert.equal(later, r.text, 'nothing arrives after Stop');

    // Token chips: the prompt's and one per generated token.
    const chips = await page.evaluate(() => ({
      out: document.querySelectorAll('#tokens .chip.out').length,
      prompt: document.querySelectorAll('#tokens .chip.prompt').length,
      title: document.querySelector('#tokens .chip.prompt')?.title ?? '',
    }));
    assert.equal(chips.out, r.count);
    assert.ok(chips.prompt > 0);
    assert.match(chips.title, /id \d+, bytes [0-9a-f]{2}/);
    // The list is one tab stop; arrow keys walk the chips and the info line reads them out.
    await page.focus('#tokens');
    await page.keyboard.press('End');
    await page.keyboard.press('ArrowLeft');
    const info = await page.textContent('#token-info');
    assert.match(info, new RegExp(`^#${chips.prompt + chips.out - 2} · output token, id \\d+, bytes`));
    assert.equal(await page.getAttribute('#tokens', 'aria-activedescendant'),
      await page.evaluate(() => document.querySelector('#tokens .chip.active').id));

    // Attention heatmap was drawn (Live is on by default): some non-background pixels.
    const painted = await page.evaluate(() => {
      const c = document.getElementById('heatmap');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
      return n;
    });
    assert.ok(painted > 100, `heatmap painted ${painted} pixels`);
    for (const k of ['stat-ttft', 'stat-prefill', 'stat-decode']) {
      assert.notEqual(await page.textContent(`#${k}`), '–', `${k} filled`);
    }
    assert.deepEqual(errors, []);
  });

  test('settings: max tokens caps the output, greedy and seeded runs repeat', async (t) => {
    if (skip) return t.skip(skip);
    const { page, errors } = await open(t);
    await waitReady(page);
    await page.fill('[data-testid="prompt"]', 'It was a');
    await setSetting(page, 'max-tokens', 5);
    await setSetting(page, 'temperature', 0);
    const a = await generateAndWait(page);
    assert.equal(a.state, 'done');
    assert.ok(a.count >= 1 && a.count <= 5, `${a.count} tokens for max 5`);
    assert.equal(await page.locator('#tokens .chip.out').count(), a.count);
    const b = await generateAndWait(page);
    assert.equal(b.text, a.text, 'temperature 0 is deterministic');

    await setSetting(page, 'max-tokens', 12);
    await setSetting(page, 'temperature', 1.2);
    await setSetting(page, 'seed', 7);
    const c = await generateAndWait(page);
    const d = await generateAndWait(page);
    assert.equal(d.text, c.text, 'same seed, same sample');
    assert.ok(c.count <= 12);

    // int8 reloads the model with quantized weights, smaller.
    const f32Size = await page.textContent('#stat-size');
    await page.check('[data-testid="int8"]');
    await page.waitForFunction(() => document.querySelector('[data-testid="status"]').dataset.state === 'loading');
    await waitReady(page);
    assert.match(await page.textContent('#model-facts'), /weights\s*int8/);
    const int8Size = await page.textContent('#stat-size');
    assert.notEqual(int8Size, f32Size, `int8 ${int8Size} vs f32 ${f32Size}`);
    const e = await generateAndWait(page);
    assert.equal(e.state, 'done');
    assert.ok(e.count > 0);

    // Kernel threads (the page is cross-origin isolated): reloads with 2
    // threads; greedy output is the same as with one.
    await setSetting(page, 'temperature', 0);
    const one = await generateAndWait(page);
    assert.equal(await page.evaluate(() => crossOriginIsolated), true);
    assert.equal(await page.isDisabled('[data-testid="threads"]'), false);
    await page.selectOption('[data-testid="threads"]', '2');
    await page.waitForFunction(() => document.querySelector('[data-testid="status"]').dataset.state === 'loading');
    await waitReady(page);
    assert.match(await page.textContent('#model-facts'), /threads\s*2/);
    const two = await generateAndWait(page);
    assert.equal(two.text, one.text, 'same greedy text with 2 kernel threads');
    assert.deepEqual(errors, []);
  });

  test('keyboard only: Tab to the prompt, type, Enter and Ctrl+Enter generate, Esc stops', async (t) => {
    if (skip) return t.skip(skip);
    const { page, errors } = await open(t);
    await waitReady(page);
    // First stop is the skip link; Enter on it moves focus to the prompt.
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to prompt');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'prompt', 'skip link');
    // Plain Tab order from the top of the page reaches it too.
    await page.reload();
    await waitReady(page);
    let focused = '';
    for (let i = 0; i < 12 && focused !== 'prompt'; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.id);
    }
    assert.equal(focused, 'prompt', 'prompt reachable by keyboard');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('The man said');
    await page.keyboard.press('Enter');
    const a = await waitGenerated(page);
    assert.ok(a.count > 0);
    assert.equal(await page.inputValue('[data-testid="prompt"]'), 'The man said', 'Enter generated, no newline added');
    await page.keyboard.press('Control+Enter');
    const b = await waitGenerated(page);
    assert.ok(b.count > 0);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'prompt', 'focus stays in the prompt');
    // Esc stops a long run.
    await setSetting(page, 'max-tokens', 1000);
    await page.focus('[data-testid="prompt"]');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="token-count"]').textContent) >= 2);
    await page.keyboard.press('Escape');
    const c = await waitGenerated(page);
    assert.equal(c.state, 'stopped');
    assert.ok(c.count < 1000);
    assert.deepEqual(errors, []);
  });

  async function checkPayload(page, label) {
    await page.waitForFunction((l) => document.getElementById('model-name').textContent === l, label);
    await waitReady(page);
    assert.match(await page.textContent('#model-facts'), /vocab\s*258/);
    await page.fill('[data-testid="prompt"]', `${PAYLOAD} and "quotes" & <b>bold</b>`);
    await setSetting(page, 'max-tokens', 3);
    await setSetting(page, 'temperature', 0);
    const r = await generateAndWait(page);
    assert.equal(r.count, 3);
    assert.equal(r.text, PAYLOAD.repeat(3), 'payload shown as characters');
    const dom = await page.evaluate(() => ({
      imgs: [...document.querySelectorAll('img')].map((i) => i.getAttribute('src')),
      bolds: document.querySelectorAll('[data-testid="output"] b, #tokens b').length,
      echo: document.querySelector('[data-testid="output"] .prompt-echo').textContent,
      chip: [...document.querySelectorAll('#tokens .chip.out .label')].map((c) => c.textContent),
      outputHTML: document.querySelector('[data-testid="output"]').innerHTML,
    }));
    assert.deepEqual(dom.imgs, ['icons/icon-192.png'], 'no injected <img>');
    assert.equal(dom.bolds, 0);
    assert.equal(dom.echo, `${PAYLOAD} and "quotes" & <b>bold</b>`);
    assert.deepEqual(dom.chip, Array(3).fill('<img·src=x·onerror=alert(1)>'));
    assert.ok(dom.outputHTML.includes('&lt;img src=x onerror=alert(1)&gt;'), 'escaped in the DOM');
  }

  test('model text is rendered as text: an HTML payload from the model shows its characters', async (t) => {
    if (skip) return t.skip(skip);
    const { page, errors } = await open(t);
    await waitReady(page);
    // An HF-style directory by URL.
    await page.fill('#model-url', `${server.url}models/xss/`);
    await page.press('#model-url', 'Enter');
    await checkPayload(page, 'models/xss');
    await page.waitForTimeout(200);
    assert.deepEqual(errors, [], 'no dialog, no errors');
  });

  test('local files: the file picker and drag and drop load a model', async (t) => {
    if (skip) return t.skip(skip);
    const files = writeTinyBloom(path.join(tmp, 'local'), PAYLOAD);
    const { page, errors } = await open(t);
    await waitReady(page);
    await page.setInputFiles('#file-input', files);
    await checkPayload(page, '3 local files');
    // Drop the same files on the drop zone (once the bundled model is back).
    await page.click('#load-bundled');
    await page.waitForFunction(() => document.getElementById('model-name').textContent !== '3 local files');
    await waitReady(page);
    const payload = files.map((f) => ({ name: path.basename(f), b64: readFileSync(f).toString('base64') }));
    const dt = await page.evaluateHandle((list) => {
      const d = new DataTransfer();
      for (const { name, b64 } of list) d.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name));
      return d;
    }, payload);
    await page.dispatchEvent('#drop', 'dragover', { dataTransfer: dt });
    assert.equal(await page.evaluate(() => document.getElementById('drop').classList.contains('over')), true);
    await page.dispatchEvent('#drop', 'drop', { dataTransfer: dt });
    await checkPayload(page, '3 local files');
    // A drop right after a click on "load bundled": the newer load wins,
    // name and model alike (the older one must not write over it).
    await page.click('#load-bundled');
    await page.dispatchEvent('#drop', 'drop', { dataTransfer: dt });
    await checkPayload(page, '3 local files');
    assert.deepEqual(errors, []);
  });

  test('each load error has its own message', async (t) => {
    if (skip) return t.skip(skip);
    const { page, errors } = await open(t);
    await waitReady(page);
    const cases = [];
    // download: nothing at that address
    await page.fill('#model-url', `${server.url}no-such-model/`);
    await page.press('#model-url', 'Enter');
    cases.push(['download', await loadError(page)]);
    // integrity: a chunk whose SHA-256 does not match the manifest
    await page.fill('#model-url', `${server.url}models/tampered/`);
    await page.press('#model-url', 'Enter');
    cases.push(['integrity', await loadError(page)]);
    // format: config.json that is not JSON
    const bad = path.join(tmp, 'bad');
    mkdirSync(bad, { recursive: true });
    writeFileSync(path.join(bad, 'config.json'), '{ not json');
    writeFileSync(path.join(bad, 'tokenizer.json'), '{}');
    writeFileSync(path.join(bad, 'model.safetensors'), Buffer.alloc(16));
    await page.setInputFiles('#file-input', ['config.json', 'tokenizer.json', 'model.safetensors'].map((f) => path.join(bad, f)));
    cases.push(['format', await loadError(page)]);
    // unsupported: a family the engine does not have
    const llama = path.join(tmp, 'llama');
    mkdirSync(llama, { recursive: true });
    writeFileSync(path.join(llama, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'], model_type: 'llama',
      vocab_size: 32, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2 }));
    writeFileSync(path.join(llama, 'tokenizer.json'), '{}');
    writeFileSync(path.join(llama, 'model.safetensors'), emptySafetensors());
    await page.setInputFiles('#file-input', ['config.json', 'tokenizer.json', 'model.safetensors'].map((f) => path.join(llama, f)));
    cases.push(['unsupported', await loadError(page)]);
    for (const [want, got] of cases) {
      assert.equal(got.type, want, `${want}: ${got.text}`);
      assert.match(got.status, new RegExp(`error.*\\(${want}\\)`));
      assert.ok(got.text.length > 40, 'explains what to do');
    }
    // context: more tokens than the model's context holds
    await page.fill('#model-url', `${server.url}models/xss/`);
    await page.press('#model-url', 'Enter');
    await page.waitForFunction(() => document.getElementById('model-name').textContent === 'models/xss');
    await waitReady(page);
    assert.equal(await page.isHidden('#model-error'), true);
    const ctx = Number(/context\s*(\d+)/.exec(await page.textContent('#model-facts'))[1]);
    await page.fill('[data-testid="prompt"]', 'x'.repeat(ctx + 8));
    await setSetting(page, 'max-tokens', 4);
    const r = await generateAndWait(page);
    assert.equal(r.state, 'error');
    assert.equal(await page.getAttribute('#gen-error', 'data-error-type'), 'context', await page.textContent('#gen-error'));
    assert.match(r.status, /ready.*failed \(context\)/);
    // Back to a working model from the picker.
    await page.click('#load-bundled');
    await waitReady(page);
    assert.equal(await page.isHidden('#model-error'), true);
    // The 404 is logged by the browser itself; nothing else may be.
    assert.deepEqual(errors.filter((e) => !/404|Failed to load resource/.test(e)), []);
  });

  test('Stop cancels a load in progress with its own message, and settings survive a reload', async (t) => {
    if (skip) return t.skip(skip);
    // No service worker here, so the test can hold the model's chunks back.
    const { page, errors } = await open(t, { serviceWorkers: 'block' });
    await waitReady(page);
    await setSetting(page, 'max-tokens', 17);
    await setSetting(page, 'temperature', 0.3);
    let release;
    const held = new Promise((r) => { release = r; });
    await page.route(/models\/tampered\/.*\.\d{3}$/, async (route) => { await held; await route.continue().catch(() => {}); });
    t.after(() => release());
    await page.fill('#model-url', `${server.url}models/tampered/`);
    await page.press('#model-url', 'Enter');
    await page.waitForFunction(() => document.querySelector('[data-testid="status"]').dataset.state === 'loading');
    assert.equal(await page.isEnabled('[data-testid="stop"]'), true, 'Stop is available while loading');
    await page.click('[data-testid="stop"]');
    const e = await loadError(page);
    assert.equal(e.type, 'aborted');
    assert.match(e.status, /load cancelled/);
    assert.equal(await page.isDisabled('[data-testid="generate"]'), true);
    release();

    await page.reload();
    await waitReady(page);
    assert.equal(await page.inputValue('[data-testid="max-tokens"]'), '17');
    assert.equal(await page.inputValue('[data-testid="temperature"]'), '0.3');
    assert.deepEqual(errors.filter((x) => !/Failed to load resource|ERR_ABORTED/.test(x)), []);
  });

  for (const [width, height, scheme] of [[390, 844, 'light'], [1280, 900, 'light'], [390, 844, 'dark'], [1280, 900, 'dark']]) {
    test(`layout at ${width} px (${scheme}): no horizontal overflow, screenshot`, async (t) => {
      if (skip) return t.skip(skip);
      const { page, errors } = await open(t, { viewport: { width, height }, colorScheme: scheme, deviceScaleFactor: 1 });
      await waitReady(page);
      await setSetting(page, 'max-tokens', 40);
      await generateAndWait(page);
      const m = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, iw: innerWidth }));
      assert.ok(m.sw <= m.iw, `scrollWidth ${m.sw} > innerWidth ${m.iw}`);
      const wide = await page.evaluate(() => [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > innerWidth + 0.5 && e.getClientRects().length)
        .map((e) => e.id || e.className || e.tagName).slice(0, 5));
      assert.deepEqual(wide, [], 'no element sticks out');
      await page.screenshot({ path: output(`demo-${width}-${scheme}.png`), fullPage: true });
      assert.deepEqual(errors, []);
    });
  }
});

// emptySafetensors is a well-formed safetensors file without tensors.
function emptySafetensors() {
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(8n);
  return Buffer.concat([head, Buffer.from('{}      ')]);
}

async function loadError(page) {
  await page.waitForSelector('#model-error:not([hidden])', { timeout: 60_000 });
  await page.waitForFunction(() => document.querySelector('[data-testid="status"]').dataset.state === 'error');
  return page.evaluate(() => ({
    type: document.getElementById('model-error').dataset.errorType,
    text: document.getElementById('model-error').textContent,
    status: document.querySelector('[data-testid="status"]').textContent,
  }));
}
