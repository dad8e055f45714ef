import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { blaine, tempDir, write, scratchDir } from '../../test/helpers.js';

test('list: host catalog, disk catalog, globs, sorting, JSON fields', (t) => {
  const base = scratchDir(t);
  const lib = path.join(base, 'lib');
  const db = path.join(base, 'db.sqlite');
  const disk = path.join(base, 'disk');
  fs.mkdirSync(disk);
  write(path.join(lib, 'photos/a.jpg'), 'a'.repeat(30), new Date('2020-01-01T00:00:00.5Z'));
  write(path.join(lib, 'photos/sub/b.jpg'), 'b'.repeat(10), new Date('2021-01-01T00:00:00Z'));
  write(path.join(lib, 'music/c.mp3'), 'c'.repeat(20), new Date('2019-01-01T00:00:00Z'));
  const b = blaine(['backup', '--init', '--label', 'L1', '--dest', disk, '--db', db, '--no-parity', '--reserve', '0', lib]);
  assert.equal(b.status, 0, b.stderr);

  const all = JSON.parse(blaine(['list', '--db', db, '--json']).stdout) as Array<Record<string, unknown>>;
  assert.equal(all.length, 3);
  const a = all.find((x) => (x.path as string).endsWith('/photos/a.jpg'))!;
  assert.deepEqual(Object.keys(a).sort(), ['label', 'mtime', 'path', 'sha256', 'size', 'volume']);
  assert.equal(a.size, 30);
  assert.equal(a.mtime, Date.parse('2020-01-01T00:00:00.5Z') / 1000);
  assert.equal(a.label, 'L1');
  assert.equal(a.path, path.join(lib, 'photos/a.jpg'));

  // * crosses / (SQLite GLOB)
  const photos = blaine(['list', '--db', db, '-1', `${lib}/photos*`]).stdout.trim().split('\n');
  assert.deepEqual(photos, [path.join(lib, 'photos/a.jpg'), path.join(lib, 'photos/sub/b.jpg')]);
  const bySize = blaine(['list', '--db', db, '-1', '--sort', 'size', '--reverse']).stdout.trim().split('\n');
  assert.deepEqual(bySize.map((p) => path.basename(p)), ['a.jpg', 'c.mp3', 'b.jpg']);
  const byMtime = blaine(['list', '--db', db, '-1', '--sort', 'mtime']).stdout.trim().split('\n');
  assert.deepEqual(byMtime.map((p) => path.basename(p)), ['c.mp3', 'a.jpg', 'b.jpg']);

  // only --dest: the disk's own catalog
  const local = JSON.parse(blaine(['list', '--dest', disk, '--json']).stdout) as unknown[];
  assert.equal(local.length, 3);
  assert.equal(JSON.parse(blaine(['list', '--db', db, '--disk', 'L1', '--json']).stdout).length, 3);

  const unknown = blaine(['list', '--db', db, '--disk', 'nope']);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /no volume is called "nope"/);
  const badSort = blaine(['list', '--db', db, '--sort', 'colour']);
  assert.equal(badSort.status, 2);
  const noDb = blaine(['list', '--db', path.join(base, 'missing.sqlite')]);
  assert.equal(noDb.status, 1);
  assert.match(noDb.stderr, /no host catalog/);
});
