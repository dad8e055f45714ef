import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { diskTempDir, onDisk } from './layout.js';

test('onDisk is path.join of root and path, also for paths and roots that need normalising', () => {
  const roots = ['/mnt/d', '/', '/mnt/d/', '/mnt/../d', '/mnt/./d', 'rel/d', '/mnt/d.', '/mnt/\udce9'];
  const paths = ['/a/b', '/a//b', '/a/./b', '/a/../b', '/a/', '/a/.', '/a/..', '/..', '/', 'a/b', '/a/.b/..c/...', '/a/b.', '/caf\udce9/x', '//a'];
  // Alternating roots: a remembered answer for one root must not leak to the next.
  for (const p of paths) for (const root of roots) assert.equal(onDisk(root, p), path.join(root, p), `${root} + ${p}`);
  assert.equal(diskTempDir('/mnt/d'), '/mnt/d/.blaine/tmp');
  assert.equal(diskTempDir('/mnt/e'), '/mnt/e/.blaine/tmp');
});
