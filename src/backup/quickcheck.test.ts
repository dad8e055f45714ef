import test from 'node:test';
import assert from 'node:assert/strict';
import { stamp } from '../catalog/stamp.js';
import type { FileRecord, PackedScan } from '../scan/record.js';
import { pack } from '../scan/scanner.js';
import { textDigest } from '../scan/packed.js';
import { comparePaths } from '../fsx/paths.js';
import { quickCheck, type QuickRow, type StoredRows } from './quickcheck.js';

function rec(name: string, inode: string, size = 5): FileRecord {
  return { path: `/d/${name}`, kind: 'file', size, mtimeSec: 1, mtimeNsec: 2, inode, nlink: 1, mode: 0o100644, uid: 0, gid: 0 };
}
const row = (r: FileRecord): QuickRow => [r.path, stamp(r.kind, r.size, r.mtimeSec, r.mtimeNsec, r.inode, r.mode, r.uid, r.gid, r.linkTarget)];
const scan = (records: FileRecord[], chunk?: number): PackedScan => pack({ root: '/d', exists: true, complete: true, records, skipped: [] }, chunk);

/** Stored rows as the catalog answers for them, counting how often they were asked for. */
function store(rows: QuickRow[]): StoredRows & { asked: { text: number } } {
  const sorted = [...rows].sort((a, b) => comparePaths(a[0], b[0]));
  const within = (lo: string, hi: string) => sorted.filter(([p]) => comparePaths(p, lo) >= 0 && comparePaths(p, hi) < 0);
  const asked = { text: 0 };
  return {
    asked,
    text: (lo, hi) => {
      asked.text++;
      return within(lo, hi).map(([p, s]) => `${p}\0${s ?? ''}`).join('\0');
    },
  };
}

/** The same, with the digests of those texts (as Catalog.quickDigest gives them), counted too. */
function storeWithDigests(rows: QuickRow[]): StoredRows & { asked: { text: number; digest: number } } {
  const plain = store(rows);
  const asked = { text: 0, digest: 0 };
  return {
    asked,
    text: (lo, hi) => {
      asked.text++;
      return plain.text(lo, hi);
    },
    digest: (lo, hi) => {
      asked.digest++;
      return textDigest(plain.text(lo, hi));
    },
  };
}

test('quick check: unchanged files leave the plan; changed, new and gone ones stay', () => {
  const a = rec('a', '1:1');
  const b = rec('b', '1:2');
  const c = rec('c', '1:3');
  const gone = rec('gone', '1:4');
  const res = quickCheck([scan([a, { ...b, size: 6 }, c, rec('new', '1:9')])], store([row(a), row(b), row(c), row(gone)]));
  assert.deepEqual(res.scans[0]!.records.map((r) => r.path), ['/d/b', '/d/new']);
  assert.equal(res.scans[0]!.unchangedCount, 2);
  assert.equal(res.unchanged, 2);
  assert.deepEqual([...res.keep].sort(), ['/d/b', '/d/gone']);
});

test('quick check: a chunk equal to its stored rows is settled by one comparison, others file by file', () => {
  const recs = Array.from({ length: 10 }, (_, i) => rec(`f${i}`, `1:${i + 1}`));
  const rows = recs.map(row);
  rows[7] = row({ ...recs[7]!, mtimeNsec: 3 });
  const stored = store(rows);
  const res = quickCheck([scan(recs, 4)], stored);
  assert.deepEqual(stored.asked, { text: 3 });
  assert.deepEqual(res.scans[0]!.records.map((r) => r.path), ['/d/f7']);
  assert.deepEqual([...res.keep], ['/d/f7']);
});

test('quick check: rows outside every chunk but under the root are gone; a missing data path keeps all its rows', () => {
  const a = rec('m', '1:1');
  const res = quickCheck([scan([a], 1)], store([row(rec('a', '1:5')), row(a), row(rec('z', '1:6'))]));
  assert.deepEqual([...res.keep].sort(), ['/d/a', '/d/z']);
  const none = quickCheck([{ root: '/d', exists: false, complete: false, skipped: [], chunks: [] }], store([row(a)]));
  assert.deepEqual([...none.keep], ['/d/m']);
  assert.equal(none.scans[0]!.records.length, 0);
});

test('quick check: an unchanged file sharing its inode with a new path stays (a new hardlink to it)', () => {
  // Two names of one inode: the scan sees a link count of 2 on both.
  const a = { ...rec('a', '1:1'), nlink: 2 };
  const res = quickCheck([scan([a, { ...a, path: '/d/link' }])], store([row(a)]));
  assert.deepEqual(res.scans[0]!.records.map((r) => r.path), ['/d/a', '/d/link']);
  assert.ok(res.keep.has('/d/a'));
});

test('quick check: a changed link target, owner or an inode beyond 2^53 is a change; records come back whole', () => {
  const big = rec('big', '2049:18446744073709551557');
  const link: FileRecord = { ...rec('link', '1:7'), kind: 'symlink', linkTarget: 'big' };
  const owned = rec('owned', '1:8');
  const res = quickCheck([scan([big, link, owned])], store([row(big), row({ ...link, linkTarget: 'old' }), row({ ...owned, uid: 1000 })]));
  assert.deepEqual(res.scans[0]!.records, [link, owned]);
  assert.equal(res.unchanged, 1);
  const res2 = quickCheck([scan([big])], store([row({ ...big, inode: '2049:18446744073709551556' })]));
  assert.deepEqual(res2.scans[0]!.records, [big]);
});

test('quick check: a stored row without a stamp is never taken as unchanged', () => {
  const a = rec('a', '1:1');
  const res = quickCheck([scan([a])], store([[a.path, null]]));
  assert.deepEqual(res.scans[0]!.records, [a]);
});

test('quick check: a hardlinked file in an unchanged chunk stays when a new path in another chunk shares its inode', () => {
  const a = { ...rec('a', '1:1'), nlink: 2 };
  const b = rec('b', '1:2');
  const link = { ...a, path: '/d/z-link' };
  const res = quickCheck([scan([a, b, link], 2)], store([row(a), row(b)]));
  assert.deepEqual(res.scans[0]!.records.map((r) => r.path), ['/d/a', '/d/z-link']);
  assert.equal(res.unchanged, 1);
  assert.ok(res.keep.has('/d/a'));
});

test('quick check: gone, new, changed and must-read-again rows interleaved in one chunk, names in byte order (one not UTF-8)', () => {
  // '\udc80' is the byte 0x80 of a name that is not UTF-8 (fsx/name-bytes.ts): it sorts after 'é' (0xc3 0xa9) by bytes, before it by UTF-16.
  const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g\u00e9', 'g\udc80', 'h'];
  const recs = names.map((n, i) => rec(n, `1:${i + 1}`));
  const [a, b, c, d, e, f, gAcute, gByte, h] = recs as [FileRecord, FileRecord, FileRecord, FileRecord, FileRecord, FileRecord, FileRecord, FileRecord, FileRecord];
  const stored = store([
    row(rec('0-gone', '1:50')), row(a), [b.path, null], row({ ...c, size: 9 }), row(rec('c-gone', '1:51')),
    row(e), row({ ...f, mtimeSec: 7 }), row(gAcute), row(rec('g\u00e9z-gone', '1:52')), row(gByte), row(rec('z-gone', '1:53')),
  ]);
  // d and h are new; b must be read again; c and f changed; everything else unchanged.
  const res = quickCheck([scan([a, b, c, d, e, f, gAcute, gByte, h].sort((x, y) => comparePaths(x.path, y.path)))], stored);
  assert.deepEqual(res.scans[0]!.records.map((r) => r.path), [b, c, d, f, h].map((r) => r.path));
  assert.deepEqual([...res.keep].sort(), ['/d/0-gone', '/d/b', '/d/c', '/d/c-gone', '/d/f', '/d/g\u00e9z-gone', '/d/z-gone'].sort());
  assert.equal(res.unchanged, 4);
});

test('quick check: equal digests settle chunks without their text; when every chunk differs, few digests are asked for', () => {
  const recs = Array.from({ length: 80 }, (_, i) => rec(`f${String(i).padStart(2, '0')}`, `1:${i + 1}`));
  // One change in the 20 chunks of 4: one text read, 20 digests.
  const rows = recs.map(row);
  rows[41] = row({ ...recs[41]!, mtimeNsec: 3 });
  const few = storeWithDigests(rows);
  const res = quickCheck([scan(recs, 4)], few);
  assert.deepEqual(few.asked, { text: 1, digest: 20 });
  assert.deepEqual(res.scans[0]!.records.map((r) => r.path), ['/d/f41']);
  // A week's changes in every chunk: the digests would only add to the texts. After two that
  // settle nothing, one chunk in eight still tries; every change is found all the same.
  const every = storeWithDigests(recs.map((r) => row({ ...r, mtimeNsec: 3 })));
  const all = quickCheck([scan(recs, 4)], every);
  assert.equal(every.asked.text, 20);
  assert.ok(every.asked.digest <= 5, `${every.asked.digest} digests for 20 chunks that all differ`);
  assert.equal(all.scans[0]!.records.length, 80);
});
