// Runs the CLI as a real child process, for end-to-end command tests: ONE node process
// (node --import tsx src/cli.ts). The tsx CLI wrapper would sit between the test and the server's
// signals: it dies on SIGHUP and leaves the server running as an orphan.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(ROOT, 'src/cli.ts');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function spawnCli(args: string[], env: NodeJS.ProcessEnv | undefined, stdin: 'pipe' | 'ignore'): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: [stdin, 'pipe', 'pipe'] });
}

/** Runs `applink-gateway ARGS` to completion (killed after timeoutMs); `input` is its stdin. */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, opts.env, 'pipe');
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin?.end(opts.input ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    // 'close', not 'exit': the output is complete only once the pipes are.
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface StartedCli {
  child: ChildProcess;
  /** The line `waitFor` matched. */
  line: Record<string, unknown>;
  /** Every JSON line of stdout so far (it keeps growing). */
  lines: Array<Record<string, unknown>>;
  /** Exit code; -1 when a signal ended it. */
  exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
}

/** Starts a long-running CLI command and resolves once a stdout JSON log line matches. */
export function startCli(args: string[], waitFor: (line: Record<string, unknown>) => boolean, opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<StartedCli> {
  const child = spawnCli(args, opts.env, 'ignore');
  const lines: Array<Record<string, unknown>> = [];
  let out = '';
  let err = '';
  let buf = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code, signal) => r(code ?? (signal ? -1 : null))));
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      child.kill('SIGKILL');
      reject(new Error(`timed out waiting for the log line; stderr: ${err}; stdout: ${out.slice(-2000)}`));
    }, opts.timeoutMs ?? 30_000);
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(text) as Record<string, unknown>;
        } catch {
          continue;
        }
        lines.push(line);
        if (!done && waitFor(line)) {
          done = true;
          clearTimeout(timer);
          resolve({ child, line, lines, exited, stdout: () => out, stderr: () => err });
        }
      }
    });
    void exited.then((code) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before the log line; stderr: ${err}; stdout: ${out.slice(-2000)}`));
    });
  });
}
