// Live reload: re-reads the configuration file (and every key file it names) on a change or
// on demand (SIGHUP), swaps a valid one in atomically and keeps the old one when it is invalid.
// Directories are watched, not files: a Kubernetes ConfigMap or Secret update swaps a `..data`
// symlink and an editor may replace the file, and both leave a watch on the old inode silent.
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../ops/logger.js';
import type { Metrics } from '../ops/metrics.js';
import { ConfigError } from './issues.js';
import { loadConfigFile, type RuntimeConfig } from './load.js';

export type ReloadOutcome =
  | { result: 'success'; cfg: RuntimeConfig; restartNeeded: string[] }
  | { result: 'unchanged' }
  | { result: 'failure'; problems: string[] };

export interface ConfigWatcher {
  /** Re-reads the file now; resolves once the new configuration is serving (or refused). */
  reload(reason: string): Promise<ReloadOutcome>;
  /** The directories being watched (for logs and tests). */
  directories(): string[];
  close(): void;
}

export interface WatchOptions {
  file: string;
  current: () => RuntimeConfig;
  apply: (next: RuntimeConfig) => void;
  log: Logger;
  metrics?: Metrics;
  /** Events within this window make one reload (a ConfigMap swap fires several). Default 250 ms. */
  debounceMs?: number;
  /** false: reload only on demand (SIGHUP, cluster primary). Default true. */
  watch?: boolean;
  load?: (file: string) => RuntimeConfig;
  /** Told of every reload and its outcome (a cluster primary passes each one on to its workers). */
  onReload?: (outcome: ReloadOutcome, reason: string) => void;
}

/** The directories holding the configuration file and every file it references. */
export function watchedDirectories(file: string, cfg: RuntimeConfig | null): string[] {
  const baseDir = path.dirname(path.resolve(file));
  const dirs = new Set([baseDir]);
  if (cfg) {
    for (const ref of fileReferences(cfg)) dirs.add(path.dirname(path.resolve(baseDir, ref)));
  }
  return [...dirs].sort();
}

/** Every `*File` reference of a configuration that is a file (not `env:NAME`). */
export function fileReferences(cfg: RuntimeConfig): string[] {
  const c = cfg.config;
  const refs: Array<string | undefined> = [c.store.encryptionKeyFile];
  // Whatever the mode, its files are its `*File` keys.
  for (const [key, value] of Object.entries(c.upstream.identity)) if (key.endsWith('File')) refs.push(value as string | undefined);
  for (const link of c.links) refs.push(link.publicKeyFile, ...(link.publicKeyFiles ?? []), link.sharedSecretFile);
  return refs.filter((r): r is string => typeof r === 'string' && !r.startsWith('env:'));
}

/** Keys that only a restart applies: the listeners, the worker count and the store connection. */
export function restartOnlyChanges(prev: RuntimeConfig, next: RuntimeConfig): string[] {
  const out: string[] = [];
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (prev.config.server.listen !== next.config.server.listen) out.push('server.listen');
  if (!same(prev.config.server.workers, next.config.server.workers)) out.push('server.workers');
  if (prev.config.admin.listen !== next.config.admin.listen) out.push('admin.listen');
  if (!same(prev.config.store.redis, next.config.store.redis)) out.push('store.redis');
  const keyIds = (c: RuntimeConfig) => (c.encryptionKeys ?? []).map((k) => `${k.id}:${k.key.toString('base64')}`);
  if (!same(keyIds(prev), keyIds(next))) out.push('store.encryptionKeyFile');
  return out;
}

function linkChanges(prev: RuntimeConfig, next: RuntimeConfig): { added: string[]; removed: string[]; changed: string[] } {
  const added = [...next.linksById.keys()].filter((id) => !prev.linksById.has(id));
  const removed = [...prev.linksById.keys()].filter((id) => !next.linksById.has(id));
  const changed = [...next.linksById.keys()].filter((id) => {
    const a = prev.linksById.get(id);
    const b = next.linksById.get(id);
    if (!a || !b) return false;
    const keyDer = (l: typeof a) => l.publicKeys.map((k) => k.export({ format: 'der', type: 'spki' }).toString('base64'));
    return JSON.stringify(a) !== JSON.stringify(b) || JSON.stringify(keyDer(a)) !== JSON.stringify(keyDer(b)) || a.sharedSecret !== b.sharedSecret;
  });
  return { added, removed, changed };
}

export function watchConfig(opts: WatchOptions): ConfigWatcher {
  const file = path.resolve(opts.file);
  const load = opts.load ?? ((f: string) => loadConfigFile(f));
  const debounceMs = opts.debounceMs ?? 250;
  const watchers = new Map<string, FSWatcher>();
  let closed = false;
  let timer: NodeJS.Timeout | null = null;
  // One reload at a time; a change during a reload queues exactly one more.
  let running: Promise<ReloadOutcome> | null = null;
  let again = false;

  async function doReload(reason: string): Promise<ReloadOutcome> {
    const prev = opts.current();
    let next: RuntimeConfig;
    try {
      next = load(file);
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
      opts.metrics?.configReloads.inc({ result: 'failure' });
      opts.metrics?.configLastReloadSuccess.set(0);
      opts.log.error({ reason, file, problems }, 'configuration reload refused; the previous configuration keeps serving');
      return { result: 'failure', problems };
    }
    if (next.fingerprint === prev.fingerprint) {
      opts.metrics?.configReloads.inc({ result: 'unchanged' });
      opts.metrics?.configLastReloadSuccess.set(1);
      // Asked for (SIGHUP) deserves an answer in the log; a stray file event does not.
      opts.log[reason === 'file change' ? 'debug' : 'info']({ reason, file }, 'configuration unchanged');
      return { result: 'unchanged' };
    }
    const restartNeeded = restartOnlyChanges(prev, next);
    const links = linkChanges(prev, next);
    opts.apply(next);
    opts.metrics?.configReloads.inc({ result: 'success' });
    opts.metrics?.configLastReloadSuccess.set(1);
    opts.metrics?.configLoadedTimestamp.set(Date.now() / 1000);
    opts.log.info(
      { reason, file, links: next.links.length, linksAdded: links.added, linksRemoved: links.removed, linksChanged: links.changed, identityMode: next.identity.mode },
      'configuration reloaded',
    );
    if (restartNeeded.length > 0) {
      opts.log.warn({ keys: restartNeeded }, `configuration reloaded, but ${restartNeeded.join(', ')} take effect only after a restart`);
    }
    if (opts.watch !== false) syncWatchers(next);
    return { result: 'success', cfg: next, restartNeeded };
  }

  function reload(reason: string): Promise<ReloadOutcome> {
    if (running) {
      again = true;
      return running;
    }
    const settle = () => {
      running = null;
      if (again && !closed) {
        again = false;
        void reload('change during reload');
      }
    };
    running = doReload(reason).then((outcome) => {
      opts.onReload?.(outcome, reason);
      return outcome;
    });
    running.then(settle, settle);
    return running;
  }

  function schedule(): void {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      void reload('file change');
    }, debounceMs);
  }

  // Per watched directory, the names whose change means a reload: the files the configuration
  // uses, and Kubernetes' `..data` swap (names starting with '..'). Anything else written there
  // (a log file, an editor's scratch file) does not make the gateway re-read its configuration.
  let relevant = new Map<string, Set<string>>();

  function relevantNames(cfg: RuntimeConfig | null): Map<string, Set<string>> {
    const byDir = new Map<string, Set<string>>();
    const baseDir = path.dirname(file);
    for (const f of [file, ...(cfg ? fileReferences(cfg).map((ref) => path.resolve(baseDir, ref)) : [])]) {
      const dir = path.dirname(f);
      let names = byDir.get(dir);
      if (!names) byDir.set(dir, (names = new Set()));
      names.add(path.basename(f));
    }
    return byDir;
  }

  function onChange(dir: string, name: string | Buffer | null): void {
    const n = name === null ? null : String(name);
    if (n === null || n.startsWith('..') || relevant.get(dir)?.has(n) !== false) schedule();
  }

  function syncWatchers(cfg: RuntimeConfig | null): void {
    relevant = relevantNames(cfg);
    const wanted = new Set(watchedDirectories(file, cfg));
    for (const [dir, w] of watchers) {
      if (!wanted.has(dir)) {
        w.close();
        watchers.delete(dir);
      }
    }
    for (const dir of wanted) {
      if (watchers.has(dir)) continue;
      try {
        // persistent: false — the listeners keep the process alive, the watch must not.
        const w = watch(dir, { persistent: false }, (_event, name) => onChange(dir, name));
        w.on('error', (err) => {
          opts.log.warn({ dir, err: err.message }, 'configuration watch failed; SIGHUP still reloads');
          w.close();
          watchers.delete(dir);
        });
        watchers.set(dir, w);
      } catch (err) {
        opts.log.warn({ dir, err: (err as Error).message }, 'cannot watch a configuration directory; SIGHUP still reloads');
      }
    }
  }

  if (opts.watch !== false) {
    syncWatchers(opts.current());
    opts.log.debug({ directories: [...watchers.keys()] }, 'watching the configuration');
  }

  return {
    reload,
    directories: () => [...watchers.keys()].sort(),
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}
