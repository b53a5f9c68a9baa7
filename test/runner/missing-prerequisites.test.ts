// `npm test` with a prerequisite missing ends with a failure that names the install command,
// instead of hanging (a harness left open by a failed `before` once kept it alive forever).
// Each case runs the real runner (test/run.ts) on one test file with one tool made unavailable
// through the override the helpers honour.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { ROOT } from '../helpers/process.js';
import { tempDir } from '../helpers/fixtures.js';

// Far above what a failing prerequisite check takes: only a hang gets here.
const HANG_MS = 240_000;

interface RunResult {
  code: number | null;
  output: string;
  hung: boolean;
}

function runTests(fileFilter: string, env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // Without NODE_TEST_CONTEXT: with it, the inner node --test would take itself for a nested run and run nothing.
    const { NODE_TEST_CONTEXT: _, ...outer } = process.env;
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/run.ts', fileFilter], { cwd: ROOT, env: { ...outer, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let hung = false;
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, HANG_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, hung });
    });
  });
}

function assertFailedNaming(r: RunResult, file: string, install: string): void {
  assert.equal(r.hung, false, `the run did not end:\n${r.output}`);
  assert.notEqual(r.code, 0, r.output);
  assert.ok(r.output.includes(install), `no \`${install}\` in:\n${r.output}`);
  assert.ok(r.output.includes(file), `the failing file is not named:\n${r.output}`);
  assert.match(r.output, /missing test prerequisite/);
}

describe('npm test with a prerequisite missing', () => {
  it('Chromium: the browser test fails at once naming `apt-get install -y chromium`, and the run ends', async () => {
    const r = await runTests('provider/browser.test', { CHROMIUM_PATH: '/nonexistent/chromium' });
    assertFailedNaming(r, 'browser.test.ts', 'apt-get install -y chromium');
  });

  it('python3 without requests-oauthlib and jira: the Python client tests fail naming their packages', async () => {
    // The system python3 without its site packages (-S): there, but the libraries are not importable.
    const t = tempDir('applink-nopy-');
    try {
      const python = t.write('python3', '#!/bin/sh\nexec /usr/bin/python3 -S "$@"\n');
      chmodSync(python, 0o755);
      const r = await runTests('provider/python.test', { PYTHON_BIN: python });
      assertFailedNaming(r, 'python.test.ts', 'apt-get install -y python3-requests-oauthlib python3-jira');
    } finally {
      t.cleanup();
    }
  });

  it('no python3 at all: the proxy tests (their AppB is Python) fail naming the install command', async () => {
    const r = await runTests('proxy/body-timeout.test', { PYTHON_BIN: '/nonexistent/python3' });
    assertFailedNaming(r, 'body-timeout.test.ts', 'apt-get install -y python3 python3-oauthlib python3-jwt');
  });

  it('redis-server: the run stops before any test, naming `apt-get install -y redis-server`', async () => {
    const r = await runTests('store/memory.test', { REDIS_URL: '', REDIS_SERVER_BIN: '/nonexistent/redis-server' });
    assert.equal(r.hung, false, r.output);
    assert.equal(r.code, 1, r.output);
    assert.match(r.output, /cannot start the ephemeral redis-server: redis-server not found \(\/nonexistent\/redis-server\): install it with `apt-get install -y redis-server`/);
  });
});
