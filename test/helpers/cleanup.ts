// A test run never hangs: what a `before` (or a start helper) started is closed even when it
// fails half-way, since one server or child process left open keeps the test process alive.

type Closer = () => unknown;

export interface Resources {
  /** Registers a started resource with its closer; returns the resource. */
  add<T>(resource: T, close: (r: T) => unknown): T;
  /** Registers a closer (temporary directories and the like). */
  defer(close: Closer): void;
  /** Runs every closer, last registered first, each even when an earlier one threw; then rethrows. */
  close(): Promise<void>;
}

export function resources(): Resources {
  const closers: Closer[] = [];
  return {
    add(resource, close) {
      closers.push(() => close(resource));
      return resource;
    },
    defer(close) {
      closers.push(close);
    },
    async close() {
      const errors: unknown[] = [];
      for (let c = closers.pop(); c !== undefined; c = closers.pop()) {
        try {
          await c();
        } catch (e) {
          errors.push(e);
        }
      }
      if (errors.length === 1) throw errors[0];
      if (errors.length > 1) throw new AggregateError(errors, 'closing test resources failed');
    },
  };
}

/**
 * Runs `start` with a fresh Resources; when it throws, closes what it had registered and rethrows
 * the original error. For start helpers that start several things.
 */
export async function startedAll<T>(start: (res: Resources) => Promise<T>): Promise<T> {
  const res = resources();
  try {
    return await start(res);
  } catch (e) {
    await res.close().catch(() => undefined);
    throw e;
  }
}
