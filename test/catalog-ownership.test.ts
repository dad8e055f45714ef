/**
 * Only src/catalog/ speaks SQL: every statement and every meta key of the catalogs
 * lives there, behind operations named in the domain. This reads every other module of src/
 * (tests left out) and fails on anything that talks to SQLite directly.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './helpers.js';

/** What gives SQL away: a statement, a connection handle, the driver itself. */
const SQL_SIGNS: Array<[string, RegExp]> = [
  ['an SQL statement', /\b(SELECT\s+[\w*(]|INSERT\s+(OR\s+\w+\s+)?INTO\b|DELETE\s+FROM\b|UPDATE\s+\w+\s+SET\b|CREATE\s+(TEMP\s+)?(TABLE|INDEX|TRIGGER)\b|DROP\s+(TABLE|INDEX)\b|ALTER\s+TABLE\b)/],
  ['a prepared statement', /\.prepare\(/],
  ['a pragma', /\.pragma\(/],
  ['a catalog connection', /\.db\.|\bdb\.(exec|inTransaction)\b/],
  ['the SQLite driver', /from\s+'better-sqlite3'/],
];

/** Each `file:line: what` where a module outside src/catalog/ talks to SQLite. */
export function sqlOutsideCatalog(srcDir: string): string[] {
  const found: string[] = [];
  const files = (fs.readdirSync(srcDir, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  for (const file of files) {
    if (file.split(path.sep)[0] === 'catalog') continue;
    const lines = fs.readFileSync(path.join(srcDir, file), 'utf8').split('\n');
    lines.forEach((line, i) => {
      for (const [what, sign] of SQL_SIGNS) if (sign.test(line)) found.push(`${file}:${i + 1}: ${what}: ${line.trim()}`);
    });
  }
  return found;
}

test('no module outside src/catalog/ holds SQL, a statement or a catalog connection', () => {
  assert.deepEqual(sqlOutsideCatalog(path.join(repoRoot, 'src')), []);
});

test('the check finds SQL where it should not be', () => {
  const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'blaine-sql-'));
  try {
    fs.mkdirSync(path.join(dir, 'report'));
    fs.mkdirSync(path.join(dir, 'catalog'));
    fs.writeFileSync(path.join(dir, 'report', 'x.ts'), "const n = host.db.prepare('SELECT count(*) FROM files').get();\n");
    fs.writeFileSync(path.join(dir, 'catalog', 'y.ts'), "const n = db.prepare('SELECT count(*) FROM files').get();\n");
    const found = sqlOutsideCatalog(dir);
    assert.equal(found.length, 3, found.join('\n'));
    assert.ok(found.every((f) => f.startsWith(`report${path.sep}x.ts:1:`)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
