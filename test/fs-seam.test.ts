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
