/**
 * A folder replaced by a symlink or a file. What was archived below it counts as
 * gone (SPEC §5): kept and counted without --clean, removed with --clean within the mass-delete
 * guard, and counted in the summary; on the mounted disk and on an offline one (never deleted
 * without --clean while the summary says `removed 0`).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { assertDiskMatchesCatalog, blaine, rows, summaryOf, testEnv, write } from '../../test/helpers.js';

type Env = ReturnType<typeof testEnv>;
const T = new Date('2021-06-01T12:00:00Z');

function backup(env: Env, disk: string, ...extra: string[]) {
  return blaine(['backup', '--dest', disk, '--db', env.db, '--json', '--no-parity', '--reserve', '0', ...extra, env.lib]);
}

/** photos/2019/{a,b}.jpg and photos/2019/raw/c.nef below the folder that changes, and ten others. */
function library(env: Env): void {
  write(path.join(env.lib, 'photos/2019/a.jpg'), 'photo a', T);
  write(path.join(env.lib, 'photos/2019/b.jpg'), 'photo b', T);
  write(path.join(env.lib, 'photos/2019/raw/c.nef'), 'raw c', T);
  for (let i = 0; i < 10; i++) write(path.join(env.lib, `music/${i}.flac`), `track ${i}`, T);
}

const below = ['photos/2019/a.jpg', 'photos/2019/b.jpg', 'photos/2019/raw/c.nef'];

test('a folder turned into a symlink keeps its archived files without --clean; --clean removes them within the guard', (t) => {
  const env = testEnv();
  t.after(env.cleanup);
  const elsewhere = path.join(env.base, 'media2');
  library(env);
  assert.equal(backup(env, env.disk, '--init').status, 0);
  fs.mkdirSync(elsewhere);
  fs.renameSync(path.join(env.lib, 'photos/2019'), path.join(elsewhere, '2019'));
  fs.symlinkSync(path.join(elsewhere, '2019'), path.join(env.lib, 'photos/2019'));

  const kept = backup(env, env.disk);
  assert.equal(kept.status, 1, 'the symlink is not archived: said, exit 1');
  assert.match(kept.stderr, /photos\/2019 was a folder and is now a symlink: the 3 archived file\(s\) below it are kept/);
  const s = summaryOf(kept);
  assert.equal(s.removed, 0);
  assert.equal(s.missing, 3, 'the kept files are counted');
  for (const rel of below) assert.ok(fs.existsSync(path.join(env.disk, env.lib, rel)), `${rel} is still on the disk`);
  assert.equal(rows(env.db).filter((r) => below.some((rel) => r.path.endsWith(rel))).length, 3, 'and in the catalog');
  assertDiskMatchesCatalog(env.disk, env.db);

  // 3 of 13 is more than the default 10%: the guard keeps them, and says so
  const guarded = backup(env, env.disk, '--clean');
  assert.equal(guarded.status, 1);
  assert.match(guarded.stderr, /would remove 3 of the 13 files/);
  for (const rel of below) assert.ok(fs.existsSync(path.join(env.disk, env.lib, rel)));

  const clean = backup(env, env.disk, '--clean', '--max-delete', '50');
  assert.equal(clean.status, 0, clean.stderr);
  assert.equal(summaryOf(clean).removed, 3);
  assert.equal(summaryOf(clean).added, 1);
  assert.equal(fs.readlinkSync(path.join(env.disk, env.lib, 'photos/2019')), path.join(elsewhere, '2019'));
  assertDiskMatchesCatalog(env.disk, env.db);
});

test('a folder two levels up turned into a file: everything below it is kept, then removed with --clean --force', (t) => {
  const env = testEnv();
  t.after(env.cleanup);
  library(env);
  assert.equal(backup(env, env.disk, '--init').status, 0);
  fs.rmSync(path.join(env.lib, 'photos'), { recursive: true });
  write(path.join(env.lib, 'photos'), 'a file where a folder was', T);
  const kept = backup(env, env.disk);
  assert.equal(kept.status, 1);
  assert.match(kept.stderr, /photos was a folder and is now a file: the 3 archived file\(s\)/);
  assert.equal(summaryOf(kept).missing, 3);
  for (const rel of below) assert.ok(fs.existsSync(path.join(env.disk, env.lib, rel)));
  const clean = backup(env, env.disk, '--clean', '--force');
  assert.equal(clean.status, 0, clean.stderr);
  assert.equal(summaryOf(clean).removed, 3);
  assert.equal(fs.readFileSync(path.join(env.disk, env.lib, 'photos'), 'utf8'), 'a file where a folder was');
  assertDiskMatchesCatalog(env.disk, env.db);
});

test('a folder archived on an offline disk turned into a symlink: the link goes onto this disk, the files are kept or removed there later', (t) => {
  const env = testEnv();
  t.after(env.cleanup);
  const diskB = path.join(env.base, 'diskB');
  fs.mkdirSync(diskB);
  library(env);
  assert.equal(backup(env, env.disk, '--init', '--label', 'A').status, 0);
  assert.equal(backup(env, diskB, '--init', '--label', 'B').status, 0);
  fs.rmSync(path.join(env.lib, 'photos/2019'), { recursive: true });
  fs.symlinkSync('/nowhere/2019', path.join(env.lib, 'photos/2019'));

  const kept = backup(env, diskB);
  assert.equal(kept.status, 0, kept.stderr);
  assert.equal(summaryOf(kept).missing, 3);
  assert.equal(summaryOf(kept).removed, 0);
  assert.equal(fs.readlinkSync(path.join(diskB, env.lib, 'photos/2019')), '/nowhere/2019');
  const clean = backup(env, diskB, '--clean', '--force');
  assert.equal(clean.status, 0, clean.stderr);
  assert.equal(summaryOf(clean).removed, 3);
  for (const rel of below) assert.ok(fs.existsSync(path.join(env.disk, env.lib, rel)), 'A is offline: untouched until it is mounted');
  // A comes back: its deferred removals are applied, and the folder's files leave it
  const back = backup(env, env.disk);
  assert.equal(back.status, 0, back.stderr);
  for (const rel of below) assert.ok(!fs.existsSync(path.join(env.disk, env.lib, rel)), `${rel} removed from A`);
  assertDiskMatchesCatalog(env.disk, env.db);
  assertDiskMatchesCatalog(diskB, env.db);
});

test('empty folders turned into a new file and into a hardlink of an archived file: the folders go, both are stored', (t) => {
  // The disk's folder is found when the file's rename meets it (EISDIR), not by looking first.
  const env = testEnv();
  t.after(env.cleanup);
  library(env);
  fs.mkdirSync(path.join(env.lib, 'empty-a'));
  fs.mkdirSync(path.join(env.lib, 'empty-b'));
  assert.equal(backup(env, env.disk, '--init').status, 0);
  assert.ok(fs.statSync(path.join(env.disk, env.lib, 'empty-a')).isDirectory());
  fs.rmdirSync(path.join(env.lib, 'empty-a'));
  fs.rmdirSync(path.join(env.lib, 'empty-b'));
  write(path.join(env.lib, 'empty-a'), 'a file where an empty folder was', T);
  fs.linkSync(path.join(env.lib, 'music/3.flac'), path.join(env.lib, 'empty-b'));
  const run = backup(env, env.disk);
  assert.equal(run.status, 0, run.stderr);
  assert.equal(fs.readFileSync(path.join(env.disk, env.lib, 'empty-a'), 'utf8'), 'a file where an empty folder was');
  assert.equal(fs.statSync(path.join(env.disk, env.lib, 'empty-b')).ino, fs.statSync(path.join(env.disk, env.lib, 'music/3.flac')).ino, 'linked on the disk');
  assertDiskMatchesCatalog(env.disk, env.db);
});
