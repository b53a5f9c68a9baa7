// Test fixtures: key pairs and configuration directories made at test time (no keys in git).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { resolveConfig, type RuntimeConfig } from '../../src/config/load.js';

export interface RsaPair {
  privatePem: string;
  publicPem: string;
}

let cached: RsaPair[] = [];
/** RSA-2048 pairs, generated once per process (generation is slow). */
export function rsaPair(index = 0): RsaPair {
  while (cached.length <= index) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    cached = [
      ...cached,
      {
        privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      },
    ];
  }
  return cached[index] as RsaPair;
}

/** A temporary directory with helpers to write files into it. */
export function tempDir(prefix = 'applink-test-') {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return {
    dir,
    write(name: string, content: string): string {
      const file = path.join(dir, name);
      writeFileSync(file, content);
      return file;
    },
    cleanup(): void {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// The fixture's names and secrets, shared by every test that talks about them.
/** app-a's link (RSA-SHA1). */
export const LINK_ID = '0f9a3c1e-5b7d-4c1a-9e2f-3a4b5c6d7e8f';
/** app-h's link (HMAC-SHA1). */
export const HMAC_LINK_ID = 'link-hmac';
/** app-h's consumer secret (HMAC-SHA1). */
export const APP_H_SECRET = 'hmac-secret-of-app-h';
/** The gateway's consumer secret at AppB (oauth1 identity, HMAC-SHA1). */
export const GATEWAY_HMAC_SECRET = 'gateway-consumer-secret-for-appb';
/** server.publicBaseUrl of the fixture: what AppA signs. */
export const PUBLIC_BASE = 'http://gateway.test';
/** AppA's OAuth callback path (the login dance's access step). */
export const ACCESS_PATH = '/plugins/servlet/applinks/oauth/login-dance/access';
/** The audience and issuer of the gateway's JWTs (jwt identity). */
export const JWT_AUDIENCE = 'https://appb.internal';
export const JWT_ISSUER = 'https://gateway.test';

/** The two AppA links of the fixture: app-a signs RSA-SHA1, app-h HMAC-SHA1. */
export const LINKS = {
  rsa: { consumerKey: 'app-a', linkId: LINK_ID, method: 'RSA-SHA1' as const },
  hmac: { consumerKey: 'app-h', linkId: HMAC_LINK_ID, method: 'HMAC-SHA1' as const },
};
export type LinkKind = keyof typeof LINKS;

/**
 * A complete, valid configuration object for tests: one RSA link `app-a`, one HMAC link
 * `app-h`, oauth1 upstream identity (RSA), demo user auth, memory store unless redisUrl.
 * `patch` is deep-merged last (arrays replaced).
 */
export function testConfigObject(t: ReturnType<typeof tempDir>, opts: { redisUrl?: string; upstreamUrl?: string; publicBaseUrl?: string; patch?: Record<string, unknown> } = {}) {
  const appA = rsaPair(0);
  const gatewayKey = rsaPair(1);
  t.write('app-a.pub.pem', appA.publicPem);
  t.write('gateway.pem', gatewayKey.privatePem);
  t.write('gateway.pub.pem', gatewayKey.publicPem);
  t.write('app-h.secret', `${APP_H_SECRET}\n`);
  t.write('store.key', `${randomBytes(32).toString('base64')}\n`);
  t.write('header.secret', randomBytes(24).toString('hex'));
  const base: Record<string, unknown> = {
    server: { listen: '127.0.0.1:0', publicBaseUrl: opts.publicBaseUrl ?? PUBLIC_BASE },
    admin: { listen: '127.0.0.1:0' },
    upstream: {
      url: opts.upstreamUrl ?? 'http://127.0.0.1:1',
      identity: { mode: 'oauth1', consumerKey: 'applink-gateway', signatureMethod: 'RSA-SHA1', privateKeyFile: 'gateway.pem' },
    },
    store: opts.redisUrl ? { redis: { url: opts.redisUrl, keyPrefix: `t${randomBytes(4).toString('hex')}:` }, encryptionKeyFile: 'store.key' } : { redis: null },
    userAuth: { mode: 'demo', users: [{ name: 'alice', password: 'alice-pw' }, { name: 'bob', password: 'bob-pw' }, { name: 'admin', password: 'admin-pw' }] },
    links: [
      {
        id: LINK_ID,
        name: 'AppA',
        consumerKey: 'app-a',
        signatureMethods: ['RSA-SHA1'],
        publicKeyFile: 'app-a.pub.pem',
        callbackUrls: [`https://appa.example.com${ACCESS_PATH}`, 'oob'],
        impersonation: { enabled: true, denyUsers: ['admin'] },
        twoLegged: { enabled: true, executeAs: 'svc-appa' },
      },
      {
        id: HMAC_LINK_ID,
        name: 'AppH',
        consumerKey: 'app-h',
        signatureMethods: ['HMAC-SHA1'],
        sharedSecretFile: 'app-h.secret',
        callbackUrls: ['http://apph.example.com/callback'],
        impersonation: { enabled: true, denyUsers: ['admin'] },
      },
    ],
  };
  return deepMerge(base, opts.patch ?? {});
}

export function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' && !Array.isArray(prev)
        ? deepMerge(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/** Writes the object as gateway.yaml into the temp dir and returns its path. */
export function writeConfig(t: ReturnType<typeof tempDir>, obj: Record<string, unknown>, name = 'gateway.yaml'): string {
  return t.write(name, YAML.stringify(obj));
}

/** Resolves a config object against the temp dir (no YAML round trip). */
export function runtimeConfig(t: ReturnType<typeof tempDir>, obj: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): RuntimeConfig {
  return resolveConfig(obj, { baseDir: t.dir, sourcePath: null, env });
}
