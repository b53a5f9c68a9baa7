// fast-check set-up shared by the property tests: one seed per process, from FC_SEED when set
// (else a random one), printed at start so that any run can be repeated exactly:
//   FC_SEED=<seed> npm test -- properties        (same inputs again)
//   FC_RUNS=5000 npm test -- properties          (a longer soak; default 100 runs per property)
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import fc from 'fast-check';

function intFromEnv(name: string, fallback: () => number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback();
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, not ${JSON.stringify(raw)}`);
  return n;
}

/** The seed of every property in this process. */
export const FC_SEED = intFromEnv('FC_SEED', () => (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0);
/** Runs of a property of weight 1 (cheap ones); heavier properties run a fraction of it. */
export const FC_RUNS = intFromEnv('FC_RUNS', () => 100);
if (FC_RUNS < 1) throw new Error('FC_RUNS must be at least 1');

let announced = false;

/** Prints the seed and run count once per file, with the command that repeats the run. */
export function announceSeed(file: string): void {
  if (announced) return;
  announced = true;
  const name = file.split('/').slice(-2).join('/');
  console.log(`fast-check: seed ${FC_SEED}, ${FC_RUNS} runs per property; reproduce with FC_SEED=${FC_SEED} FC_RUNS=${FC_RUNS} npm test -- ${name}`);
}

/**
 * Checks a property with the process seed and `weight` x FC_RUNS runs (at least 1), fails the test
 * with fast-check's report (counterexample, seed and path) and notes the run count in the test output.
 */
export async function checkProperty<Ts>(t: TestContext, property: fc.IProperty<Ts> | fc.IAsyncProperty<Ts>, weight = 1): Promise<void> {
  const numRuns = Math.max(1, Math.round(FC_RUNS * weight));
  const details = await fc.check(property as fc.IAsyncProperty<Ts>, { seed: FC_SEED, numRuns });
  if (details.failed) {
    const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    assert.fail(`${fc.defaultReportMessage(details) ?? `property failed (seed ${FC_SEED})`}\nError: ${cause}`);
  }
  // A property whose preconditions skip most runs tests nothing: make that visible, and fail it.
  assert.ok(details.numRuns >= Math.ceil(numRuns / 2), `only ${details.numRuns} of ${numRuns} runs were not skipped`);
  t.diagnostic(`${details.numRuns} runs (${details.numSkips} skipped), seed ${details.seed}`);
}
