import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { start, skipReason, EDGE_DIR } from './server.mjs';

const skip = skipReason() || false;
let srv;
before(async () => { if (!skip) srv = await start(); });
after(async () => { if (srv) await srv.stop(); });

// rawGet sends the request line as is (fetch would normalize the path).
function rawGet(url, target) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(port), hostname, () => {
      sock.write(`GET ${target} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`);
    });
    const parts = [];
    sock.on('data', (d) => parts.push(d));
    sock.on('end', () => {
      const raw = Buffer.concat(parts).toString('latin1');
      const status = Number((raw.match(/^HTTP\/1\.1 (\d{3})/) || [])[1] || 0);
      resolve({ status, raw });
    });
    sock.on('error', reject);
    sock.setTimeout(10000, () => { sock.destroy(); reject(new Error('timeout ' + target)); });
  });
}

const ESCAPES = [
  '/../../../../etc/passwd', '/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/%2E%2E/%2E%2E/etc/passwd', '/..%2f..%2f..%2fetc%2fpasswd',
  '/%252e%252e/%252e%252e/etc/passwd', '/..\\..\\..\\etc\\passwd', '/%5c..%5c..%5cetc%5cpasswd', '/models/../../config.capnp',
  '/models/%2e%2e/%2e%2e/config.capnp', '/config.capnp', '/../config.capnp', '/%2e%2e/config.capnp', '/index.html%00.png',
  '/index.html\u0000', '//etc/passwd', '///etc/passwd', '/C:/Windows/win.ini', '/c:%5cboot.ini', '/.git/config', '/.env',
  '/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd', '/models/brown-bloom/../../../Makefile', '/build/site-index.json',
  '/site-index.json', '/edge.wasm', '/worker.mjs', '/%2e/index.html/..', '/./../Makefile', 'http://127.0.0.1/../etc/passwd',
];

test('path escapes never leave the served root', { skip }, async () => {
  const capnp = readFileSync(join(EDGE_DIR, 'config.capnp'), 'latin1');
  const makefile = readFileSync(join(EDGE_DIR, 'Makefile'), 'latin1');
  for (const target of ESCAPES) {
    const { status, raw } = await rawGet(srv.url, target);
    const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
    assert.ok(status >= 300 && status !== 0, `${JSON.stringify(target)}: status ${status}`);
    assert.doesNotMatch(body, /root:.*:0:0:/, target);
    assert.ok(!body.includes(capnp.slice(0, 200)) && !body.includes('using Workerd'), `${target}: config.capnp leaked`);
    assert.ok(!body.includes(makefile.slice(0, 100)), `${target}: Makefile leaked`);
    assert.doesNotMatch(body, /goroutine|panic|\.go:\d/, `${target}: internals in the body`);
  }
});
