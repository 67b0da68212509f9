// examples/ts: a TypeScript consumer of the packed alibi-wasm (typescript
// pinned by the example's package-lock.json). src/ uses every public API of
// alibi.d.ts and must pass `tsc --noEmit --strict`; misuse/ must fail with
// exactly the errors its `// error TSxxxx` markers name.
//   node --test e2e/package-ts.test.mjs
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { need } from './lib/harness.mjs';
import { pack, installExample, gateReason, offline } from './package-common.mjs';

let missing = '';
let work;
let pkgDir;

before(async () => {
  missing = gateReason();
  if (missing) return;
  const p = await pack();
  pkgDir = p.dir;
  try {
    work = installExample('ts', p.tgz);
  } catch (e) {
    if (!offline(e)) throw e;
    missing = `npm registry unreachable: ${e.message.split('\n')[0]}`;
  }
});

function tsc(project) {
  const r = spawnSync(path.join(work, 'node_modules/.bin/tsc'), ['-p', project, '--noEmit', '--strict', '--pretty', 'false'],
    { cwd: work, encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

test('ts: a strict consumer using every public API compiles against alibi.d.ts', async (t) => {
  if (!need(t, !missing, missing)) return;
  const installed = fs.readFileSync(path.join(work, 'node_modules/alibi-wasm/alibi.d.ts'), 'utf8');
  assert.equal(installed, fs.readFileSync(path.join(pkgDir, 'alibi.d.ts'), 'utf8'), 'the packed alibi.d.ts is installed');
  const r = tsc('tsconfig.json');
  assert.equal(r.status, 0, `tsc failed:\n${r.out}`);
});

test('ts: the consumer mentions every exported name and every member of the exported interfaces', async (t) => {
  if (!need(t, !missing, missing)) return;
  const dts = fs.readFileSync(path.join(pkgDir, 'alibi.d.ts'), 'utf8');
  const usage = fs.readFileSync(path.join(work, 'src/usage.ts'), 'utf8');
  const names = [...dts.matchAll(/^export (?:declare )?(?:type|interface|class|const|function) (\w+)/gm)].map((m) => m[1]);
  assert.ok(names.length >= 15, `exports found: ${names}`);
  const unused = names.filter((n) => !new RegExp(`\\b${n}\\b`).test(usage));
  assert.deepEqual(unused, [], 'exported names not used by examples/ts/src/usage.ts');
  const members = [];
  for (const m of dts.matchAll(/^export interface (\w+)[^{]*\{([\s\S]*?)^\}/gm)) {
    for (const mm of m[2].matchAll(/^ {2}(?:readonly )?(\w+)\??[:(]/gm)) members.push(`${m[1]}.${mm[1]}`);
  }
  assert.ok(members.length >= 50, `members found: ${members.length}`);
  const missingMembers = members.filter((n) => !new RegExp(`\\b${n.split('.')[1]}\\b`).test(usage));
  assert.deepEqual(missingMembers, [], 'interface members not used by examples/ts/src/usage.ts');
});

test('ts: deliberate misuse (wrong option types) fails to compile, at each marked line', async (t) => {
  if (!need(t, !missing, missing)) return;
  const file = 'misuse/wrong-options.ts';
  const lines = fs.readFileSync(path.join(work, file), 'utf8').split('\n');
  const want = lines.map((l, i) => [i + 1, (/\/\/ error (TS\d+)/.exec(l) || [])[1]]).filter(([, c]) => c).map(([n, c]) => `${n} ${c}`);
  assert.ok(want.length >= 5, 'markers');
  const r = tsc('tsconfig.misuse.json');
  assert.notEqual(r.status, 0, 'tsc must reject the misuse');
  const got = [...r.out.matchAll(/wrong-options\.ts\((\d+),\d+\): error (TS\d+)/g)].map((m) => `${m[1]} ${m[2]}`);
  assert.deepEqual(got, want, `tsc output:\n${r.out}`);
});
