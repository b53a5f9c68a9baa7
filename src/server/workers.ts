// server.workers resolved to a number of processes.
import os from 'node:os';
import type { RuntimeConfig } from '../config/load.js';

/** How many workers a configuration asks for ("auto" = the CPU count). */
export function workerCount(cfg: RuntimeConfig): number {
  const w = cfg.config.server.workers;
  return w === 'auto' ? os.availableParallelism() : w;
}
