import test from 'node:test';
import assert from 'node:assert/strict';
import type { CatalogEntry } from '../catalog/entry.js';
import type { FileRecord } from '../scan/record.js';
import { relatedTo } from './partition.js';

function rec(p: string, over: Partial<FileRecord> = {}): FileRecord {
  return { path: p, kind: 'file', size: 10, mtimeSec: 100, mtimeNsec: 0, inode: `1:${p.length}${p.charCodeAt(p.length - 1)}`, nlink: 1, mode: 0o100644, uid: 0, gid: 0, ...over };
}

function row(p: string, over: Partial<CatalogEntry> = {}): CatalogEntry {
  return {
    path: p, volume: 'v', kind: 'file', size: 10, mtimeSec: 100, mtimeNsec: 0, inode: '9:1', sha256: 'a'.repeat(64),
    mode: 0o100644, uid: 0, gid: 0, linkTarget: null, parityName: null, verifiedAt: null, ...over,
  };
}

test('a record is planned with the catalog when a row shares its path, inode, a directory above or below, or other names', () => {
  const related = relatedTo(
    [row('/m/a/old-name', { inode: '9:42' }), row('/m/b/was-a-file', { inode: '9:43' }), row('/m/c/dir/below', { inode: null })],
    { matchMode: 'inode' },
  );
  assert.equal(related(rec('/m/a/old-name')), true, 'same path');
  assert.equal(related(rec('/m/z/moved-far', { inode: '9:42' })), true, 'same inode, another chunk of the tree');
  assert.equal(related(rec('/m/b/was-a-file/now-inside')), true, 'a catalogued file above it');
  assert.equal(related(rec('/m/c/dir')), true, 'catalogued files below it');
  assert.equal(related(rec('/m/n/hardlinked', { nlink: 2 })), true, 'other names of its inode');
  assert.equal(related(rec('/m/a/new-file')), false);
  assert.equal(related(rec('/m/c/dir-sibling')), false);
  assert.equal(related(rec('/m/b/was-a-file-2')), false);
});

test('with no catalogued rows only hardlinked records are planned together; size-mtime matching relates equal sizes and times', () => {
  const none = relatedTo([], { matchMode: 'inode' });
  assert.equal(none(rec('/m/x')), false);
  assert.equal(none(rec('/m/y', { nlink: 3 })), true);
  const bySizeMtime = relatedTo([row('/m/gone', { size: 77, mtimeSec: 5, mtimeNsec: 6 })], { matchMode: 'size-mtime' });
  assert.equal(bySizeMtime(rec('/m/renamed', { size: 77, mtimeSec: 5, mtimeNsec: 6 })), true);
  assert.equal(bySizeMtime(rec('/m/other', { size: 77, mtimeSec: 5, mtimeNsec: 7 })), false);
  assert.equal(relatedTo([row('/m/gone', { size: 77, mtimeSec: 5, mtimeNsec: 6 })], { matchMode: 'inode' })(rec('/m/renamed', { size: 77, mtimeSec: 5, mtimeNsec: 6 })), false);
});
