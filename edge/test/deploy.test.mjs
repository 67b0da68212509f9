// `wrangler deploy --dry-run` (no account needed) bundles the Worker as it
// would be uploaded, for both environments (assets only, and R2 for the
// model files). Needs wrangler (pinned 4.86.0) and `make -C edge build`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { skipReason, EDGE_DIR, ROOT } from './server.mjs';

const WRANGLER = process.env.ALIBI_WRANGLER || join(ROOT, 'node_modules/.bin/wrangler');
let skip = skipReason() || false;
if (!skip && !existsSync(WRANGLER)) {
  skip = `wrangler not installed (${WRANGLER})`;
  if (process.env.ALIBI_FULL === '1') throw new Error(`ALIBI_FULL=1: ${skip}`);
}
const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1' };

for (const target of ['', 'r2']) {
  test(`wrangler deploy --dry-run${target ? ` --env ${target}` : ''} bundles the Worker`, { skip }, () => {
    const out = mkdtempSync(join(tmpdir(), 'alibi-dry-'));
    try {
      const log = execFileSync(WRANGLER, ['deploy', '--dry-run', '--outdir', out, `--env=${target}`],
        { cwd: EDGE_DIR, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      assert.match(log, /--dry-run: exiting now/);
      assert.match(log, /env\.ASSETS/);
      if (target === 'r2') assert.match(log, /env\.MODELS \(alibi-models\)/);
      const files = readdirSync(out);
      assert.ok(files.includes('worker.js') || files.includes('worker.mjs'), `no bundled entry in ${files}`);
      const wasm = files.filter((f) => f.endsWith('.wasm'));
      assert.equal(wasm.length, 2, `expected edge.wasm and kernels.wasm modules, got ${files}`);
      const goWasm = Math.max(...wasm.map((f) => statSync(join(out, f)).size));
      assert.ok(goWasm > 1 << 20, 'the Go module is missing from the bundle');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
}
