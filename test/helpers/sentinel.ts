// An ephemeral Redis Sentinel set-up for tests: one master, one replica and three sentinels
// (quorum 2) on free ports of 127.0.0.1, tuned to notice a dead master within a second.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { startRedis } from './redis.js';
import type { EphemeralRedis } from './redis.js';

export const SENTINEL_MASTER = 'applink';
const BINARY = process.env.REDIS_SENTINEL_BIN ?? 'redis-sentinel';

export interface EphemeralSentinel {
  name: string;
  sentinels: Array<{ host: string; port: number }>;
  /** The servers by port: the master and the replica at start, either may be master later. */
  servers: Map<number, EphemeralRedis>;
  /** The master's port, as the sentinels announce it now. */
  masterPort(): Promise<number>;
  /** A client of the sentinel at index i (for SENTINEL commands). */
  sentinel(i?: number): Redis;
  stop(): Promise<void>;
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`sentinel set-up: timed out waiting for ${what}${last ? ` (${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function spawnSentinel(conf: string): Promise<ChildProcess> {
  const child = spawn(BINARY, [conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.unref();
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'ENOENT' ? new Error(`redis-sentinel not found (${BINARY}): install it with \`apt-get install -y redis-sentinel\``) : err),
    );
    child.once('spawn', () => resolve(child));
    child.once('exit', (code) => {
      if (code !== 0 && code !== null) reject(new Error(`redis-sentinel exited with ${code}:\n${output}`));
    });
  });
}

/**
 * Starts master, replica and three sentinels. down-after-milliseconds 1000 and failover-timeout
 * 4000 keep a failover within seconds; wait until every sentinel knows the replica and the
 * other two sentinels, so that a failover can be started at once.
 */
export async function startSentinel(opts: { downAfterMs?: number; failoverTimeoutMs?: number } = {}): Promise<EphemeralSentinel> {
  const dir = await mkdtemp(path.join(tmpdir(), 'applink-sentinel-'));
  const servers = new Map<number, EphemeralRedis>();
  const children: ChildProcess[] = [];
  const clients: Redis[] = [];
  const sentinels: Array<{ host: string; port: number }> = [];
  const stop = async () => {
    for (const c of clients) c.disconnect();
    for (const c of children) c.kill('SIGKILL');
    await Promise.all([...servers.values()].map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  const onExit = () => {
    for (const c of children) c.kill('SIGKILL');
  };
  process.once('exit', onExit);
  /** A redis-server whose files (a replica's full-sync RDB) go to the temp dir, not the cwd. */
  const server = async () => {
    const started = await startRedis({ workDir: dir });
    servers.set(started.port, started);
    return started;
  };
  try {
    const master = await server();
    const replica = await server();
    const r = new Redis(replica.url).on('error', () => undefined);
    clients.push(r);
    await r.replicaof('127.0.0.1', master.port);
    await until('the replica to sync', 10_000, async () => (await r.info('replication')).includes('master_link_status:up'));

    for (let i = 0; i < 3; i++) {
      const conf = path.join(dir, `sentinel-${i}.conf`);
      // Port 0 is not allowed for a sentinel: pick free ports through a throwaway redis-server.
      const probe = await startRedis();
      const port = probe.port;
      await probe.stop();
      await writeFile(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${SENTINEL_MASTER} ${opts.downAfterMs ?? 1000}`,
          `sentinel failover-timeout ${SENTINEL_MASTER} ${opts.failoverTimeoutMs ?? 4000}`,
          `sentinel parallel-syncs ${SENTINEL_MASTER} 1`,
          '',
        ].join('\n'),
      );
      children.push(await spawnSentinel(conf));
      sentinels.push({ host: '127.0.0.1', port });
    }
    const sentinelClients = sentinels.map((s) => new Redis({ host: s.host, port: s.port, maxRetriesPerRequest: 1 }).on('error', () => undefined));
    clients.push(...sentinelClients);
    for (const s of sentinelClients) {
      await until('every sentinel to know the replica and the other sentinels', 20_000, async () => {
        const replicas = (await s.call('SENTINEL', 'REPLICAS', SENTINEL_MASTER)) as unknown[];
        const peers = (await s.call('SENTINEL', 'SENTINELS', SENTINEL_MASTER)) as unknown[];
        return replicas.length === 1 && peers.length === 2;
      });
    }
    return {
      name: SENTINEL_MASTER,
      sentinels,
      servers,
      async masterPort() {
        const [, port] = (await sentinelClients[0]!.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER)) as [string, string];
        return Number(port);
      },
      sentinel: (i = 0) => sentinelClients[i]!,
      async stop() {
        process.off('exit', onExit);
        await stop();
      },
    };
  } catch (err) {
    process.off('exit', onExit);
    await stop();
    throw err;
  }
}
