import test from 'node:test';
import assert from 'node:assert/strict';
import type { CatalogEntry } from '../catalog/entry.js';
import { planCatchUp } from './catchup.js';
import type { Operation } from './operation.js';

function e(path: string, sha256: string | null, o: Partial<CatalogEntry> = {}): CatalogEntry {
  return {
    path, volume: 'V', kind: 'file', size: 5, mtimeSec: 1, mtimeNsec: 0, inode: '1:1', sha256, mode: 0o100644,
    uid: 0, gid: 0, linkTarget: null, parityName: null, verifiedAt: null, ...o,
  };
}

function brief(ops: Operation[]): string[] {
  return ops.map((op) => {
    switch (op.type) {
      case 'rename': return `rename ${op.from.path} -> ${op.to}`;
      case 'link': return `link ${op.from.path} -> ${op.record.path}`;
      case 'delete': return `delete ${op.entry.path}`;
      case 'update': return `update ${op.record.path}`;
      case 'symlink': return `symlink ${op.record.path}`;
      default: return op.type;
    }
  });
}

test('in step: nothing to do', () => {
  assert.deepEqual(planCatchUp([e('/a', 'X')], [e('/a', 'X')]), []);
});

test('a deferred rename, link and delete, by content', () => {
  const ops = planCatchUp([e('/a', 'X'), e('/gone', 'Z')], [e('/b', 'X'), e('/c', 'X')]);
  assert.deepEqual(brief(ops), ['rename /a -> /b', 'link /b -> /c', 'delete /gone']);
});

test('a swap goes through a temporary name', () => {
  const ops = planCatchUp([e('/a', 'X'), e('/b', 'Y')], [e('/a', 'Y'), e('/b', 'X')]);
  assert.deepEqual(brief(ops), ['rename /a -> /.blaine/tmp/swap-0/a', 'rename /b -> /a', 'rename /.blaine/tmp/swap-0/a -> /b']);
});

test('changed metadata is rewritten; a symlink is remade from the catalog', () => {
  const ops = planCatchUp(
    [e('/a', 'X')],
    [e('/a', 'X', { mtimeSec: 9 }), e('/l', null, { kind: 'symlink', linkTarget: 'a' })],
  );
  assert.deepEqual(brief(ops), ['update /a', 'symlink /l'], 'metadata first, so a link made after it joins an inode already right');
});

test('content the copy does not have is left for the backup; the stale file at that path is removed', () => {
  const ops = planCatchUp([e('/a', 'OLD')], [e('/a', 'NEW')]);
  assert.deepEqual(brief(ops), ['delete /a']);
});

test('a symlink where the volume has a folder again goes before anything is put below it', () => {
  const link = e('/lib/d', null, { kind: 'symlink', linkTarget: '/away', size: 5 });
  const ops = planCatchUp([link, e('/lib/k', 'X')], [e('/lib/k', 'X'), e('/lib/d/x', 'X'), e('/lib/d/s', null, { kind: 'symlink', linkTarget: 'x' })]);
  assert.deepEqual(brief(ops), ['delete /lib/d', 'symlink /lib/d/s', 'link /lib/k -> /lib/d/x']);
});

test('what stands below a folder the volume now holds as a symlink goes before the symlink is made', () => {
  const ops = planCatchUp(
    [e('/lib/d/x', 'X'), e('/lib/d/y', 'Y')],
    [e('/lib/d', null, { kind: 'symlink', linkTarget: '/away', size: 5 }), e('/lib/y2', 'Y')],
  );
  // y's content is still wanted: it moves; x goes before the symlink takes the folder's place.
  assert.deepEqual(brief(ops), ['rename /lib/d/y -> /lib/y2', 'delete /lib/d/x', 'symlink /lib/d']);
});
