// The approval page in a real browser (headless Chromium): sign in, see who asks, press Allow,
// arrive at AppA's callback with a verifier; the exchanged token is bound to the user who clicked.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { resources } from '../helpers/cleanup.js';
import { requirePrerequisites } from '../helpers/prerequisites.js';
import { ROOT } from '../helpers/process.js';
import { DANCE, startHarness, type Harness } from '../helpers/harness.js';
import { npmConsumer } from '../helpers/clients.js';
import { LINK_ID } from '../helpers/fixtures.js';

describe('approval in headless Chromium', () => {
  let h: Harness;
  let chromium: Browser;
  // Whatever `before` started is closed by `after`, also when `before` fails half-way (a harness
  // left open when Chromium could not start kept the test process, and `npm test`, alive forever).
  const res = resources();
  before(async () => {
    requirePrerequisites('chromium');
    h = res.add(await startHarness({ ...DANCE, store: 'redis' }), (x) => x.close());
    chromium = res.add(await launchChromium(), (b) => b.close());
  });
  after(() => res.close());

  it('signs in, clicks Allow, lands on the callback with a verifier, and the token is bound to that user', async () => {
    const callback = `${h.appACallback}?applicationLinkID=${LINK_ID}`;
    const consumer = npmConsumer(h, 'rsa', callback);
    const rt = await consumer.requestToken();

    const context = await chromium.newContext();
    const page = await context.newPage();
    const cspViolations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });

    await page.goto(`${h.url}/plugins/servlet/oauth/authorize?oauth_token=${encodeURIComponent(rt.token)}`);
    assert.match(new URL(page.url()).pathname, /\/plugins\/servlet\/applink-gateway\/login$/);
    await page.getByLabel('User name').fill('alice');
    await page.getByLabel('Password').fill('alice-pw');
    await page.getByRole('button', { name: 'Sign in' }).click();

    await page.waitForURL(/\/plugins\/servlet\/oauth\/authorize\?/);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Allow AppA to access your account?');
    assert.match((await page.locator('main').textContent()) ?? '', /as alice/);
    mkdirSync(path.join(ROOT, '.tmp'), { recursive: true });
    await page.screenshot({ path: path.join(ROOT, '.tmp', 'approval.png'), fullPage: true });
    // Keyboard users reach Allow before Deny.
    await page.getByRole('button', { name: 'Allow' }).focus();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement && document.activeElement.getAttribute("name")'), 'deny');

    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((u) => u.href.startsWith(h.appACallback));
    const landed = new URL(page.url());
    assert.equal(landed.searchParams.get('applicationLinkID'), LINK_ID);
    assert.equal(landed.searchParams.get('oauth_token'), rt.token);
    const verifier = landed.searchParams.get('oauth_verifier') ?? '';
    assert.ok(verifier.length >= 16);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Back at AppA');
    assert.ok(h.callback.hits.some((u) => u.searchParams.get('oauth_verifier') === verifier));
    assert.deepEqual(cspViolations, [], 'the page works under its own Content-Security-Policy');
    await context.close();

    const at = await consumer.accessToken(rt.token, rt.secret, verifier);
    const stored = await h.store.getAccessToken(at.token);
    assert.equal(stored?.user, 'alice');
    assert.equal(stored?.linkId, LINK_ID);
  });
});
