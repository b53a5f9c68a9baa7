// Real Python clients, as users run them: the complete 1.0a dance with requests-oauthlib, and
// jirashell's own OAuth 1.0 `oauth_dance` (python-jira). The approval in between is done over
// HTTP with a demo sign-in cookie.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { rsaPair, tempDir, LINK_ID } from '../helpers/fixtures.js';
import { PYTHON, requirePrerequisites } from '../helpers/prerequisites.js';
import { DANCE, startHarness, type Harness } from '../helpers/harness.js';
import { Browser, demoLogin, decide } from '../helpers/clients.js';

const SCRIPT = path.join(import.meta.dirname, 'requests_oauthlib_dance.py');
const JIRASHELL = path.join(import.meta.dirname, 'jirashell_oauth_dance.py');

describe('real Python clients against the gateway', () => {
  let h: Harness;
  const t = tempDir('applink-py-');
  before(async () => {
    // Missing clients fail here at once, before anything is started.
    requirePrerequisites('python:requests_oauthlib,jira');
    h = await startHarness({ ...DANCE, store: 'redis' });
  });
  after(async () => {
    t.cleanup();
    await h?.close();
  });

  it('fetch_request_token → authorization_url → parse_authorization_response → fetch_access_token', async () => {
    const keyFile = t.write('app-a.pem', rsaPair(0).privatePem);
    const callback = `${h.appACallback}?applicationLinkID=${LINK_ID}`;
    const child = spawn(PYTHON, [SCRIPT, h.url, 'app-a', keyFile, callback], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    try {
      const first = await lines.next();
      assert.ok(!first.done, `python ended early: ${stderr}`);
      const { authorize, confirmed } = JSON.parse(first.value) as { authorize: string; confirmed: string };
      assert.equal(confirmed, 'true');
      const token = new URL(authorize).searchParams.get('oauth_token') ?? '';

      const browser = new Browser(h.url);
      await demoLogin(browser, 'alice');
      const answer = await decide(browser, token);
      assert.equal(answer.status, 302);
      child.stdin.write(`${answer.location}\n`);

      const second = await lines.next();
      assert.ok(!second.done, `python failed: ${stderr}`);
      const access = JSON.parse(second.value) as Record<string, string>;
      assert.equal(await exited, 0, stderr);
      const stored = await h.store.getAccessToken(access.oauth_token ?? '');
      assert.equal(stored?.user, 'alice');
      assert.equal(stored?.secret, access.oauth_token_secret);
      assert.ok(access.oauth_session_handle && access.oauth_expires_in);
    } finally {
      clearTimeout(timer);
      child.kill();
    }
  });

  it("jirashell's oauth_dance (OAuth 1.0, no callback) on a link with allowOAuth10", async () => {
    h.reconfigure((obj) => {
      (obj.links as Array<Record<string, unknown>>)[0]!.allowOAuth10 = true;
    });
    const keyFile = t.write('app-a-jirashell.pem', rsaPair(0).privatePem);
    const child = spawn(PYTHON, [JIRASHELL, h.url, 'app-a', keyFile], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let stdout = '';
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    try {
      const authorize = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          const m = /\t(http\S+\/plugins\/servlet\/oauth\/authorize\?oauth_token=\S+)/.exec(stdout);
          if (m?.[1] && stdout.includes('(y/n)')) resolve(m[1]);
        });
        child.on('exit', () => reject(new Error(`jirashell ended early: ${stdout} ${stderr}`)));
      });
      const token = new URL(authorize).searchParams.get('oauth_token') ?? '';
      assert.equal((await h.store.getRequestToken(token))?.version, '1.0');
      const browser = new Browser(h.url);
      await demoLogin(browser, 'bob');
      const answer = await decide(browser, token);
      assert.equal(answer.status, 200);
      assert.match(answer.text, /Return to AppA and continue there/);
      child.stdin.write('y\n');
      assert.equal(await exited, 0, stderr);
      const access = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, string>;
      assert.equal((await h.store.getAccessToken(access.access_token ?? ''))?.user, 'bob');
    } finally {
      clearTimeout(timer);
      child.kill();
    }
  });
});
