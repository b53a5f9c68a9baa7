// The demo: `npm run demo` walks the Trust flow to the end and exits 0; the same walk in
// process leaves complete, secret-free logs with the audit trail; `demo --serve` works in a
// real (headless) browser and stops cleanly.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { runDemo } from '../../src/demo/run.js';
import { launchChromium } from '../helpers/browser.js';
import { requirePrerequisites } from '../helpers/prerequisites.js';
import { ROOT } from '../helpers/process.js';
import { captureLogger } from './helpers.js';

describe('npm run demo', () => {
  it('walks every step of the Trust flow and exits 0', async () => {
    const child = spawn('npm', ['run', '--silent', 'demo'], { cwd: ROOT, env: { ...process.env, REDIS_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    clearTimeout(timer);
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    const titles = ['Trust:', 'Sign-in:', 'Token issued:', 'Approval:', 'Redirect:', 'Exchange:', 'Signed call:', '2LOi:', 'Refused:'];
    titles.forEach((title, i) => assert.match(stdout, new RegExp(`^ ?${i + 1}\\. ${title}`, 'm'), `step ${i + 1} printed`));
    assert.match(stdout, /oauth_verifier=/);
    assert.match(stdout, /200 \{"name":"alice"\}/);
    assert.match(stdout, /200 \{"name":"bob"\}/);
    assert.match(stdout, /Demo finished: every step succeeded\.\n$/);
  });
});

describe('the demo walk-through in process', () => {
  it('logs every request and audit event as JSON, with no credential in any line', async () => {
    const cap = captureLogger('info');
    const lines: string[] = [];
    const result = await runDemo({ out: (l) => lines.push(l), log: cap.log });
    assert.equal(result.ok, true, lines.join('\n'));
    assert.ok(result.secrets.length >= 4, 'request token, verifier, access token and secret were seen');

    const raw = cap.raw.join('');
    for (const secret of result.secrets) assert.ok(!raw.includes(secret), `a credential (${secret.slice(0, 4)}…) reached the logs`);
    assert.ok(!/JSESSIONID=[A-Za-z0-9_-]{8,}/.test(raw), 'no session cookie value');

    const audit = cap.lines.filter((l) => l.audit === true).map((l) => l.event);
    for (const e of ['token_issued', 'token_approved', 'token_exchanged', 'impersonation']) assert.ok(audit.includes(e), `audit event ${e} (got ${audit.join(', ')})`);
    for (const l of cap.lines.filter((x) => x.audit === true)) assert.equal(typeof l.handle === 'string' || l.event === 'impersonation', true);

    const requests = cap.lines.filter((l) => l.msg === 'request');
    const threeLo = requests.find((l) => l.flow === '3LO');
    assert.ok(threeLo, 'a 3LO request line');
    assert.equal(threeLo.user, 'alice');
    assert.equal(threeLo.consumerKey, 'demo-appa');
    assert.equal(threeLo.upstreamStatus, 200);
    assert.equal(threeLo.outcome, 'ok');
    assert.equal(typeof threeLo.tokenHandle, 'string');
    const twoLoi = requests.find((l) => l.flow === '2LOi' && l.user === 'bob');
    assert.ok(twoLoi, 'a 2LOi request line as bob');
    const refused = requests.find((l) => l.problem === 'permission_denied');
    assert.ok(refused, 'the refused 2LOi request line');
    assert.equal(refused.outcome, 'refused');
    const dance = requests.filter((l) => l.flow === 'dance').map((l) => l.path);
    for (const p of ['/plugins/servlet/applinks/oauth/login-dance/authorize', '/plugins/servlet/oauth/authorize', '/plugins/servlet/oauth/access-token']) assert.ok(dance.includes(p), `dance request ${p} logged`);
    for (const l of requests) {
      assert.equal(typeof l.requestId, 'string');
      assert.equal(typeof l.durationMs, 'number');
    }
  });
});

describe('applink-gateway demo --serve', () => {
  it('keeps running for a browser: Trust, sign in, Allow, and AppB answers as the user; Ctrl-C stops it', async () => {
    // Before the demo is started: without Chromium this fails at once.
    requirePrerequisites('chromium');
    // The demo prints text, not JSON: watch its stdout for the URL.
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'demo', '--serve'], { cwd: ROOT, env: { ...process.env, REDIS_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    const exited = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL printed: ${stdout}`)), 60_000);
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          const m = /open (http:\/\/127\.0\.0\.1:\d+)\/ and press/.exec(stdout);
          if (m?.[1]) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
        void exited.then((c) => reject(new Error(`exited ${c}: ${stdout}`)));
      });
      const browser = await launchChromium();
      try {
        const page = await browser.newPage();
        await page.goto(`${url}/`);
        await page.click('#trust');
        await page.waitForSelector('input[name=os_username]');
        await page.fill('input[name=os_username]', 'bob');
        await page.fill('input[name=os_password]', 'bob');
        await page.click('button[type=submit]');
        await page.waitForSelector('button[name=approve]');
        assert.match(await page.textContent('body') ?? '', /Allow Sample AppA to access your account\?/);
        await page.click('button[name=approve]');
        await page.waitForSelector('#result');
        assert.equal(await page.getAttribute('#result', 'data-user'), 'bob');
      } finally {
        await browser.close();
      }
      child.kill('SIGINT');
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
