import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { backup, assertArchiveHolds, assertDiskMatchesCatalog, blaine, readTree, rows, summaryOf, testEnv, write } from '../../test/helpers.js';

/** Every backup of these tests: the JSON summary, no parity. */
const RUN_FLAGS = ['--json', '--no-parity'];

// Tiny scan chunks: a tree of a few dozen files is planned and applied in many parts.
const CHUNKED = { BLAINE_SCAN_CHUNK: '3', BLAINE_SCAN_THREADS: '2' };

/** `n` files of their own content under each of the directories. */
function fill(lib: string, dirs: string[], n: number, tag: string): void {
  for (const d of dirs) for (let i = 0; i < n; i++) write(path.join(lib, d, `${tag}-${i}.bin`), crypto.randomBytes(200 + i));
}

test('streamed backup: a move across the tree and content seen in another chunk are found, not copied again', (t) => {
  const env = testEnv();
  t.after(env.cleanup);
  fill(env.lib, ['a', 'm', 'z'], 6, 'old');
  const first = backup(env, [...RUN_FLAGS, '--init', '--label', 'S'], { env: CHUNKED });
  assert.equal(first.status, 0, first.stderr);
  assert.equal(summaryOf(first).added, 18);
  const p = env.lib.slice(1);
  const inodeBefore = readTree(env.disk).get(`${p}/a/old-2.bin`)!.ino;
  // A move from the first directory to the last (far apart in path order, other chunks between),
  // a file gone with a new name elsewhere holding its bytes (another inode: found by content),
  // and new files in every directory.
  fs.renameSync(path.join(env.lib, 'a/old-2.bin'), path.join(env.lib, 'z/moved-far.bin'));
  fs.copyFileSync(path.join(env.lib, 'z/old-4.bin'), path.join(env.lib, 'a/same-bytes.bin'));
  fs.rmSync(path.join(env.lib, 'z/old-4.bin'));
  fill(env.lib, ['a', 'm', 'z'], 4, 'new');
  const second = backup(env, [...RUN_FLAGS, '--clean'], { env: CHUNKED });
  assert.equal(second.status, 0, second.stderr);
  const s = summaryOf(second);
  assert.equal(s.renamed, 1, 'the move is a rename');
  assert.equal(s.added, 12);
  assert.equal(s.linked, 1, 'the bytes of the gone file are linked before it is removed');
  assert.equal(s.removed, 1);
  const newBytes = [...Array(4).keys()].reduce((sum, i) => sum + 3 * (200 + i), 0);
  assert.equal(s.bytesCopied, newBytes, 'only the new content is copied');
  assert.equal(readTree(env.disk).get(`${p}/z/moved-far.bin`)!.ino, inodeBefore, 'moved on the disk, not copied');
  assertDiskMatchesCatalog(env.disk, env.db);
  assertArchiveHolds(env.lib, [env.disk]);
});

test('streamed backup: the mass-delete guard counts what is catalogued, whatever the new files around it', (t) => {
  const env = testEnv();
  t.after(env.cleanup);
  fill(env.lib, ['a', 'b'], 5, 'old');
  assert.equal(backup(env, [...RUN_FLAGS, '--init', '--label', 'G'], { env: CHUNKED }).status, 0);
  for (let i = 0; i < 5; i++) fs.rmSync(path.join(env.lib, 'a', `old-${i}.bin`));
  fill(env.lib, ['a', 'c', 'd'], 10, 'new');
  const guarded = backup(env, [...RUN_FLAGS, '--clean'], { env: CHUNKED });
  assert.equal(guarded.status, 1, 'half of what is archived would go: held back');
  assert.match(guarded.stderr, /nothing removed: the run would remove 5 of the 10 files archived/);
  const s = summaryOf(guarded);
  assert.equal(s.added, 30, 'the new files are archived all the same');
  assert.equal(s.removed, 0);
  assert.equal(rows(env.db).length, 40, 'the five gone files are kept');
  assertDiskMatchesCatalog(env.disk, env.db);
  const forced = backup(env, [...RUN_FLAGS, '--clean', '--force'], { env: CHUNKED });
  assert.equal(forced.status, 0, forced.stderr);
  assert.equal(summaryOf(forced).removed, 5);
  assertArchiveHolds(env.lib, [env.disk]);
});
