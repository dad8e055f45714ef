import test from 'node:test';
import assert from 'node:assert/strict';
import { dirEntry, planDirs, replacedBelow } from './sync.js';
import type { DirRecord, DirScan } from './scan.js';

const dir = (p: string, mode = 0o40755, mtimeSec = 1): DirRecord => ({ path: p, mode, uid: 0, gid: 0, mtimeSec, mtimeNsec: 5, inode: '1:1' });
const scan = (dirs: DirRecord[], complete = true): DirScan => ({ root: '/lib', dirs, complete });
const rows = (...ds: DirRecord[]) => () => ds.map((d) => dirEntry('V', d));
const keepAll = { clean: false, excluded: () => false, mayRemove: true };

test('planDirs: new, changed mode or mtime, unchanged', () => {
  const p = planDirs([scan([dir('/lib'), dir('/lib/a', 0o40700), dir('/lib/b', 0o40755, 2), dir('/lib/new')])], rows(dir('/lib'), dir('/lib/a'), dir('/lib/b')), keepAll);
  assert.deepEqual(p.counts, { added: 1, updated: 2, removed: 0, kept: 0 });
  assert.deepEqual(p.wanted.map((d) => d.path), ['/lib', '/lib/a', '/lib/b', '/lib/new']);
});

test('planDirs: a gone folder is kept without --clean, removed with it (deepest first), kept when excluded, when the scan was incomplete or the guard held', () => {
  const catalogued = rows(dir('/lib'), dir('/lib/gone'), dir('/lib/gone/below'));
  const now = scan([dir('/lib')]);
  assert.deepEqual(planDirs([now], catalogued, keepAll).counts, { added: 0, updated: 0, removed: 0, kept: 2 });
  const clean = planDirs([now], catalogued, { ...keepAll, clean: true });
  assert.deepEqual(clean.remove.map((e) => e.path), ['/lib/gone/below', '/lib/gone']);
  assert.equal(planDirs([now], catalogued, { ...keepAll, clean: true, excluded: (p) => p.startsWith('/lib/gone') }).counts.kept, 2);
  assert.equal(planDirs([scan([dir('/lib')], false)], catalogued, { ...keepAll, clean: true }).counts.kept, 2);
  assert.equal(planDirs([now], catalogued, { ...keepAll, clean: true, mayRemove: false }).counts.kept, 2);
});

test('planDirs: a folder now a file or symlink is replaced, with what was below it, whatever --clean says', () => {
  const p = planDirs([scan([dir('/lib')])], rows(dir('/lib'), dir('/lib/x'), dir('/lib/x/y')), {
    ...keepAll,
    replacedNow: (root, p) => replacedBelow(root, p, (q) => (q === '/lib/x' ? { isDirectory: () => false } : null)),
  });
  assert.deepEqual(p.replaced.map((e) => e.path), ['/lib/x/y', '/lib/x']);
  assert.deepEqual(p.counts, { added: 0, updated: 0, removed: 2, kept: 0 });
});
