// Headless Chromium for browser tests (playwright-core drives the system's /usr/bin/chromium).
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM_PATH, requirePrerequisites } from './prerequisites.js';

export { CHROMIUM_PATH };

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches headless Chromium; throws with the install hint when it is missing. */
export async function launchChromium(): Promise<Browser> {
  requirePrerequisites('chromium');
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS, headless: true, timeout: 30_000 });
}
