import test from 'node:test';
import assert from 'node:assert/strict';
import { sha256 } from '../../test/helpers.js';
import { Catalog } from '../catalog/catalog.js';
import type { CatalogEntry } from '../catalog/entry.js';
import { describeForget, findTarget, forget } from './forget.js';

function entry(volume: string, p: string, over: Partial<CatalogEntry> = {}): CatalogEntry {
  return {
    volume, path: p, kind: 'file', size: 10, mtimeSec: 1, mtimeNsec: 0, inode: null, sha256: sha256(p),
    mode: 0o644, uid: 0, gid: 0, linkTarget: null, parityName: null, verifiedAt: null, ...over,
  };
}

function shelf(): Catalog {
  const cat = Catalog.memory();
  for (const [uuid, label] of [['aaaa-1', 'A'], ['bbbb-2', 'B']] as const) {
    cat.putVolume({ uuid, label, encrypted: false, created: `2020-0${label === 'A' ? 1 : 2}-01`, generation: 3 });
  }
  cat.putCopy({ copy: 'ca-1', volume: 'aaaa-1', label: 'A', generation: 3, lastSync: null, freeBytes: null, files: 0, bytes: 0 });
  cat.putCopy({ copy: 'cb-1', volume: 'bbbb-2', label: 'B', generation: 3, lastSync: null, freeBytes: null, files: 0, bytes: 0 });
  cat.putCopy({ copy: 'cb-2', volume: 'bbbb-2', label: "B'", generation: 2, lastSync: null, freeBytes: null, files: 0, bytes: 0 });
  cat.put(entry('aaaa-1', '/a/only'));
  cat.put(entry('aaaa-1', '/a/same-content', { sha256: sha256('shared') }));
  cat.put(entry('bbbb-2', '/b/other-name', { sha256: sha256('shared') }));
  cat.put(entry('aaaa-1', '/a/size-differs', { sha256: sha256('x'), size: 11 }));
  cat.put(entry('bbbb-2', '/b/size-differs', { sha256: sha256('x'), size: 12 }));
  cat.put(entry('aaaa-1', '/link', { kind: 'symlink', sha256: null, size: 0, linkTarget: 't' }));
  cat.put(entry('bbbb-2', '/link', { kind: 'symlink', sha256: null, size: 0, linkTarget: 't' }));
  cat.put(entry('aaaa-1', '/link2', { kind: 'symlink', sha256: null, size: 0, linkTarget: 'u' }));
  cat.put(entry('bbbb-2', '/link2', { kind: 'symlink', sha256: null, size: 0, linkTarget: 'v' }));
  cat.defer('aaaa-1', 'DELETE', '/a/gone', null);
  cat.defer('bbbb-2', 'DELETE', '/b/gone', null);
  return cat;
}

const byName = (cat: Catalog) => (n: string) => {
  const v = cat.volumes().find((x) => x.label === n || x.uuid.startsWith(n));
  if (!v) throw new Error(`no volume ${n}`);
  return v;
};

test('a forgotten volume reports what no other volume holds, by content for files and by path and target for symlinks', () => {
  const cat = shelf();
  const t = findTarget(cat, 'A', undefined, byName(cat));
  const d = describeForget(cat, t);
  assert.deepEqual(d.notArchived.map((e) => e.path), ['/a/only', '/a/size-differs', '/link2']);
  assert.equal(d.files, 5);
  assert.equal(d.pending, 1);
  forget(cat, t);
  assert.deepEqual(cat.volumes().map((v) => v.label), ['B']);
  assert.deepEqual(cat.entriesOfVolume('aaaa-1'), []);
  assert.deepEqual(cat.deferred().map((q) => q.volume), ['bbbb-2']);
  assert.deepEqual(cat.copies().map((c) => c.copy).sort(), ['cb-1', 'cb-2']);
});

test("one copy: named by its label alone or with --copy; the volume keeps rows and queue; the behind twin is reported", () => {
  const cat = shelf();
  assert.throws(() => findTarget(cat, 'nothing', undefined, byName(cat)), /no volume nothing/);
  const t = findTarget(cat, 'B', 'cb-1', byName(cat));
  assert.equal(t.copy?.label, 'B');
  const alone = findTarget(cat, "B'", undefined, byName(cat));
  assert.equal(alone.copy?.copy, 'cb-2');
  const r = forget(cat, t);
  assert.deepEqual(r.remaining, [{ copy: 'cb-2', label: "B'", behind: true }]);
  assert.equal(cat.entriesOfVolume('bbbb-2').length, 4);
  assert.equal(cat.deferred('bbbb-2').length, 1);
  assert.throws(() => describeForget(cat, findTarget(cat, 'B', "B'", byName(cat))), /the only copy of volume "B"/);
});
