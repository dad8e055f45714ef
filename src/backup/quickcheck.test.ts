import test from 'node:test';
import assert from 'node:assert/strict';
import type { FileRecord, RootScan } from '../scan/record.js';
import { quickCheck, type QuickRow } from './quickcheck.js';

function rec(name: string, inode: string, size = 5): FileRecord {
  return { path: `/d/${name}`, kind: 'file', size, mtimeSec: 1, mtimeNsec: 2, inode, nlink: 1, mode: 0o100644, uid: 0, gid: 0 };
}
const row = (r: FileRecord): QuickRow => [r.path, r.kind, r.size, r.mtimeSec, r.mtimeNsec, r.inode, r.mode, r.uid, r.gid, null];
const scan = (records: FileRecord[]): RootScan => ({ root: '/d', exists: true, complete: true, records, skipped: [] });

test('quick check: unchanged files leave the plan; changed, new and gone ones stay', () => {
  const a = rec('a', '1:1');
  const b = rec('b', '1:2');
  const c = rec('c', '1:3');
  const gone = rec('gone', '1:4');
  const res = quickCheck([scan([a, { ...b, size: 6 }, c, rec('new', '1:9')])], () => [row(a), row(b), row(c), row(gone)].sort((x, y) => (x[0] < y[0] ? -1 : 1)));
  assert.ok(res);
  assert.deepEqual(res.scans[0]!.records.map((r) => r.path), ['/d/b', '/d/new']);
  assert.equal(res.scans[0]!.unchangedCount, 2);
  assert.deepEqual([...res.keep].sort(), ['/d/b', '/d/gone']);
});

test('quick check: an unchanged file sharing its inode with a new path stays (a new hardlink to it)', () => {
  const a = rec('a', '1:1');
  const res = quickCheck([scan([a, { ...a, path: '/d/link' }])], () => [row(a)]);
  assert.ok(res);
  assert.deepEqual(res.scans[0]!.records.map((r) => r.path), ['/d/a', '/d/link']);
  assert.ok(res.keep.has('/d/a'));
});

test('quick check: out-of-order input is refused rather than mismatched', () => {
  assert.equal(quickCheck([scan([rec('b', '1:1'), rec('a', '1:2')])], () => []), null);
});
