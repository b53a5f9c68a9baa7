// The user and link indexes of the Redis store: sets of access-token handles, pruned lazily (an
// entry may name a record that is gone, never the reverse), each living at least as long as its
// newest member; and the SCAN of every access record for an operator listing without a filter.
import { Cluster } from 'ioredis';
import type { Redis } from 'ioredis';
import type { IndexRef } from '../backend.js';
import type { Connection } from './connection.js';
import type { keyNames } from './records.js';
import type { StoreScripts } from './scripts.js';

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

export function indexes(conn: Connection, scripts: StoreScripts, keys: ReturnType<typeof keyNames>) {
  const { client, run } = conn;
  const keyOf = (index: IndexRef) => (index.kind === 'user' ? keys.user(index.key) : keys.link(index.key));

  /** Every access token handle, by SCAN over each master. */
  async function allAccessHandles(): Promise<string[]> {
    const pattern = `${escapeGlob(keys.accessHead)}*`;
    const nodes: Redis[] = client instanceof Cluster ? client.nodes('master') : [client];
    const handles = new Set<string>();
    const head = keys.accessHead;
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, found] = await run(() => node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000));
        cursor = next;
        for (const k of found) {
          if (k.startsWith(head) && k.endsWith('}')) handles.add(k.slice(head.length, -1));
        }
      } while (cursor !== '0');
    }
    return [...handles];
  }

  return {
    async indexAdd(index: IndexRef, h: string, keepMs: number): Promise<void> {
      await run(() => scripts.applinkIndexAdd(keyOf(index), h, keepMs));
    },
    async indexRemove(index: IndexRef, handles: string[]): Promise<void> {
      if (handles.length > 0) await run(() => client.srem(keyOf(index), ...handles));
    },
    async indexMembers(index: IndexRef | null): Promise<string[]> {
      if (index === null) return allAccessHandles();
      return run(() => client.smembers(keyOf(index)));
    },
  };
}
