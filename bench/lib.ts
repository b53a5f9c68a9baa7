// Machinery of `npm run bench`: child processes in their own process groups (all killed on
// exit, error or Ctrl-C), CPU pinning, /proc readings, Redis INFO, wrk runs, statistics.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const BENCH_DIR = import.meta.dirname;
export const ROOT = path.resolve(BENCH_DIR, '..');

// ---------------------------------------------------------------------------------------------
// Processes

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  /** Resolves with the exit code (or -1 for a signal) when the process has exited. */
  exited: Promise<number>;
  /** The last few KB of its output (for error messages). */
  tail(): string;
  stop(): Promise<void>;
}

const live = new Set<Proc>();
/** Every process group started (the leader's pid), for the record. */
export const startedGroups: number[] = [];

/** Kills every process group still running, at once (SIGKILL): used on exit and on errors. */
export function killAll(): void {
  for (const p of live) {
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  live.clear();
}

let hooked = false;
/** Installs the exit, signal and error hooks once: no child outlives the bench. */
export function installCleanup(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      console.error(`\nbench: ${sig}, stopping every process it started`);
      killAll();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    console.error('bench: uncaught error:', err);
    killAll();
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    console.error('bench: unhandled rejection:', err);
    killAll();
    process.exit(1);
  });
}

export interface StartOptions {
  /** CPU list for taskset (e.g. "1" or "0,1"), or null for no pinning. */
  cpus: string | null;
  env?: NodeJS.ProcessEnv;
  /** stdout (and stderr) go to this file instead of being kept in memory. */
  logFile?: string;
  cwd?: string;
}

/** Starts `cmd args` in its own process group, pinned with taskset when asked. */
export function start(name: string, cmd: string, args: string[], opts: StartOptions): Proc {
  const [file, argv] = opts.cpus !== null ? ['taskset', ['-c', opts.cpus, cmd, ...args]] : [cmd, args];
  // A log file is the child's own stdout and stderr (no pipe through this process).
  // O_APPEND: cluster workers share the file description, and appends never overwrite each other.
  const logFd = opts.logFile ? openSync(opts.logFile, 'a') : null;
  const child = spawn(file, argv, {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    detached: true, // its own process group: killAll() reaches its children too
    stdio: ['ignore', logFd ?? 'pipe', logFd ?? 'pipe'],
  });
  if (logFd !== null) closeSync(logFd);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  let tail = '';
  const keep = (d: Buffer) => {
    tail = (tail + d.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const logTail = () => {
    try {
      return readFileSync(opts.logFile as string, 'utf8').slice(-4000);
    } catch {
      return '';
    }
  };
  const exited = new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? -1 : 0))));
  const proc: Proc = {
    name,
    child,
    pid: child.pid,
    exited,
    tail: () => (opts.logFile ? logTail() : tail),
    async stop() {
      if (!live.has(proc)) return;
      try {
        process.kill(-proc.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-proc.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 5000);
      await exited;
      clearTimeout(timer);
      // Its children (cluster workers) are in the same group: make sure none is left.
      try {
        process.kill(-proc.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      live.delete(proc);
    },
  };
  live.add(proc);
  startedGroups.push(proc.pid);
  return proc;
}

/** Resolves when `check` returns true; rejects when the process exits first or after timeoutMs. */
export async function waitUntil(proc: Proc, what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null = null;
  void proc.exited.then((c) => (exitCode = c));
  for (;;) {
    if (exitCode !== null) throw new Error(`${proc.name} exited (${exitCode}) before ${what}:\n${proc.tail()}`);
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${proc.name}: timed out waiting for ${what}:\n${proc.tail()}`);
    await sleep(50);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address() as net.AddressInfo;
      srv.close(() => resolve(addr.port));
    });
  });
}

export async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// CPU pinning

/** The CPUs this process may run on (its affinity), as taskset reports them. */
export function usableCpus(): number[] {
  const out = spawnSync('taskset', ['-cp', String(process.pid)], { encoding: 'utf8' });
  const list = /:\s*([\d,\-\s]+)$/m.exec(out.stdout ?? '')?.[1]?.trim();
  if (out.status !== 0 || !list) return os.cpus().map((_, i) => i);
  const cpus: number[] = [];
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map(Number) as [number, number | undefined];
    for (let c = a; c <= (b ?? a); c++) cpus.push(c);
  }
  return cpus;
}

export interface Placement {
  /** The subject (gateway or baseline) — and the RSA bound, which measures the same core. */
  subject: string | null;
  /** Upstream, load generator, Redis. */
  load: string | null;
  /** Both (server.workers: 2). */
  all: string | null;
  note: string;
}

export function placement(): Placement {
  const cpus = usableCpus();
  if (cpus.length < 2) return { subject: null, load: null, all: null, note: `${cpus.length} usable CPU: no pinning, everything shares it` };
  const [load, subject] = cpus as [number, number];
  return {
    subject: String(subject),
    load: String(load),
    all: `${load},${subject}`,
    note: `subject on CPU ${subject}; upstream, Redis and wrk on CPU ${load}${cpus.length > 2 ? ` (${cpus.length - 2} more CPUs unused)` : ''}`,
  };
}

// ---------------------------------------------------------------------------------------------
// /proc readings

const TICK_US = 1e6 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

/** The pid and every live descendant (cluster workers). */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const p = out[i] as number;
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      try {
        const kids = readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim();
        if (kids) out.push(...kids.split(/\s+/).map(Number));
      } catch {
        /* gone */
      }
    }
  }
  return out;
}

/** utime + stime of the process tree, in microseconds. */
export function cpuMicros(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      // Fields after the command name (which may contain spaces) start at field 3.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime (14) and stime (15)
    } catch {
      /* gone */
    }
  }
  return ticks * TICK_US;
}

/** VmHWM (peak RSS) of each process of the tree, in bytes. */
export function peakRss(pid: number): number[] {
  const out: number[] = [];
  for (const p of processTree(pid)) {
    try {
      const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1];
      if (kb) out.push(Number(kb) * 1024);
    } catch {
      /* gone */
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Redis INFO

export function parseInfo(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

/** Calls of every command since start, except INFO itself (the bench's own readings). */
export function commandCalls(commandstats: string): { total: number; byCommand: Record<string, number> } {
  let total = 0;
  const byCommand: Record<string, number> = {};
  for (const [k, v] of parseInfo(commandstats)) {
    const name = k.replace(/^cmdstat_/, '');
    if (name === k || name === 'info') continue;
    const calls = Number(/calls=(\d+)/.exec(v)?.[1] ?? 0);
    byCommand[name] = calls;
    total += calls;
  }
  return { total, byCommand };
}

// ---------------------------------------------------------------------------------------------
// wrk

export interface WrkResult {
  requests: number;
  durationUs: number;
  status: number;
  connect: number;
  read: number;
  write: number;
  timeout: number;
  exhausted: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
  meanUs: number;
}

export interface WrkRun {
  url: string;
  method: string;
  /** Path with query, as requested (and signed). */
  path: string;
  host: string;
  /** One Authorization value per line ("-" = none). */
  file: string;
  seconds: number;
  connections: number;
  /** Total req/s for a paced run; 0 = as fast as possible. */
  rate: number;
  /** Lines may be reused (the baseline, which checks no nonce). */
  cycle: boolean;
  cpus: string | null;
}

export async function runWrk(run: WrkRun): Promise<WrkResult> {
  const threads = 1;
  const proc = start(
    'wrk',
    'wrk',
    [`-t${threads}`, `-c${run.connections}`, `-d${run.seconds}s`, '--timeout', '10s', '-s', path.join(BENCH_DIR, 'wrk-cycle.lua'), `${run.url}${run.path}`],
    {
      cpus: run.cpus,
      env: {
        BENCH_FILE: run.file,
        BENCH_THREADS: String(threads),
        BENCH_RATE: String(run.rate),
        BENCH_CYCLE: run.cycle ? '1' : '0',
        BENCH_METHOD: run.method,
        BENCH_PATH: run.path,
        BENCH_HOST: run.host,
      },
    },
  );
  let out = '';
  proc.child.stdout?.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const code = await proc.exited;
  await proc.stop();
  const line = /WRK_RESULT (\{.*\})/.exec(out)?.[1];
  if (code !== 0 || !line) throw new Error(`wrk failed (${code}):\n${out}\n${proc.tail()}`);
  return JSON.parse(line) as WrkResult;
}

/** Answers that are not 2xx: HTTP status ≥ 400 and socket errors (the upstream never redirects). */
export function non2xx(r: WrkResult): number {
  return r.status + r.connect + r.read + r.write + r.timeout;
}

export function rate(r: WrkResult): number {
  return r.requests / (r.durationUs / 1e6);
}

export function median(values: number[]): number {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/**
 * Counts the gateway's `"msg":"request"` log lines (one per request it answered, aborted ones
 * included) written since the previous call: the number of requests it served in a round,
 * counting those still in flight when wrk stopped, which wrk does not.
 */
export function requestLineCounter(file: string): () => number {
  let offset = 0;
  return () => {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      return 0;
    }
    let lines = 0;
    try {
      const buf = Buffer.alloc(1 << 20);
      let carry = '';
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, offset);
        if (n === 0) break;
        offset += n;
        const text = carry + buf.toString('utf8', 0, n);
        const last = text.lastIndexOf('\n');
        const complete = last >= 0 ? text.slice(0, last) : '';
        carry = last >= 0 ? text.slice(last + 1) : text;
        for (const line of complete.split('\n')) if (line.includes('"msg":"request"')) lines++;
      }
      offset -= Buffer.byteLength(carry); // an unfinished last line is read again next time
    } finally {
      closeSync(fd);
    }
    return lines;
  };
}
