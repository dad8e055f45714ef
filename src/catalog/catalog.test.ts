import test from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import * as path from 'node:path';
import { scratchDir } from '../../test/helpers.js';
import { Catalog, CatalogError } from './catalog.js';
import { SCHEMA_VERSION } from './schema.js';
import type { CatalogEntry } from './entry.js';
import { stamp } from './stamp.js';
import { downgradeTo3, rawConnection } from './testing.js';
import { realFs } from '../fsx/fsx.js';

function entry(p: string, over: Partial<CatalogEntry> = {}): CatalogEntry {
  return {
    path: p, volume: 'v1', kind: 'file', size: 5, mtimeSec: 1_700_000_000, mtimeNsec: 123_456_789, inode: '2049:77',
    sha256: 'a'.repeat(64), mode: 0o100644, uid: 1000, gid: 1000, linkTarget: null, parityName: null, verifiedAt: null, ...over,
  };
}
const stampOf = (e: CatalogEntry) => stamp(e.kind, e.size, e.mtimeSec, e.mtimeNsec, e.inode, e.mode, e.uid, e.gid, e.linkTarget);

test('put writes each row\'s stamp; the quick text of a range is its rows in byte order, NUL-separated', () => {
  const cat = Catalog.memory();
  const rows = [entry('/d/a b/x'), entry('/d/a-b'), entry('/d/a/x', { kind: 'symlink', linkTarget: '../a-b', sha256: null }), entry('/d/a0'), entry('/e/other')];
  cat.transaction(() => {
    for (const e of rows) cat.put(e);
    cat.put(entry('/d/a0', { volume: 'v2' }));
  });
  const under = rows.slice(0, 4);
  assert.equal(cat.quickText('v1', '/d/', '/d0'), under.map((e) => `${e.path}\0${stampOf(e)}`).join('\0'));
  assert.deepEqual(cat.quickRows('v1', '/d/a-', '/d/a0'), [['/d/a-b', stampOf(rows[1]!)], ['/d/a/x', stampOf(rows[2]!)]]);
  assert.equal(cat.quickText('v1', '/x/', '/x0'), '');
  cat.close();
});

test('a catalog of schema 1 gets its stamps on opening', (t) => {
  const file = path.join(scratchDir(t, 'blaine-catalog-'), 'old.sqlite');
  const rows = [entry('/d/one'), entry('/d/link', { kind: 'symlink', linkTarget: 'one', sha256: null }), entry('/d/rebuilt', { inode: null })];
  const cat = Catalog.open(file, { create: true });
  cat.transaction(() => rows.forEach((e) => cat.put(e)));
  cat.close();
  // Back to how Blaine's first schema left it: no stamp column, runs without their after-state.
  const raw = new Database(file);
  downgradeTo3(raw);
  raw.exec('ALTER TABLE files DROP COLUMN stamp; ALTER TABLE runs DROP COLUMN files_after; ALTER TABLE runs DROP COLUMN capacity');
  raw.pragma('user_version = 1');
  raw.close();

  const again = Catalog.open(file);
  assert.equal(rawConnection(again).pragma('user_version', { simple: true }), SCHEMA_VERSION);
  assert.deepEqual(again.quickRows('v1', '/d/', '/d0'), [...rows].sort((a, b) => (a.path < b.path ? -1 : 1)).map((e) => [e.path, stampOf(e)]));
  again.close();
});

test('snapshotTo copies every committed row, by file copy or (while a reader holds the log) through SQLite', async (t) => {
  const dir = scratchDir(t, 'blaine-snapshot-');
  const cat = Catalog.open(path.join(dir, 'c.sqlite'), { create: true });
  cat.transaction(() => {
    for (let i = 0; i < 500; i++) cat.put(entry(`/d/f${i}`, { size: i }));
  });
  cat.transaction(() => cat.remove('v1', '/d/f7'));
  const paths = (file: string) => {
    const c = Catalog.open(file);
    try {
      return c.entriesOfVolume('v1').map((e) => `${e.path}:${e.size}`);
    } finally {
      c.close();
    }
  };
  const want = cat.entriesOfVolume('v1').map((e) => `${e.path}:${e.size}`);
  assert.equal(want.length, 499);
  await cat.snapshotTo(path.join(dir, 'copied.sqlite'), realFs);
  assert.deepEqual(paths(path.join(dir, 'copied.sqlite')), want);
  // A reader's older view keeps the log from being folded in: the file alone would miss the new row.
  const reader = new Database(path.join(dir, 'c.sqlite'), { readonly: true });
  reader.exec('BEGIN');
  reader.prepare('SELECT count(*) FROM files').get();
  cat.transaction(() => cat.put(entry('/d/late', { size: 1 })));
  await cat.snapshotTo(path.join(dir, 'vacuumed.sqlite'), realFs);
  reader.exec('COMMIT');
  reader.close();
  assert.deepEqual(paths(path.join(dir, 'vacuumed.sqlite')).sort(), [...want, '/d/late:1'].sort());
  cat.close();
});

test('a catalog of schema 2 gets the runs\' file count and disk size; read-only, its runs read as unknown', (t) => {
  const file = path.join(scratchDir(t, 'blaine-catalog-'), 'old.sqlite');
  const cat = Catalog.open(file, { create: true });
  const id = cat.startRun('backup', 'v1', 'c1');
  cat.finishRun(id, 'ok', { added: 3 }, 1000, 500, { files: 3, capacity: 4000 });
  assert.deepEqual(
    cat.finishedRuns().map((r) => [r.command, r.volume, r.copy, r.status, r.summary, r.freeAfter, r.usedBytes, r.filesAfter, r.capacity]),
    [['backup', 'v1', 'c1', 'ok', { added: 3 }, 1000, 500, 3, 4000]],
  );
  cat.close();
  const raw = new Database(file);
  downgradeTo3(raw);
  raw.exec('ALTER TABLE runs DROP COLUMN files_after; ALTER TABLE runs DROP COLUMN capacity');
  raw.pragma('user_version = 2');
  raw.close();

  const readonly = Catalog.open(file, { readonly: true });
  assert.deepEqual(readonly.finishedRuns().map((r) => [r.usedBytes, r.filesAfter, r.capacity]), [[500, null, null]]);
  readonly.close();
  const again = Catalog.open(file);
  assert.equal(rawConnection(again).pragma('user_version', { simple: true }), SCHEMA_VERSION);
  const next = again.startRun('verify', 'v1', 'c1');
  again.finishRun(next, 'ok', 'not an object', null, null, { files: 7 });
  assert.deepEqual(again.finishedRuns().map((r) => [r.command, r.summary, r.filesAfter]), [['backup', { added: 3 }, null], ['verify', {}, 7]]);
  again.close();
});
