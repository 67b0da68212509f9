import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { start, skipReason, ROOT } from './server.mjs';

const skip = skipReason() || false;
let srv;
let cli; // path of the alibi CLI
let hfModel; // HF directory of the bundled model, for the CLI

before(async () => {
  if (skip) return;
  srv = await start();
  cli = process.env.ALIBI_BIN;
  if (!cli) {
    cli = join(mkdtempSync(join(tmpdir(), 'alibi-edge-test-')), 'alibi');
    execFileSync('go', ['build', '-o', cli, './cmd/alibi'], { cwd: ROOT, stdio: 'inherit' });
  }
  const inSite = join(srv.site, 'models/brown-bloom');
  hfModel = process.env.ALIBI_MODEL_HF
    || (existsSync(join(inSite, 'model.safetensors')) || existsSync(join(inSite, 'model.safetensors.index.json')) ? inSite : join(ROOT, 'models/brown-bloom'));
});
after(async () => { if (srv) await srv.stop(); });

function cliGreedy(prompt, maxTokens) {
  const out = execFileSync(cli, ['run', '--model', hfModel, '--prompt', prompt, '--max-tokens', String(maxTokens), '--temperature', '0', '--json'], { encoding: 'utf8' });
  return JSON.parse(out);
}

async function complete(body, init = {}) {
  const res = await fetch(srv.url + '/v1/completions', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), ...init });
  return res;
}

async function status() {
  return (await fetch(srv.url + '/v1/status')).json();
}

// parseSSE checks the framing of a whole event stream and returns the JSON events.
function parseSSE(text) {
  assert.ok(text.endsWith('data: [DONE]\n\n'), `stream does not end with [DONE]: ${JSON.stringify(text.slice(-80))}`);
  const frames = text.slice(0, -2).split('\n\n');
  const events = [];
  frames.forEach((f, i) => {
    assert.ok(f.startsWith('data: ') && !f.includes('\n'), `frame ${i} badly framed: ${JSON.stringify(f)}`);
    const payload = f.slice(6);
    if (payload === '[DONE]') { assert.equal(i, frames.length - 1); return; }
    events.push(JSON.parse(payload));
  });
  return events;
}

const PROMPTS = ['The', 'It was a cold morning and', 'In the first place, the committee'];

test('cold vs warm completion latency (one Go instance per isolate, model loaded once)', { skip }, async (t) => {
  const before = await status();
  assert.equal(before.model_loads, 0, 'the model must not be loaded before the first completion');
  const times = [];
  for (let i = 0; i < 4; i++) {
    const t0 = performance.now();
    const res = await complete({ prompt: 'The', max_tokens: 8, temperature: 0 });
    assert.equal(res.status, 200);
    await res.json();
    times.push(performance.now() - t0);
  }
  const st = await status();
  assert.equal(st.model_loads, 1, 'model loaded more than once');
  assert.equal(st.go_instances, 1, 'more than one Go instance (syumai/workers stock glue behaviour)');
  const msg = `cold ${times[0].toFixed(0)} ms (model load ${st.model_load_ms} ms), warm ${times.slice(1).map((x) => x.toFixed(0)).join('/')} ms for 8 tokens`;
  t.diagnostic(msg);
  console.log('# edge latency:', msg);
  assert.ok(Math.min(...times.slice(1)) < times[0], 'warm requests are not faster than the cold one');
});

test('greedy output equals `alibi run --temperature 0`', { skip }, async () => {
  for (const prompt of PROMPTS) {
    const want = cliGreedy(prompt, 24);
    const res = await complete({ model: 'brown-bloom', prompt, max_tokens: 24, temperature: 0 });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    const r = await res.json();
    assert.equal(r.object, 'text_completion');
    assert.match(r.id, /^cmpl-/);
    assert.deepEqual(r.choices[0].token_ids, want.ids, prompt);
    assert.equal(r.choices[0].text, want.text, prompt);
    assert.equal(r.usage.completion_tokens, want.ids.length);
    assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + want.ids.length);
    assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  }
});

test('stream: SSE framing, token by token, same tokens as the CLI', { skip }, async () => {
  const prompt = PROMPTS[1];
  const want = cliGreedy(prompt, 20);
  const res = await complete({ prompt, max_tokens: 20, temperature: 0, stream: true, stream_options: { include_usage: true } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/event-stream/);
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let text = '';
  let reads = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    reads++;
    text += dec.decode(value, { stream: true });
  }
  const events = parseSSE(text);
  const tokens = events.slice(0, -1);
  assert.equal(tokens.length, want.ids.length);
  for (const ev of tokens) {
    assert.equal(ev.object, 'text_completion');
    assert.equal(ev.choices[0].token_ids.length, 1);
    assert.equal(ev.choices[0].finish_reason, null);
  }
  assert.deepEqual(tokens.flatMap((e) => e.choices[0].token_ids), want.ids);
  assert.equal(tokens.map((e) => e.choices[0].text).join(''), want.text);
  const last = events.at(-1);
  assert.ok(['stop', 'length'].includes(last.choices[0].finish_reason));
  assert.equal(last.usage.completion_tokens, want.ids.length);
  assert.ok(reads > 1, `the stream arrived in ${reads} read(s), not token by token`);
});

test('20 concurrent completion requests are all answered correctly', { skip }, async () => {
  const prompt = PROMPTS[2];
  const want = cliGreedy(prompt, 12);
  const loadsBefore = (await status()).model_loads;
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
    const stream = i % 2 === 0;
    const res = await complete({ prompt, max_tokens: 12, temperature: 0, stream });
    assert.equal(res.status, 200, `request ${i}`);
    if (!stream) return (await res.json()).choices[0].token_ids;
    return parseSSE(await res.text()).slice(0, -1).flatMap((e) => e.choices[0].token_ids);
  }));
  const ms = performance.now() - t0;
  results.forEach((ids, i) => assert.deepEqual(ids, want.ids, `request ${i}`));
  assert.equal((await status()).model_loads, loadsBefore);
  console.log(`# edge: 20 concurrent requests x 12 tokens in ${ms.toFixed(0)} ms`);
});

test('limits answer JSON errors', { skip }, async () => {
  const cases = [
    [{ method: 'GET' }, 405, 'method_not_allowed'],
    [{ method: 'POST', body: '{"prompt": "x"' }, 400, 'invalid_json'],
    [{ method: 'POST', body: '{"prompt": 5}' }, 400, 'invalid_type'],
    [{ method: 'POST', body: JSON.stringify({ prompt: 'x', temperature: 9 }) }, 400, 'invalid_value'],
    [{ method: 'POST', body: JSON.stringify({ prompt: 'x'.repeat(70000) }) }, 413, 'body_too_large'],
    [{ method: 'POST', body: JSON.stringify({ prompt: 'word '.repeat(2000) }) }, 413, 'prompt_too_long'],
    [{ method: 'POST', body: JSON.stringify({ prompt: 'the '.repeat(1000) }) }, 413, 'prompt_too_long'],
    [{ method: 'POST', body: JSON.stringify({ prompt: Array(600).fill(5) }) }, 413, 'prompt_too_long'],
    [{ method: 'POST', body: JSON.stringify({ prompt: 'x', model: 'gpt-4' }) }, 404, 'model_not_found'],
  ];
  for (const [init, code, errCode] of cases) {
    const res = await fetch(srv.url + '/v1/completions', { headers: { 'Content-Type': 'application/json' }, ...init });
    assert.equal(res.status, code, `${init.method} ${String(init.body).slice(0, 40)}`);
    assert.equal(res.headers.get('content-type'), 'application/json');
    const e = await res.json();
    assert.equal(e.error.code, errCode);
    assert.ok(e.error.message.length > 0);
  }
  // max_tokens above the cap (256) is capped.
  const res = await complete({ prompt: 'The', max_tokens: 100000, temperature: 0 });
  assert.equal(res.status, 200);
  const r = await res.json();
  assert.ok(r.usage.completion_tokens <= 256, `completion_tokens ${r.usage.completion_tokens}`);
  // CORS preflight for the API.
  const pre = await fetch(srv.url + '/v1/completions', { method: 'OPTIONS', headers: { Origin: 'https://x.example', 'Access-Control-Request-Method': 'POST' } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), '*');
});

test('a client that disconnects stops generation', { skip }, async (t) => {
  const st0 = await status();
  const ctl = new AbortController();
  const res = await complete({ prompt: 'The', max_tokens: 256, temperature: 0.8, seed: 1, stream: true }, { signal: ctl.signal });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  let got = '';
  while ((got.match(/\n\n/g) || []).length < 2) {
    const { value, done } = await reader.read();
    if (done) break;
    got += new TextDecoder().decode(value);
  }
  ctl.abort();
  const settle = async () => {
    let prev = -1;
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const s = await status();
      if (s.generated_tokens === prev && s.canceled > st0.canceled) return s;
      prev = s.generated_tokens;
    }
    return status();
  };
  const st1 = await settle();
  t.diagnostic(JSON.stringify({ st0, st1 }));
  assert.ok(st1.canceled > st0.canceled, 'the request was not counted as canceled');
  const generated = st1.generated_tokens - st0.generated_tokens;
  assert.ok(generated < 256, `generation ran to the end (${generated} tokens) after the client left`);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await status()).generated_tokens, st1.generated_tokens, 'tokens still being generated');
  // The isolate goes on serving.
  const next = await complete({ prompt: 'The', max_tokens: 2, temperature: 0 });
  assert.equal(next.status, 200);
  await next.json();
});

test('a request aborted while queued leaves the line; the next ones are served', { skip }, async () => {
  const body = (extra) => JSON.stringify({ prompt: 'The', max_tokens: 256, temperature: 0.9, seed: 3, ...extra });
  const post = (b, signal) => fetch(srv.url + '/v1/completions', { method: 'POST', body: b, signal });
  const a = post(body({ stream: true }));
  await new Promise((r) => setTimeout(r, 20));
  const ctl = new AbortController();
  const b = post(body({}), ctl.signal).catch((e) => e);
  await new Promise((r) => setTimeout(r, 20));
  ctl.abort();
  const c = post(JSON.stringify({ prompt: 'The', max_tokens: 3, temperature: 0 }));
  const ra = await a;
  assert.equal(ra.status, 200);
  parseSSE(await ra.text());
  assert.ok((await b) instanceof Error, 'the aborted request was answered');
  const rc = await c;
  assert.equal(rc.status, 200);
  assert.equal((await rc.json()).choices[0].token_ids.length > 0, true);
});
