// `npm test`: starts an ephemeral redis-server on a free port (unless REDIS_URL is set),
// then runs every test/**/*.test.ts with node:test, passing REDIS_URL to them.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { startRedis } from './helpers/redis.js';

const root = path.resolve(import.meta.dirname, '..');
const filter = process.argv.slice(2);
const files = readdirSync(path.join(root, 'test'), { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => path.join('test', f))
  .filter((f) => filter.length === 0 || filter.some((p) => f.includes(p)))
  .sort();

let redis: Awaited<ReturnType<typeof startRedis>> | null = null;
if (!process.env.REDIS_URL) {
  redis = await startRedis();
  console.log(`test run: ephemeral redis-server at ${redis.url}`);
}
const env = { ...process.env, REDIS_URL: process.env.REDIS_URL ?? redis?.url, NODE_ENV: 'test' };
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const child = spawn(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files], {
  cwd: root,
  env,
  stdio: 'inherit',
});
const code: number = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
await redis?.stop();
process.exit(code);
