/**
 * A disk that goes away mid-run (`umount -l` on a real loop-mounted ext4). Open
 * descriptors keep writing to the old file system while new files land in the bare mount point:
 * the run must notice that its disk is no longer the one it opened, commit nothing for files it
 * cannot prove are there, say so, and the next run redo them.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  assertDiskMatchesCatalog, assertRestoresLibrary, blaine, isMounted, loopDiskEnv, mountImage, rows, sha256, volumeOf, write,
} from '../../test/helpers.js';

const FILES = 40;
const SIZE = 10 << 20;

test('a disk unmounted (umount -l) after the 10th copy: the run stops, commits nothing it cannot prove, and the next run redoes it', (t) => {
  const env = loopDiskEnv(t, '600M');
  const img = env.img;
  if (!img) return t.skip('needs root to mount a loop ext4');
  for (let i = 0; i < FILES; i++) write(path.join(env.lib, `f${String(i).padStart(2, '0')}.bin`), crypto.randomBytes(SIZE));
  // A first run, so the disk has a catalog that the lost run could write through its open descriptor.
  write(path.join(env.lib, 'first', 'a.txt'), 'first');
  let r = blaine(['backup', '--init', '--label', 'V', '--dest', env.disk, '--db', env.db, '--no-parity', '--reserve', '0', path.join(env.lib, 'first')]);
  assert.equal(r.status, 0, r.stderr);

  // The 10th copy put into place: the disk is lazily unmounted right after it.
  // With parity: jobs under way when the disk goes must not each blame a missing file.
  r = blaine(['backup', '--dest', env.disk, '--db', env.db, '--reserve', '0', '--parity', '10', env.lib], {
    env: { BLAINE_TEST_FAULTS: `rename:10:hook@${env.lib}/f`, BLAINE_TEST_HOOK: `umount -l ${env.disk}` },
  });
  assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /^blaine: the disk at .* is no longer the disk this run opened .*: the run stopped and recorded nothing more; mount the disk again and run the same command/);
  assert.equal(r.stderr.trim().split('\n').length, 1, `one sentence: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  assert.ok(!isMounted(env.disk), 'the hook unmounted the disk');
  // What landed in the bare mount point is not the disk's; the user would remove it.
  fs.rmSync(env.disk, { recursive: true, force: true });
  fs.mkdirSync(env.disk);
  mountImage(img, env.disk);

  // Every row either catalog holds for the volume is a file on the disk, with its content (copies
  // made before the unmount and never committed are leftovers the next run removes).
  const volume = volumeOf(env.disk).volume;
  for (const file of [env.db, path.join(env.disk, '.blaine', 'catalog.sqlite')]) {
    for (const row of rows(file, volume)) {
      const onDisk = path.join(env.disk, row.path);
      assert.ok(fs.existsSync(onDisk), `${row.path} is catalogued in ${file} but not on the disk`);
      assert.equal(sha256(fs.readFileSync(onDisk)), row.sha256, `${row.path}: content`);
    }
  }
  // The next run finds what is missing and copies it.
  r = blaine(['backup', '--dest', env.disk, '--db', env.db, '--reserve', '0', '--parity', '10', env.lib]);
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assertDiskMatchesCatalog(env.disk, env.db, { parity: true });
  assert.equal(rows(env.db, volume).length, FILES + 1);
  assertRestoresLibrary(env.lib, [env.disk], env.db, path.join(env.base, 'restore'));
});

test('a disk unmounted (umount -l) while verify --fix makes parity: nothing is recorded for the parity written elsewhere', (t) => {
  const env = loopDiskEnv(t, '200M');
  const img = env.img;
  if (!img) return t.skip('needs root to mount a loop ext4');
  for (let i = 0; i < 12; i++) write(path.join(env.lib, `g${String(i).padStart(2, '0')}.bin`), crypto.randomBytes(1 << 20));
  let r = blaine(['backup', '--init', '--label', 'V', '--dest', env.disk, '--db', env.db, '--parity', '10', '--reserve', '0', env.lib]);
  assert.equal(r.status, 0, r.stderr);
  // Parity lost for every file: verify --fix makes it again, and the disk goes after the 3rd set.
  fs.rmSync(path.join(env.disk, '.blaine', 'parity'), { recursive: true });
  r = blaine(['verify', '--fix', '--dest', env.disk, '--db', env.db], {
    env: { BLAINE_TEST_FAULTS: 'rename:3:hook@.par2', BLAINE_TEST_HOOK: `umount -l ${env.disk}` },
  });
  assert.ok(!isMounted(env.disk), 'the hook unmounted the disk');
  assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /is no longer the disk this run opened/);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  fs.rmSync(env.disk, { recursive: true, force: true });
  fs.mkdirSync(env.disk);
  mountImage(img, env.disk);
  // Whatever the catalogs say has parity has it on the disk; the next verify --fix makes the rest.
  r = blaine(['verify', '--dest', env.disk, '--db', env.db]);
  assert.doesNotMatch(r.stdout + r.stderr, /parity-missing|missing parity|incomplete parity/i, `${r.stdout}\n${r.stderr}`);
  r = blaine(['verify', '--fix', '--dest', env.disk, '--db', env.db]);
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assertDiskMatchesCatalog(env.disk, env.db, { parity: true });
});
