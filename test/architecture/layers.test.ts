// The layering of src/ (issue 9), checked on every import: a node (the first folder under src/,
// or a file directly under src/) may import only from its own layer or a lower one, and two
// nodes on the same layer may not import each other. Every relative import counts: `import`,
// `import type`, `export … from` and dynamic `import()`. A top-level node the table does not
// place fails the test, so a new folder gets a layer when it is made.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SRC = path.join(ROOT, 'src');

/** Low to high; nodes on one line are one layer and may not import each other. */
const LAYERS: ReadonlyArray<readonly string[]> = [
  /*  0 */ ['errors'], // GatewayError base and factories (created in wave 2)
  /*  1 */ ['oauth1', 'store'], // pure protocol; TokenStore contract and implementations (never config/)
  /*  2 */ ['ops'], // logger, metrics, per-request facts and the request log line
  /*  3 */ ['config'], // schema (every default), load/resolve, watch, cidr, user-name folding
  /*  4 */ ['http'], // HTTP messages: target, header checks, the one body reader, cookies, public paths
  /*  5 */ ['verify'], // pure checks over a request view
  /*  6 */ ['userauth'], // who the user is; neutral errors, no pages
  /*  7 */ ['gateway.ts'], // the Gateway object
  /*  8 */ ['provider', 'proxy'], // the dance and its pages; the resource hot path
  /*  9 */ ['server'], // composition: Koa app, dispatch, cluster, admin, middleware, openStore, workers
  /* 10 */ ['applinks', 'demo'],
  /* 11 */ ['commands'],
  /* 12 */ ['cli.ts'],
];

export interface Import {
  /** Repository-relative paths, '/'-separated. */
  from: string;
  to: string;
}

/** The node of a file under src/: its first folder, or the file itself when it lies directly in src/. */
export function nodeOf(file: string): string {
  const parts = file.split('/');
  assert.equal(parts[0], 'src', `not under src/: ${file}`);
  return parts[1] as string;
}

const LAYER_OF = new Map<string, number>(LAYERS.flatMap((nodes, layer) => nodes.map((n) => [n, layer] as const)));

/** What is wrong with one import, or null: unplaced nodes, upward imports, same-layer pairs. */
export function problemOf(imp: Import): string | null {
  const a = nodeOf(imp.from);
  const b = nodeOf(imp.to);
  if (a === b) return null;
  const la = LAYER_OF.get(a);
  const lb = LAYER_OF.get(b);
  if (la === undefined || lb === undefined) return null; // reported once per node by unplacedNodes
  if (lb > la) return `${imp.from} -> ${imp.to}: ${a} (layer ${la}) imports ${b} (layer ${lb}), a higher layer`;
  if (lb === la) return `${imp.from} -> ${imp.to}: ${a} and ${b} share layer ${la} and may not import each other`;
  return null;
}

export function unplacedNodes(files: readonly string[]): string[] {
  return [...new Set(files.map(nodeOf))].filter((n) => !LAYER_OF.has(n)).sort();
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.relative(ROOT, path.join(dir, f)).split(path.sep).join('/'))
    .sort();
}

/** Every relative import of the files, resolved to the .ts file it names (ESM: './x.js' is x.ts). */
function importsOf(files: readonly string[]): { imports: Import[]; unresolved: string[] } {
  const imports: Import[] = [];
  const unresolved: string[] = [];
  for (const from of files) {
    const text = readFileSync(path.join(ROOT, from), 'utf8');
    // The compiler's own scanner: comments and strings are skipped, type-only and export-from imports included.
    for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = path.resolve(path.dirname(path.join(ROOT, from)), fileName).replace(/\.js$/, '.ts');
      const candidates = [target, path.join(target, 'index.ts')];
      const found = candidates.find((c) => existsSync(c) && c.endsWith('.ts'));
      if (found === undefined) {
        unresolved.push(`${from}: ${fileName}`);
        continue;
      }
      imports.push({ from, to: path.relative(ROOT, found).split(path.sep).join('/') });
    }
  }
  return { imports, unresolved };
}

const importKey = (i: Import) => `${i.from} -> ${i.to}`;

describe('the layering of src/ (README "Development")', () => {
  const files = sourceFiles(SRC);
  const { imports, unresolved } = importsOf(files);

  it('every top-level node of src/ has a layer', () => {
    assert.deepEqual(unplacedNodes(files), [], 'place the new node(s) in LAYERS (test/architecture/layers.test.ts) and README "Development"');
  });

  it('every relative import resolves to a .ts file under src/', () => {
    assert.ok(files.length > 50, `found only ${files.length} files under src/`);
    assert.deepEqual(unresolved, []);
    for (const i of imports) assert.ok(i.to.startsWith('src/'), `${importKey(i)} leaves src/`);
  });

  it('no import goes to a higher layer or across a same-layer pair', () => {
    const wrong = imports.map(problemOf).filter((p): p is string => p !== null);
    assert.deepEqual([...new Set(wrong)], []);
  });
});

describe('the layering check itself', () => {
  it('an upward import fails: ops/ may not import the Gateway, config/ or server/', () => {
    assert.match(problemOf({ from: 'src/ops/logger.ts', to: 'src/gateway.ts' }) ?? '', /higher layer/);
    assert.match(problemOf({ from: 'src/ops/metrics.ts', to: 'src/config/load.ts' }) ?? '', /higher layer/);
    assert.match(problemOf({ from: 'src/verify/steps.ts', to: 'src/proxy/headers.ts' }) ?? '', /higher layer/);
    assert.match(problemOf({ from: 'src/store/redis.ts', to: 'src/errors/index.ts' }) ?? 'allowed', /allowed/);
  });

  it('a same-layer pair fails both ways; a node importing itself is fine', () => {
    assert.match(problemOf({ from: 'src/provider/authorize.ts', to: 'src/proxy/headers.ts' }) ?? '', /share layer 8/);
    assert.match(problemOf({ from: 'src/proxy/plan.ts', to: 'src/provider/paths.ts' }) ?? '', /share layer 8/);
    assert.match(problemOf({ from: 'src/oauth1/sign.ts', to: 'src/store/crypto.ts' }) ?? '', /share layer 1/);
    assert.equal(problemOf({ from: 'src/proxy/plan.ts', to: 'src/proxy/headers.ts' }), null);
  });

  it('downward imports pass; a file directly under src/ is its own node', () => {
    assert.equal(problemOf({ from: 'src/cli.ts', to: 'src/commands/serve.ts' }), null);
    assert.equal(problemOf({ from: 'src/gateway.ts', to: 'src/verify/failure-limit.ts' }), null);
    assert.match(problemOf({ from: 'src/gateway.ts', to: 'src/server/serve.ts' }) ?? '', /higher layer/);
  });

  it('an unknown top-level node is reported', () => {
    assert.deepEqual(unplacedNodes(['src/proxy/plan.ts', 'src/newthing/a.ts', 'src/loose.ts']), ['loose.ts', 'newthing']);
  });
});
