// Ephemeral redis-server instances for tests: a free port on 127.0.0.1, no persistence unless
// asked, never the machine's own Redis on 6379.
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net from 'node:net';

export interface EphemeralRedis {
  url: string;
  port: number;
  /** The redis-server process (tests pause it with SIGSTOP to simulate a hung server). */
  pid: number;
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /** Listen on this port (e.g. to restart a stopped server where clients expect it). */
  port?: number;
  /** Append-only persistence in this directory, so data survives stop() and a restart. */
  dataDir?: string;
  /** Start as a Redis Cluster node, keeping its nodes.conf in this directory. */
  clusterDir?: string;
  /** Working directory for files Redis writes anyway (a replica's full-sync RDB); default the cwd. */
  workDir?: string;
}

const BINARY = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const START_TIMEOUT_MS = 10_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr && typeof addr === 'object') resolve(addr.port);
        else reject(new Error('could not pick a free port'));
      });
    });
  });
}

/** One PING over a raw socket: true when the server answers +PONG. */
function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const finish = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => finish(false));
    sock.on('error', () => finish(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      if (buf.includes('\r\n')) finish(buf.startsWith('+PONG'));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function startOn(port: number, opts: StartRedisOptions): Promise<EphemeralRedis> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', ''];
  if (opts.clusterDir) {
    args.push(
      '--cluster-enabled', 'yes',
      '--cluster-config-file', path.join(opts.clusterDir, `nodes-${port}.conf`),
      '--dir', opts.clusterDir,
    );
  }
  if (opts.dataDir) {
    args.push('--dir', opts.dataDir, '--appendonly', 'yes', '--appendfsync', 'always');
  } else {
    args.push('--appendonly', 'no');
    if (opts.workDir && !opts.clusterDir) args.push('--dir', opts.workDir);
  }
  const child = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  // The test process may exit with the server running: the 'exit' hook below kills it.
  child.unref();
  (child.stdout as net.Socket | null)?.unref();
  (child.stderr as net.Socket | null)?.unref();
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString('utf8')));
  const spawnError = new Promise<never>((_, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'ENOENT'
          ? new Error(
              `redis-server not found (${BINARY}): install it with \`apt-get install -y redis-server\`, or set REDIS_URL to a Redis the tests may use`,
            )
          : err,
      );
    });
  });
  spawnError.catch(() => undefined);

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`redis-server on port ${port} exited with ${child.exitCode}:\n${output}`);
    }
    const up = await Promise.race([pingOnce(port), spawnError]);
    if (up) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server on port ${port} did not answer PING:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid ?? -1,
    async stop() {
      process.off('exit', onExit);
      // SIGTERM: redis-server flushes the append-only file (when enabled) and exits.
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited(child);
      clearTimeout(killer);
    },
  };
}

/** Starts a redis-server on a free port (or `opts.port`) and waits until it answers PING. */
export async function startRedis(opts: StartRedisOptions = {}): Promise<EphemeralRedis> {
  if (opts.port !== undefined) return startOn(opts.port, opts);
  let lastError: unknown;
  // The free port may be taken between picking and binding: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOn(await freePort(), opts);
    } catch (err) {
      if ((err as Error).message.includes('apt-get install')) throw err;
      lastError = err;
    }
  }
  throw lastError;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

export interface EphemeralRedisCluster {
  nodes: Array<{ host: string; port: number }>;
  stop(): Promise<void>;
}

/** A three-master Redis Cluster (no replicas) on free ports, ready when every node says ok. */
export async function startRedisCluster(): Promise<EphemeralRedisCluster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'applink-cluster-'));
  const servers: EphemeralRedis[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 3; i++) servers.push(await startRedis({ clusterDir: dir }));
    const addrs = servers.map((s) => `127.0.0.1:${s.port}`);
    await run(process.env.REDIS_CLI_BIN ?? 'redis-cli', [
      '--cluster', 'create', ...addrs, '--cluster-replicas', '0', '--cluster-yes',
    ]);
    const deadline = Date.now() + 15_000;
    for (const s of servers) {
      for (;;) {
        const info = await run(process.env.REDIS_CLI_BIN ?? 'redis-cli', ['-p', String(s.port), 'cluster', 'info']);
        if (info.includes('cluster_state:ok')) break;
        if (Date.now() > deadline) throw new Error(`cluster node ${s.port} never reached cluster_state:ok`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return { nodes: servers.map((s) => ({ host: '127.0.0.1', port: s.port })), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

let shared: Promise<string> | null = null;

/** REDIS_URL when set, else one ephemeral redis-server per process, stopped at exit. */
export async function testRedisUrl(): Promise<string> {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv) return fromEnv;
  shared ??= startRedis().then((r) => r.url);
  return shared;
}

/** A random key prefix, so test files (and tests) sharing one Redis never collide. */
export function testKeyPrefix(): string {
  return `test:${randomBytes(6).toString('hex')}:`;
}

/**
 * The store.redis timings a test store gets: the configuration's defaults (config/schema.ts),
 * which the Redis store requires from its caller rather than restating them.
 */
export const TEST_REDIS_TIMINGS = { commandTimeoutMs: 1500, waitTimeoutMs: 500 } as const;
