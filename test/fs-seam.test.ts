/**
 * The file-system seam: outside src/fsx/ (the layer itself), src/cli/ (commands pick
 * the process's layer) and src/catalog/ (SQLite's own files), no module of src/ imports node:fs,
 * and none falls back to the real layer on its own: engines work through the Fsx they are given,
 * so injected faults reach every call and every path meets node:fs as its bytes (fsPath) in one
 * place. Tests are left out.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './helpers.js';

const ALLOWED = ['fsx', 'cli', 'catalog'];

function sources(): Array<{ rel: string; text: string }> {
  const src = path.join(repoRoot, 'src');
  return (fs.readdirSync(src, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((rel) => ({ rel, text: fs.readFileSync(path.join(src, rel), 'utf8') }));
}

test('node:fs is imported only in src/fsx/, src/cli/ and src/catalog/', () => {
  const all = sources();
  assert.ok(all.length > 100, `only ${all.length} modules found`);
  const offenders = all
    .filter(({ rel }) => !ALLOWED.includes(rel.split(path.sep)[0]!))
    .filter(({ text }) => /\bfrom\s+'(node:)?fs(\/promises)?'|\brequire\(\s*'(node:)?fs(\/promises)?'\s*\)|\bimport\(\s*'(node:)?fs/.test(text))
    .map(({ rel }) => rel);
  assert.deepEqual(offenders, []);
});

test('no engine defaults a file-system parameter to the real layer', () => {
  // `fs: Fsx = realFs` or `opts.fs ?? realFs`; the scanner's JS walk is the exception: it runs in
  // worker threads, which no layer can be handed to, and tests replace it through ScanOptions.fs.
  const offenders = sources()
    .filter(({ rel }) => rel !== path.join('scan', 'scanner.ts') && rel.split(path.sep)[0] !== 'cli')
    .filter(({ text }) => /:\s*Fsx\s*=\s*realFs\b|\?\?\s*realFs\b/.test(text))
    .map(({ rel }) => rel);
  assert.deepEqual(offenders, []);
});

/** Modules that use the real layer at module level on purpose, each with why. */
const REAL_ON_PURPOSE = new Map<string, string>([
  // The scanning threads walk the data paths in workers, which no layer can be handed to.
  [path.join('scan', 'scanner.ts'), 'the JS walk runs in worker threads'],
  [path.join('scan', 'background.ts'), 'lists the parts that worker threads then scan'],
  // The library's folders are read beside the file scan, and as it does: the real file system.
  [path.join('dirs', 'scan.ts'), 'walks the data paths as the file scanner does'],
  // A check of which disk is mounted is no step of the run; the tests' fault layer counts steps.
  [path.join('archive', 'identity.ts'), 'identity checks read node:fs itself'],
]);

/** Modules not yet given the caller's layer: this list only shrinks. */
const REAL_NOT_YET = [
  'archive/lock.ts',
  'crypt/gocryptfs.ts',
  'crypt/key.ts',
  'crypt/mounts.ts',
  'crypt/testing.ts',
  'crypt/tools.ts',
  'parity/packets.ts',
  'parity/par2.ts',
  'parity/paths.ts',
  'parity/repair-copy.ts',
  'parity/rescue.ts',
  'parity/run-par2.ts',
  'parity/staging.ts',
].map((p) => path.join(...p.split('/')));

test('no module outside the allow-lists takes the real layer instead of the one it is given', () => {
  // Any value import of realFs (alone or renamed) from the layer; `import type` brings no layer.
  const usesRealFs = /\bimport\s*\{[^}]*(?<!type\s)\brealFs\b[^}]*\}\s*from\s*'[./]*fsx\/fsx\.js'/;
  const found = sources()
    .filter(({ rel }) => !['fsx', 'cli'].includes(rel.split(path.sep)[0]!))
    .filter(({ text }) => usesRealFs.test(text))
    .map(({ rel }) => rel);
  assert.deepEqual(
    found.filter((rel) => !REAL_ON_PURPOSE.has(rel) && !REAL_NOT_YET.includes(rel)),
    [],
    'engines use the Fsx their caller passes (SPEC: the file-system seam)',
  );
  // A module that no longer needs its place on a list leaves it, so the lists stay true.
  assert.deepEqual([...REAL_ON_PURPOSE.keys(), ...REAL_NOT_YET].filter((rel) => !found.includes(rel)), []);
});
