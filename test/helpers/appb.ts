// The test AppB (test/helpers/appb.py, run by /usr/bin/python3): it checks what the gateway
// forwards with implementations other than the gateway's own (oauthlib for OAuth 1.0a, Python
// hmac for header mode, PyJWT for jwt mode) and answers with the user it ran as.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PYTHON, requirePrerequisites } from './prerequisites.js';

export { PYTHON };
const SCRIPT = path.join(import.meta.dirname, 'appb.py');

/** A consumer AppB knows (an incoming application link at AppB). */
export interface AppBConsumer {
  /** RSA-SHA1: the consumer's public key (PEM). */
  rsaPublicKeyPem?: string;
  /** HMAC-SHA1: the consumer secret. */
  hmacSecret?: string;
  /** 2LOi allowed: xoauth_requestor_id names the user. */
  impersonation?: boolean;
  /** Plain 2LO runs as this user. */
  executeAs?: string;
}

export interface TestAppBOptions {
  /** By consumer key: the gateway's own key in oauth1 mode, and AppB's own links (pass-through). */
  consumers?: Record<string, AppBConsumer>;
  /** header mode: the shared secret and the user header name. */
  header?: { secret: string; userHeader?: string };
  /** jwt mode: verification key and expected claims. */
  jwt?: { publicKeyPem: string; algorithm: 'RS256' | 'EdDSA'; audience: string; issuer: string };
  /** realm of AppB's own OAuth refusals. */
  realm?: string;
}

/** What AppB saw of one request (also its JSON answer). */
export interface AppBRequest {
  method: string;
  /** The request-target exactly as received. */
  target: string;
  path: string;
  query: string;
  queryPairs: Array<[string, string]>;
  headers: Array<[string, string]>;
  bodyLength: number;
  bodySha256: string;
  /** The body as text when at most 64 KiB. */
  bodyText: string | null;
  /** Set when AppB accepted the credentials (or there were none). */
  auth?: { scheme: 'oauth' | 'header' | 'jwt' | 'none'; verified: boolean; user: string | null; consumerKey?: string; baseString?: string };
  /** The user the request ran as at AppB (null: anonymous). */
  user?: string | null;
  jwtClaims?: Record<string, unknown>;
  /** Set when AppB refused the credentials (401 with its own OAuth problem for OAuth). */
  refused?: { status: number; problem: string | null; detail: string };
}

export interface TestAppB {
  url: string;
  port: number;
  /** Every request received, in order. */
  requests: AppBRequest[];
  /** Values of one header (case-insensitive) of a recorded request. */
  header(r: AppBRequest, name: string): string[];
  /** AppB's stderr so far (Python tracebacks), for failure messages. */
  stderr(): string;
  stop(): Promise<void>;
}

export async function startTestAppB(opts: TestAppBOptions = {}): Promise<TestAppB> {
  // appb.py verifies with oauthlib and PyJWT: without them it could not start.
  requirePrerequisites('python:oauthlib,jwt');
  const dir = mkdtempSync(path.join(tmpdir(), 'appb-'));
  const configFile = path.join(dir, 'appb.json');
  writeFileSync(configFile, JSON.stringify(opts));
  const child: ChildProcess = spawn(PYTHON, [SCRIPT, configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  const requests: AppBRequest[] = [];
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const started = new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const timer = setTimeout(() => reject(new Error(`test AppB did not start: ${stderr}`)), 15_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    lines.on('line', (line) => {
      if (line.startsWith('LISTENING ')) {
        clearTimeout(timer);
        resolve(Number(line.slice('LISTENING '.length)));
      } else if (line.startsWith('REQUEST ')) {
        requests.push(JSON.parse(line.slice('REQUEST '.length)) as AppBRequest);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`test AppB exited: ${stderr}`));
    });
  });
  let port: number;
  try {
    port = await started;
  } catch (err) {
    // Not started: the child (and its pipes) would keep the test process alive.
    child.kill('SIGKILL');
    if (child.pid !== undefined) await exited;
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    header(r, name) {
      return r.headers.filter(([k]) => k.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
    },
    stderr: () => stderr,
    async stop() {
      process.off('exit', onExit);
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
