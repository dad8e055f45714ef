import test from 'node:test';
import assert from 'node:assert/strict';
import { Catalog } from '../catalog/catalog.js';
import type { CatalogEntry } from '../catalog/entry.js';
import { archiveView, badPath } from './view.js';

function entry(volume: string, p: string, kind: 'file' | 'symlink' = 'file'): CatalogEntry {
  return {
    path: p, volume, kind, size: kind === 'file' ? 10 : 0, mtimeSec: 1, mtimeNsec: 2, inode: null, sha256: kind === 'file' ? 'ab' : null,
    mode: 0o100644, uid: 0, gid: 0, linkTarget: kind === 'symlink' ? '/elsewhere' : null, parityName: null, verifiedAt: null,
  };
}

test('badPath: only absolute, normalised paths without NUL can be written', () => {
  for (const p of ['/a', '/mnt/media/x.jpg', '/a/..b/c', '/a/b.../c']) assert.equal(badPath(p), null, p);
  assert.match(badPath('a/b')!, /not absolute/);
  assert.match(badPath('/x/../../pwned')!, /"\.\." component/);
  assert.match(badPath('/x/./y')!, /"\." component/);
  assert.match(badPath('/x//y')!, /not normalised/);
  assert.match(badPath('/x/')!, /not normalised/);
  assert.match(badPath('/x\0y')!, /NUL/);
  assert.match(badPath('/')!, /root/);
  assert.match(badPath('')!, /empty/);
});

test('archiveView: deleted paths, paths below a file or symlink and bad paths are left out; one row per path', () => {
  const host = Catalog.memory();
  try {
    // As a backup queues them: a DELETE removes its path's row; a path made again later has a row.
    for (const e of [
      entry('A', '/lib/kept.jpg'),
      entry('A', '/lib/remade.jpg'),
      entry('A', '/lib/swapped.jpg'),
      entry('B', '/lib/album', 'symlink'),
      entry('A', '/lib/album/photo.jpg'),
      entry('A', '/lib/x/../../pwned'),
      entry('A', '/lib/twice.jpg'),
      entry('B', '/lib/twice.jpg'),
    ]) host.put(e);
    host.defer('A', 'DELETE', '/lib/deleted.jpg', null);
    // Deleted, then made again by a link: alive.
    host.defer('A', 'DELETE', '/lib/remade.jpg', null);
    host.defer('A', 'LINK', '/lib/kept.jpg', '/lib/remade.jpg');
    // Deleted (held), then made again by a RENAME that a visit of A applied already: alive.
    host.defer('A', 'DELETE', '/lib/swapped.jpg', null);
    const v = archiveView(host, ['/lib/*']);
    assert.deepEqual(v.rows.map((e) => `${e.volume}:${e.path}`), ['B:/lib/album', 'A:/lib/kept.jpg', 'A:/lib/remade.jpg', 'A:/lib/swapped.jpg', 'A:/lib/twice.jpg']);
    assert.deepEqual(v.shadowed.map((e) => e.path), ['/lib/album/photo.jpg']);
    assert.deepEqual(v.rejected, [{ path: '/lib/x/../../pwned', why: 'it holds a ".." component' }]);
    // A glob that matches only the row below the symlink still leaves it out.
    assert.deepEqual(archiveView(host, ['/lib/album/*']).rows, []);
  } finally {
    host.close();
  }
});
