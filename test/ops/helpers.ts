// Shared pieces of the operations tests: a log capture, metric reading, a signed request.
// (The CLI as a child process: test/helpers/process.ts; an AppB: test/helpers/stub-appb.ts.)
import { createPrivateKey } from 'node:crypto';
import { createLogger, type Logger } from '../../src/ops/logger.js';
import { signRequest } from '../../src/oauth1/index.js';
import { PUBLIC_BASE } from '../helpers/fixtures.js';

/** A logger whose JSON lines are kept in memory (parsed, and raw for secret scans). */
export function captureLogger(level = 'debug'): { log: Logger; lines: Array<Record<string, unknown>>; raw: string[] } {
  const lines: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  const log = createLogger({
    level,
    destination: {
      write(s: string) {
        raw.push(s);
        for (const l of s.split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      },
    },
  });
  return { log, lines, raw };
}

/** Waits until `check` returns a value (not undefined/false), polling. */
export async function eventually<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The value of one sample of a Prometheus text exposition (labels matched as a subset), or 0. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^([^{ ]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

export async function metrics(adminUrl: string): Promise<string> {
  const r = await fetch(`${adminUrl}/metrics`);
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  return r.text();
}

/** POST request-token signed by `consumerKey` with `privatePem` (as if from publicBaseUrl). */
export async function requestToken(
  publicUrl: string,
  opts: { consumerKey: string; privatePem: string; publicBaseUrl?: string; callback?: string; headers?: Record<string, string> },
): Promise<Response> {
  const path = '/plugins/servlet/oauth/request-token';
  const signed = await signRequest({
    method: 'POST',
    url: `${opts.publicBaseUrl ?? PUBLIC_BASE}${path}`,
    consumerKey: opts.consumerKey,
    signatureMethod: 'RSA-SHA1',
    privateKey: createPrivateKey(opts.privatePem),
    extraOAuth: { oauth_callback: opts.callback ?? 'oob' },
  });
  return fetch(`${publicUrl}${path}`, { method: 'POST', headers: { Authorization: signed.authorization, ...opts.headers } });
}

/** Calls the CLI's main() in this process, capturing what it prints (for help texts and usage errors). */
export async function runMain(main: (argv: string[]) => Promise<number>, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => void (stdout += `${a.join(' ')}\n`);
  console.error = (...a: unknown[]) => void (stderr += `${a.join(' ')}\n`);
  try {
    const code = await main(argv);
    return { code, stdout, stderr };
  } finally {
    console.log = log;
    console.error = error;
  }
}
