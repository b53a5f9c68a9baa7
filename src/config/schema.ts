// The one configuration schema (DESIGN.md section 5): every key, its default and its doc
// comment live here; config/gateway.example.yaml and the README mirror it. So do the rules that
// span keys (superRefine) and the defaults that name another key (transform): what is left to
// load.ts needs files, keys or the environment.
import { isIP } from 'node:net';
import { z } from 'zod';
import { OOB, parseCallback } from '../oauth1/callback.js';

/**
 * For a rule that spans keys: it runs only when every key it reads passed its own checks, so it
 * never sees (or names) a value already refused.
 */
const onValid = { when: (payload: z.core.ParsePayload) => payload.issues.length === 0 };

/** A problem at `path`, relative to the object the refinement is attached to. */
function problem(ctx: z.RefinementCtx, path: PropertyKey[], message: string): void {
  ctx.addIssue({ code: 'custom', path, message });
}

/** `host:port`, `[v6]:port` or `:port`. */
const listenAddress = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):\d{1,5}$/, 'must be "host:port" (e.g. "0.0.0.0:8080")')
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'port must be 0-65535');

// '#' is checked on the text: WHATWG URL reports an empty fragment ("x#") as no fragment.
const httpUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password && !v.includes('#');
  } catch {
    return false;
  }
}, 'must be an absolute http(s) URL without user info or fragment');

/** A base URL (scheme, host, port, optional context path): paths are appended to it, so no query. */
const baseUrl = httpUrl.refine((v) => !v.includes('?'), 'must not carry a query (?...)');

/** Token lifetimes stay within what a Date can hold (the token pages show expiry dates): 100 years. */
const MAX_TTL_SECONDS = 100 * 365 * 24 * 3600;

/** A secret reference: a file path (relative to the config file) or `env:NAME`. */
const secretRef = z.string().min(1, 'must be a file path or env:NAME');

export const SIGNATURE_METHODS = ['RSA-SHA1', 'HMAC-SHA1', 'PLAINTEXT'] as const;

/** A user name as the gateway accepts one from AppB or a request (src/userauth/names.ts): no control characters, no surrounding spaces. */
const userName = z
  .string()
  .min(1)
  .max(255)
  // \p{Cs}: YAML's "\ud800" makes an unpaired surrogate, which has no UTF-8 form.
  .refine((v) => /^[^\p{Cc}\p{Cs}]*$/u.test(v) && v.trim() === v, 'must be a user name without control characters, unpaired surrogates or surrounding spaces');

/**
 * A registered callback URL under the one callback rule (DESIGN.md section 7, src/oauth1/callback.ts):
 * an entry the rule refuses would otherwise load fine and then match nothing.
 */
const callbackUrl = z.union([z.literal(OOB), httpUrl]).superRefine((url, ctx) => {
  const parsed = url === OOB ? null : parseCallback(url);
  if (typeof parsed === 'string') problem(ctx, [], parsed);
}, onValid);

export const linkSchema = z
  .object({
    /** The applicationLinkID (usually a UUID); appears in login-dance URLs. */
    id: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'must be 1-128 characters of A-Z a-z 0-9 . _ -'),
    /** Shown to users on the approval page. */
    name: z.string().min(1).max(200),
    /** The oauth_consumer_key AppA signs with. */
    consumerKey: z.string().min(1).max(255),
    /** Signature methods this consumer may use. PLAINTEXT only when publicBaseUrl is https. */
    signatureMethods: z.array(z.enum(SIGNATURE_METHODS)).min(1).default(['RSA-SHA1']),
    /** AppA's RSA public key (PEM public key or X.509 certificate), for RSA-SHA1. */
    publicKeyFile: secretRef.optional(),
    /** Several public keys accepted at once, while AppA rotates its key. */
    publicKeyFiles: z.array(secretRef).min(1).optional(),
    /** The consumer secret, for HMAC-SHA1 and PLAINTEXT. */
    sharedSecretFile: secretRef.optional(),
    /** Registered callback URLs; a request's oauth_callback must equal one (it may add a query). `oob` allows out-of-band. */
    callbackUrls: z.array(callbackUrl).default([]),
    /** Flow 1c: the gateway may start the login dance (`login-dance/authorize`). Opt-in: see DESIGN.md 1c. */
    gatewayInitiated: z.boolean().default(false),
    /** Three-legged tokens (the dance, then requests as the approving user). */
    threeLegged: z.boolean().default(true),
    /** Callback-less OAuth 1.0 clients (jirashell --oauth-dance). Reopens session fixation: off by default. */
    allowOAuth10: z.boolean().default(false),
    /** Plain 2LO: requests without a token run as `executeAs`. */
    twoLegged: z
      .object({
        enabled: z.boolean().default(false),
        executeAs: userName.nullable().default(null),
      })
      .strict()
      .prefault({}),
    /** 2LOi: requests without a token name their user in xoauth_requestor_id. */
    impersonation: z
      .object({
        enabled: z.boolean().default(false),
        /** Never impersonated (case-insensitive), e.g. admins. */
        denyUsers: z.array(userName).default([]),
        /** When set, only these users may be impersonated (case-insensitive). */
        allowUsers: z.array(userName).nullable().default(null),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((link, ctx) => {
    const methods = link.signatureMethods;
    if (link.publicKeyFile && link.publicKeyFiles) problem(ctx, [], 'set publicKeyFile or publicKeyFiles, not both');
    if (methods.includes('RSA-SHA1') && !link.publicKeyFile && !link.publicKeyFiles) {
      problem(ctx, ['publicKeyFile'], 'is required for RSA-SHA1');
    }
    if ((methods.includes('HMAC-SHA1') || methods.includes('PLAINTEXT')) && !link.sharedSecretFile) {
      problem(ctx, ['sharedSecretFile'], 'is required for HMAC-SHA1 and PLAINTEXT');
    }
    if (new Set(methods).size !== methods.length) problem(ctx, ['signatureMethods'], 'lists a method twice');
    if (link.twoLegged.enabled && !link.twoLegged.executeAs) {
      problem(ctx, ['twoLegged', 'executeAs'], 'is required when twoLegged.enabled is true');
    }
    if (link.gatewayInitiated) {
      const first = link.callbackUrls[0];
      if (!first || first === OOB) problem(ctx, ['callbackUrls'], 'gatewayInitiated needs an http(s) callback URL first');
    }
  }, onValid);

const oauth1Identity = z
  .object({
    mode: z.literal('oauth1'),
    /** The consumer key AppB knows the gateway by (its incoming link). */
    consumerKey: z.string().min(1).default('applink-gateway'),
    signatureMethod: z.enum(['RSA-SHA1', 'HMAC-SHA1']).default('RSA-SHA1'),
    /** RSA private key (PEM) for RSA-SHA1. */
    privateKeyFile: secretRef.optional(),
    /** Consumer secret for HMAC-SHA1. */
    sharedSecretFile: secretRef.optional(),
  })
  .strict()
  .superRefine((id, ctx) => {
    if (id.signatureMethod === 'RSA-SHA1' && !id.privateKeyFile) problem(ctx, ['privateKeyFile'], 'is required for RSA-SHA1');
    if (id.signatureMethod === 'HMAC-SHA1' && !id.sharedSecretFile) problem(ctx, ['sharedSecretFile'], 'is required for HMAC-SHA1');
  }, onValid);

const headerIdentity = z
  .object({
    mode: z.literal('header'),
    /** HMAC-SHA256 key for X-Applink-Gateway-Signature. */
    sharedSecretFile: secretRef,
    /** Header carrying the user name. */
    userHeader: z.string().regex(/^[A-Za-z0-9-]+$/).default('X-Forwarded-User'),
    /** Allow a non-loopback upstream (the header is only as safe as the network path). */
    allowRemote: z.boolean().default(false),
  })
  .strict();

const jwtIdentity = z
  .object({
    mode: z.literal('jwt'),
    /** RSA (RS256) or Ed25519 (EdDSA) private key, PEM. */
    privateKeyFile: secretRef,
    /** `aud` claim; default: upstream.signatureBaseUrl (without a trailing slash). */
    audience: z.string().min(1).optional(),
    /** `iss` claim; default: server.publicBaseUrl (without a trailing slash). */
    issuer: z.string().min(1).optional(),
    /** Token lifetime, at most 60 s. */
    ttlSeconds: z.number().int().min(1).max(60).default(30),
    /** `kid` header and JWKS key id; default: a thumbprint of the public key. */
    keyId: z.string().min(1).optional(),
  })
  .strict();

const hostPort = z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65535) }).strict();

const redisSchema = z
  .object({
    /** redis:// or rediss:// URL (REDIS_URL overrides it). */
    url: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').optional(),
    /** Sentinel: the sentinels to ask and the master name. */
    sentinels: z.array(hostPort).min(1).optional(),
    sentinelName: z.string().min(1).optional(),
    /** Cluster: seed nodes. */
    clusterNodes: z.array(hostPort).min(1).optional(),
    /** Prefix of every key the gateway writes. */
    keyPrefix: z.string().default('applink:'),
    /** Per-command timeout; Redis slower than this counts as down (503). */
    commandTimeoutMs: z.number().int().min(50).max(10000).default(1500),
    /** Replicas that must hold each token write (WAIT) before it is answered; default 1 with sentinels, else 0. */
    waitReplicas: z.number().int().min(0).max(16).optional(),
    /** How long a token write waits for those replicas before answering 503. */
    waitTimeoutMs: z.number().int().min(10).max(5000).default(500),
  })
  .strict()
  .refine((r) => r.waitTimeoutMs < r.commandTimeoutMs, { message: 'waitTimeoutMs must be below commandTimeoutMs', path: ['waitTimeoutMs'] })
  .refine((r) => !(r.clusterNodes && r.waitReplicas !== undefined && r.waitReplicas > 0), { message: 'waitReplicas is not supported with clusterNodes', path: ['waitReplicas'] })
  .superRefine((r, ctx) => {
    if (r.sentinels && !r.sentinelName) problem(ctx, ['sentinelName'], 'is required with sentinels');
    // "Exactly one of url, sentinels, clusterNodes" is load.ts's: REDIS_URL may supply the url.
  }, onValid)
  .transform((r) => ({ ...r, waitReplicas: r.waitReplicas ?? (r.sentinels ? 1 : 0) }));

const upstreamSessionAuth = z
  .object({
    mode: z.literal('upstream-session'),
    /** AppB endpoint answering the logged-in user as JSON (401 when anonymous). */
    sessionCheckPath: z.string().startsWith('/').default('/rest/auth/1/session'),
    /** Field of that JSON holding the user name (dots for nesting). */
    usernameField: z.string().min(1).default('name'),
    /** AppB's login page; {return} is replaced by the URL-encoded return path. */
    loginUrl: z.string().min(1).default('/login.jsp?os_destination={return}'),
    /** How long a session check result is cached (by a digest of the cookie). */
    cacheSeconds: z.number().int().min(0).max(300).default(15),
  })
  .strict();

const trustedHeaderAuth = z
  .object({
    mode: z.literal('trusted-header'),
    /** Header an SSO proxy sets to the user name. */
    header: z.string().regex(/^[A-Za-z0-9-]+$/).default('X-Remote-User'),
    /** Addresses or CIDRs allowed to set it (required). */
    trustedSources: z.array(z.string().min(1)).min(1),
    /** Where to send anonymous users; {return} as above. */
    loginUrl: z.string().min(1).optional(),
  })
  .strict();

const demoAuth = z
  .object({
    mode: z.literal('demo'),
    /** Demo users and passwords (demo only; refused when NODE_ENV=production). */
    users: z
      .array(z.object({ name: userName, password: z.string().min(1) }).strict())
      .min(1),
  })
  .strict();

/** A failure budget: `points` failures within `durationSeconds`, then refused for `blockSeconds`. */
const failureWindow = z
  .object({
    points: z.number().int().min(1).max(1_000_000),
    durationSeconds: z.number().int().min(1).max(86_400),
    blockSeconds: z.number().int().min(1).max(86_400),
  })
  .strict();

/** Default of server.timeouts.bodyIdleMs. */
export const DEFAULT_BODY_IDLE_MS = 30_000;
/** server.timeouts.bodyTotalMs defaults to this many body idle timeouts (2 minutes by default). */
export const BODY_TOTAL_PER_IDLE = 4;

const bodyIdleMs = z.number().int().min(100).max(600_000);

/**
 * Slow clients (DESIGN.md section 3: never a hang). Node's own timeouts guard the request head and
 * idle keep-alive connections; the body ones guard every body the gateway itself reads (form bodies,
 * oauth_body_hash), which a trickling client could otherwise hold open, and its memory, forever.
 */
const serverTimeouts = z
  .object({
    /** The whole request head must arrive within this (Node's headersTimeout) → 408, connection closed. */
    headersMs: z.number().int().min(100).max(600_000).default(60_000),
    /**
     * The whole request, body included, must arrive within this (Node's requestTimeout); 0 = off.
     * Off by default: it would also cut long unsigned uploads that stream through to AppB.
     */
    requestMs: z.number().int().min(0).max(86_400_000).default(0),
    /** An idle keep-alive connection is closed after this (Node's keepAliveTimeout); above a load balancer's idle timeout. */
    keepAliveMs: z.number().int().min(0).max(600_000).default(65_000),
    /** A body the gateway reads that stalls this long → 408, connection closed. Default 30000 (or server.bodyIdleTimeoutMs). */
    bodyIdleMs: bodyIdleMs.optional(),
    /** A body the gateway reads must be complete within this however steadily it trickles → 408. Default 4 × bodyIdleMs. */
    bodyTotalMs: z.number().int().min(100).max(3_600_000).optional(),
  })
  .strict();

export const configSchema = z
  .object({
    server: z
      .object({
        /** Public listener (AppA, browsers). */
        listen: listenAddress.default('0.0.0.0:8080'),
        /** The URL clients use to reach AppB through the gateway; signatures are checked against it. */
        publicBaseUrl: baseUrl,
        /** Addresses/CIDRs whose X-Forwarded-* headers are believed. Default none. */
        trustedProxies: z.array(z.string().min(1)).default([]),
        /** Worker processes (node:cluster); "auto" = CPU count. More than 1 requires Redis. */
        workers: z.union([z.number().int().min(1).max(256), z.literal('auto')]).default(1),
        /** Largest form body read for signature checks (413 beyond). */
        formBodyLimitBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
        /**
         * Most parameters (query + form body) an OAuth request may have, as
         * Tomcat's and Jetty's 1000: 400 parameter_rejected beyond. A longer request without
         * OAuth parameters goes to AppB unparsed.
         */
        formParameterLimit: z.number().int().min(100).max(100_000).default(1000),
        /** Deprecated alias of server.timeouts.bodyIdleMs (still honoured; setting both is a configuration error). */
        bodyIdleTimeoutMs: bodyIdleMs.optional(),
        /** How long the gateway waits for slow clients; see serverTimeouts. */
        timeouts: serverTimeouts.prefault({}),
      })
      .strict()
      .superRefine((s, ctx) => {
        if (s.bodyIdleTimeoutMs !== undefined && s.timeouts.bodyIdleMs !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['bodyIdleTimeoutMs'], message: 'replaced by server.timeouts.bodyIdleMs: set only that one' });
        }
        const idle = s.timeouts.bodyIdleMs ?? s.bodyIdleTimeoutMs ?? DEFAULT_BODY_IDLE_MS;
        if (s.timeouts.bodyTotalMs !== undefined && s.timeouts.bodyTotalMs < idle) {
          ctx.addIssue({ code: 'custom', path: ['timeouts', 'bodyTotalMs'], message: `must be at least the body idle timeout (${idle} ms)` });
        }
        // Node refuses a headers timeout longer than a request timeout that is on.
        if (s.timeouts.requestMs > 0 && s.timeouts.requestMs < s.timeouts.headersMs) {
          ctx.addIssue({ code: 'custom', path: ['timeouts', 'requestMs'], message: `must be 0 (off) or at least server.timeouts.headersMs (${s.timeouts.headersMs} ms)` });
        }
      })
      // Derived defaults resolved here, so every reader gets numbers: bodyIdleMs, then bodyTotalMs from it.
      .transform((s) => {
        const idle = s.timeouts.bodyIdleMs ?? s.bodyIdleTimeoutMs ?? DEFAULT_BODY_IDLE_MS;
        return { ...s, timeouts: { ...s.timeouts, bodyIdleMs: idle, bodyTotalMs: s.timeouts.bodyTotalMs ?? BODY_TOTAL_PER_IDLE * idle } };
      }),
    shutdown: z
      .object({
        /** Seconds /readyz fails before the listener closes. */
        delaySeconds: z.number().min(0).max(300).default(5),
        /** Seconds in-flight requests get to finish after that. */
        graceSeconds: z.number().min(0).max(3600).default(25),
      })
      .strict()
      .prefault({}),
    admin: z
      .object({
        /** Admin listener: /healthz /readyz /readyz/redis /metrics /jwks.json. */
        listen: listenAddress.default('0.0.0.0:9090'),
      })
      .strict()
      .prefault({}),
    upstream: z
      .object({
        /** AppB. */
        url: baseUrl,
        /** The URL AppB believes it has (base of re-signed requests); default server.publicBaseUrl. */
        signatureBaseUrl: baseUrl.optional(),
        /** AppB slower than this → 504. */
        timeoutMs: z.number().int().min(100).max(600000).default(30000),
        /** OAuth requests of consumer keys that are not links go to AppB untouched. */
        passthroughUnknownConsumers: z.boolean().default(false),
        /** How AppB learns the user. */
        identity: z.discriminatedUnion('mode', [oauth1Identity, headerIdentity, jwtIdentity]),
      })
      .strict()
      .superRefine((u, ctx) => {
        const upstreamUrl = new URL(u.url);
        if (u.identity.mode === 'header' && !u.identity.allowRemote && !isLoopbackHost(upstreamUrl.hostname)) {
          problem(ctx, ['identity', 'mode'], `"header" needs a loopback upstream.url (got ${upstreamUrl.host}) unless upstream.identity.allowRemote is true`);
        }
      }, onValid),
    store: z
      .object({
        /** Redis; without it the embedded memory store serves one process only. */
        redis: redisSchema.nullable().default(null),
        /** Keyring encrypting token secrets at rest (required with Redis). */
        encryptionKeyFile: secretRef.optional(),
      })
      .strict()
      .superRefine((store, ctx) => {
        if (store.redis && !store.encryptionKeyFile) {
          problem(ctx, ['encryptionKeyFile'], 'is required with store.redis (token secrets are encrypted at rest)');
        }
      }, onValid)
      .prefault({}),
    userAuth: z.discriminatedUnion('mode', [upstreamSessionAuth, trustedHeaderAuth, demoAuth]).prefault({ mode: 'upstream-session' }),
    oauth: z
      .object({
        /** Accepted clock difference for oauth_timestamp. */
        timestampSkewSeconds: z.number().int().min(1).max(3600).default(300),
        requestTokenTtlSeconds: z.number().int().min(10).max(86400).default(600),
        /** Access-token lifetime: 5 years, as Atlassian. */
        accessTokenTtlSeconds: z.number().int().min(60).max(MAX_TTL_SECONDS).default(157680000),
        /** How long a session handle may renew; at least accessTokenTtlSeconds, which is the default. */
        authorizationTtlSeconds: z.number().int().min(60).max(MAX_TTL_SECONDS).optional(),
      })
      .strict()
      .superRefine((o, ctx) => {
        if (o.authorizationTtlSeconds !== undefined && o.authorizationTtlSeconds < o.accessTokenTtlSeconds) {
          problem(ctx, ['authorizationTtlSeconds'], 'must be at least oauth.accessTokenTtlSeconds (a token must not outlive its authorization)');
        }
      }, onValid)
      .transform((o) => ({ ...o, authorizationTtlSeconds: o.authorizationTtlSeconds ?? o.accessTokenTtlSeconds }))
      .prefault({}),
    security: z
      .object({
        /**
         * Verification failures (bad signatures, unknown tokens, wrong verifiers) counted per
         * source address and per (consumer key, source); past the limit: 429 consumer_key_refused.
         */
        failureLimit: z
          .object({
            enabled: z.boolean().default(true),
            /** Every OAuth request from one source address (the peer, or X-Forwarded-For from server.trustedProxies). */
            perSource: failureWindow.default({ points: 100, durationSeconds: 60, blockSeconds: 300 }),
            /** One link's consumer key from one source: the lower limit; never per consumer alone (anyone could lock a link out). */
            perConsumerSource: failureWindow.default({ points: 30, durationSeconds: 60, blockSeconds: 120 }),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    logging: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .strict()
      .prefault({}),
    links: z.array(linkSchema).default([]),
  })
  .strict()
  // Unlike the rules above, these run beside other problems (a link's own included), as long as
  // every key they read has a usable type: a refused value at most makes one of them moot.
  .superRefine((c, ctx) => {
    const ownKey = c.upstream.identity.mode === 'oauth1' ? c.upstream.identity.consumerKey : null;
    const https = URL.canParse(c.server.publicBaseUrl) && new URL(c.server.publicBaseUrl).protocol === 'https:';
    const seenIds = new Map<string, number>();
    const seenKeys = new Map<string, number>();
    c.links.forEach((link, i) => {
      const prevId = seenIds.get(link.id);
      if (prevId !== undefined) problem(ctx, ['links', i, 'id'], `"${link.id}" duplicates links[${prevId}].id`);
      else seenIds.set(link.id, i);
      const prevKey = seenKeys.get(link.consumerKey);
      if (prevKey !== undefined) problem(ctx, ['links', i, 'consumerKey'], `"${link.consumerKey}" duplicates links[${prevKey}].consumerKey`);
      else seenKeys.set(link.consumerKey, i);
      if (link.consumerKey === ownKey) problem(ctx, ['links', i, 'consumerKey'], `"${link.consumerKey}" is the gateway's own upstream.identity.consumerKey`);
      if (link.signatureMethods.includes('PLAINTEXT') && !https) problem(ctx, ['links', i, 'signatureMethods'], 'PLAINTEXT needs an https server.publicBaseUrl');
    });
    if (c.server.workers !== 1 && !c.store.redis) {
      problem(ctx, ['server', 'workers'], 'more than one worker needs store.redis (the memory store serves one process)');
    }
    // Port 0 (tests) picks two different free ports.
    if (c.server.listen === c.admin.listen && !c.server.listen.endsWith(':0')) {
      problem(ctx, ['admin', 'listen'], 'must differ from server.listen (admin endpoints never share the public port)');
    }
  })
  // The defaults that name another key.
  .transform((c) => {
    const signatureBaseUrl = c.upstream.signatureBaseUrl ?? c.server.publicBaseUrl;
    const id = c.upstream.identity;
    const identity =
      id.mode === 'jwt'
        ? { ...id, audience: id.audience ?? new URL(signatureBaseUrl).href.replace(/\/$/, ''), issuer: id.issuer ?? c.server.publicBaseUrl.replace(/\/$/, '') }
        : id;
    return { ...c, upstream: { ...c.upstream, signatureBaseUrl, identity } };
  });

/** Whether an upstream host is this machine (header identity mode trusts the network path to it). */
function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1';
  return false;
}

export type Config = z.infer<typeof configSchema>;
export type LinkConfig = z.infer<typeof linkSchema>;
export type IdentityConfig = Config['upstream']['identity'];
export type UserAuthConfig = Config['userAuth'];
export type RedisConfig = z.infer<typeof redisSchema>;
