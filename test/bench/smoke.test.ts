// The benchmark's machinery, briefly: `npm run bench -- --smoke` runs every scenario for one
// short round (separate upstream, baseline, gateway CLI, Redis and wrk processes) and exits
// non-zero when any answer was not 2xx, a pre-signed request was reused, or a cost was not
// measured. Speed goals live in the benchmark itself, never here: this only checks it works.
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ROOT } from '../helpers/process.js';

test('npm run bench -- --smoke runs every scenario with only 2xx answers and leaves no process behind', { timeout: 300_000 }, async () => {
  const child = spawn('npm', ['run', 'bench', '--', '--smoke'], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  // A hang guard, not a speed goal: SIGTERM lets the bench stop what it started, then SIGKILL.
  const guard = setTimeout(() => {
    try {
      process.kill(-(child.pid as number), 'SIGTERM');
    } catch {
      /* gone */
    }
    setTimeout(() => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        /* gone */
      }
    }, 5000).unref();
  }, 280_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearTimeout(guard);
  assert.equal(code, 0, `bench --smoke failed:\n${out.slice(-6000)}`);
  assert.match(out, /bench smoke ok: \d+ scenarios/);
  for (const label of ['unsigned', '3LO HMAC-SHA1 → header', '3LO RSA-SHA1 → header', '2LOi RSA-SHA1 → oauth1 RSA-SHA1', '3LO HMAC-SHA1 → oauth1 HMAC-SHA1', '3LO HMAC-SHA1 → jwt', 'workers-2: unsigned', 'Redis memory']) {
    assert.ok(out.includes(label), `the smoke run reports ${label}`);
  }
  // (The column notes mention the word; an invalid scenario shows as **INVALID** and a section.)
  assert.doesNotMatch(out, /\*\*INVALID\*\*|### INVALID runs/);
  // Every process group the bench started (each child, with its own children) is gone.
  const groups = /process groups started \(all killed\): ([\d ]+)/.exec(out)?.[1]?.trim().split(' ').map(Number) ?? [];
  assert.ok(groups.length >= 5, `the bench lists the process groups it started: ${groups.join(' ')}`);
  // SIGKILL was sent as the bench exited; give the kernel a moment to reap what it killed.
  const aliveGroups = () =>
    groups.filter((g) => {
      try {
        process.kill(-g, 0);
        return true;
      } catch {
        return false;
      }
    });
  let alive = aliveGroups();
  for (let i = 0; i < 100 && alive.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    alive = aliveGroups();
  }
  assert.deepEqual(alive, [], 'no process group of the bench is left');
});
