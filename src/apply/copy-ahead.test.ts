/**
 * Copies made ahead and put at their names by the copying thread (copy-ahead.ts, native/copyfiles.c):
 * what a user gets back must not change — bytes, mode, owner, mtime to the nanosecond, hardlink
 * groups — and a run killed between that rename and the row that records it must leave nothing
 * the catalog does not know once rerun.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { assertDiskMatchesCatalog, assertRestoresLibrary, blaine, fidelityOf, isRoot, testEnvFor, write } from '../../test/helpers.js';
import { assertRerunLeftDiskWhole, crashEveryStep, ONE_SCAN_THREAD } from '../../test/crash.js';
import { realFs } from '../fsx/fsx.js';
import { nativeAddon } from '../fsx/addon.js';

const noAddon = nativeAddon() === null && 'the addon is not built: copies are put in place by the executor';

/** Small files of several modes, owners (as root) and nanosecond mtimes, an empty one and a hardlink pair, in three folders. */
function library(lib: string, files: number): void {
  const modes = [0o644, 0o600, 0o755, 0o444, 0o640, 0o2750];
  for (let i = 0; i < files; i++) {
    const file = path.join(lib, `d${i % 3}`, `f${String(i).padStart(3, '0')}.bin`);
    write(file, i === 0 ? Buffer.alloc(0) : crypto.randomBytes(100 + 37 * i));
    if (isRoot && i % 4 === 1) fs.chownSync(file, 1000 + i, 2000 + i);
    fs.chmodSync(file, modes[i % modes.length]!);
    realFs.setMtime(file, 1_600_000_000 + i, 123_456_789 + i);
  }
  fs.linkSync(path.join(lib, 'd1', 'f001.bin'), path.join(lib, 'd2', 'twin.bin'));
}

test('a first backup of small files copied ahead and put in place by the copying thread gives every file back exactly', { skip: noAddon }, (t) => {
  const env = testEnvFor(t, 'blaine-ahead-');
  library(env.lib, 40);
  const r = blaine(['backup', '--init', '--label', 'A', '--dest', env.disk, '--db', env.db, '--reserve', '0', '--no-parity', env.lib]);
  assert.equal(r.status, 0, r.stderr);
  assertDiskMatchesCatalog(env.disk, env.db);
  // The disk itself holds each file as rsync -a would (an archived file is a plain file at its path).
  const onDisk = fidelityOf(path.join(env.disk, env.lib.slice(1)));
  for (const [p, want] of fidelityOf(env.lib)) if (want.startsWith('file:')) assert.equal(onDisk.get(p), want, p);
  const twin = (p: string) => fs.statSync(path.join(env.disk, env.lib.slice(1), p)).ino;
  assert.equal(twin('d1/f001.bin'), twin('d2/twin.bin'), 'the hardlink pair is one inode on the disk');
  assertRestoresLibrary(env.lib, [env.disk], env.db, path.join(env.base, 'restored'));
});

test('a backup onto a new volume killed after every rename (those of the copying thread too): the rerun leaves the disk equal to its catalog, nothing lost', { skip: noAddon }, (t) => {
  const env = testEnvFor(t, 'blaine-ahead-crash-');
  const args = ['backup', '--dest', env.disk, '--db', env.db, '--reserve', '0', '--no-parity', env.lib];
  // The volume exists, with no file yet: the run is a first backup's, and the disk and host catalog can be put back before each try.
  const init = blaine(['backup', '--init', '--label', 'A', ...args.slice(1)], { env: ONE_SCAN_THREAD });
  assert.equal(init.status, 0, init.stderr);
  library(env.lib, 14);
  const n = crashEveryStep(env, 'rename', [env.disk, env.db], args, (where) => {
    assertRerunLeftDiskWhole(env, where);
    const tmp = path.join(env.disk, '.blaine', 'tmp');
    assert.deepEqual(fs.existsSync(tmp) ? fs.readdirSync(tmp) : [], [], `${where}: leftovers in .blaine/tmp`);
  });
  t.diagnostic(`${n} crash points`);
});
