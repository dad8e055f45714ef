/**
 * Sparse files (SPEC §3): a VM image or a preallocated recording keeps its holes
 * on the disk and when restored, as `cp --sparse=auto` keeps them. Compared by allocated blocks and
 * by bytes.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { blaine, fidelityOf, scratchDir, sha256, testEnvFor } from '../../test/helpers.js';
import { copyWithSha256 } from '../fsx/copy.js';
import { realFs } from '../fsx/fsx.js';

const MiB = 1 << 20;
const GiB = 1 << 30;
/** Half a GiB: large enough to be sparse in earnest, small enough to read quickly on a busy machine. */
const BIG = GiB / 2;

/** A file of `size` bytes that holds `data` at each of `at` and holes elsewhere. */
function sparseFile(file: string, size: number, data: Buffer, at: number[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'w');
  try {
    fs.ftruncateSync(fd, size);
    for (const pos of at) fs.writeSync(fd, data, 0, data.length, pos);
  } finally {
    fs.closeSync(fd);
  }
}

function allocated(file: string): number {
  return fs.statSync(file).blocks * 512;
}

/** SHA-256 of a file read in pieces (the files here are up to 128 MiB). */
function fileSha(file: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(8 * MiB);
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** The SHA-1 of a file of `size` bytes with `data` at each of `at` (sorted) and zeros elsewhere, without reading it. */
function layoutSha(size: number, data: Buffer, at: number[]): string {
  const h = crypto.createHash('sha256');
  const zeros = Buffer.alloc(8 * MiB);
  let pos = 0;
  const zeroTo = (end: number) => {
    for (; pos < end; pos += Math.min(zeros.length, end - pos)) h.update(zeros.subarray(0, Math.min(zeros.length, end - pos)));
  };
  for (const p of at) {
    zeroTo(p);
    h.update(data);
    pos = p + data.length;
  }
  zeroTo(size);
  return h.digest('hex');
}

test('copyWithSha256 keeps the holes of a 512 MiB file with 1 MiB of data; its SHA1 is of all its bytes', async (t) => {
  const dir = scratchDir(t, 'blaine-sparse-');
  const src = path.join(dir, 'vm.img');
  const data = crypto.randomBytes(MiB / 4);
  const at = [0, Math.floor(BIG / 3) + 12345, Math.floor((2 * BIG) / 3), BIG - data.length];
  sparseFile(src, BIG, data, at);
  assert.ok(allocated(src) < 2 * MiB, 'the source is sparse');
  const dest = path.join(dir, 'copy', 'vm.img');
  const res = await copyWithSha256(src, dest, { mode: 0o640, uid: process.getuid!(), gid: process.getgid!(), mtimeSec: 1_600_000_000, mtimeNsec: 5 }, { fs: realFs });
  assert.equal(res.bytes, BIG);
  assert.equal(res.sha256, layoutSha(BIG, data, at), 'every byte read and hashed');
  assert.equal(fs.statSync(dest).size, BIG);
  assert.ok(allocated(dest) <= allocated(src) + 64 * 1024, `copy takes ${allocated(dest)} bytes of blocks, the source ${allocated(src)}`);
  // The data where it was (the whole file is compared byte for byte in the backup test below).
  const fd = fs.openSync(dest, 'r');
  try {
    for (const p of at) {
      const back = Buffer.alloc(data.length);
      fs.readSync(fd, back, 0, back.length, p);
      assert.ok(back.equals(data), `data at ${p}`);
    }
  } finally {
    fs.closeSync(fd);
  }
});

test('a sparse file is backed up sparse (plus its parity) and restored sparse, bit for bit', (t) => {
  const { base: dir, lib, disk, db } = testEnvFor(t, 'blaine-sparse-');
  const size = 128 * MiB;
  const data = crypto.randomBytes(MiB / 2);
  const img = path.join(lib, 'vm', 'disk.img');
  sparseFile(img, size, data, [0, 100 * MiB + 4096 * 3 + 17]);
  // A file of zeros that is not sparse stays as it is (written, not a hole): only holes are kept.
  fs.writeFileSync(path.join(lib, 'zeros.bin'), Buffer.alloc(2 * MiB));
  const backup = blaine(['backup', '--init', '--label', 'A', '--dest', disk, '--db', db, '--reserve', '0', lib]);
  assert.equal(backup.status, 0, backup.stderr);
  const stored = path.join(disk, img);
  assert.ok(allocated(stored) <= allocated(img) + 64 * 1024, `stored copy takes ${allocated(stored)} bytes of blocks, the source ${allocated(img)}`);
  assert.equal(fileSha(stored), fileSha(img));
  assert.equal(allocated(path.join(disk, lib, 'zeros.bin')), allocated(path.join(lib, 'zeros.bin')));
  const parity = path.join(disk, '.blaine', 'parity', img.slice(1));
  assert.ok(fs.existsSync(`${parity}.par2`), 'parity made');

  const verify = blaine(['verify', '--dest', disk, '--db', db, '--checksum']);
  assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  const to = path.join(dir, 'restored');
  const restore = blaine(['restore', '--dest', disk, '--db', db, '--to', to, `${lib}/*`]);
  assert.equal(restore.status, 0, restore.stderr);
  const back = path.join(to, img.slice(1));
  assert.ok(allocated(back) <= allocated(img) + 64 * 1024, `restored copy takes ${allocated(back)} bytes of blocks`);
  assert.deepEqual(fidelityOf(path.join(to, lib.slice(1))), fidelityOf(lib));
  assert.equal(sha256(fs.readFileSync(path.join(to, lib.slice(1), 'zeros.bin'))), sha256(Buffer.alloc(2 * MiB)));
});

test('a sparse file whose size is not a multiple of 4 KiB, with data up to its last byte, is stored and restored bit for bit', (t) => {
  const { base: dir, lib, disk, db } = testEnvFor(t, 'blaine-sparse-');
  // The last read of the copy ends 1234 bytes into a block that holds data: the run that ends it must be written.
  const size = 8 * MiB + 1234;
  const data = crypto.randomBytes(6000);
  const img = path.join(lib, 'rec', 'take.wav');
  sparseFile(img, size, data, [0, size - data.length]);
  assert.ok(allocated(img) < size / 2, 'the source is sparse');
  const backup = blaine(['backup', '--init', '--label', 'A', '--dest', disk, '--db', db, '--reserve', '0', '--no-parity', lib]);
  assert.equal(backup.status, 0, backup.stderr);
  assert.equal(fileSha(path.join(disk, img)), fileSha(img), 'the stored copy has every byte');
  const verify = blaine(['verify', '--dest', disk, '--db', db, '--checksum']);
  assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  const to = path.join(dir, 'restored');
  const restore = blaine(['restore', '--dest', disk, '--db', db, '--to', to, `${lib}/**`]);
  assert.equal(restore.status, 0, restore.stderr);
  const back = path.join(to, img.slice(1));
  assert.equal(fileSha(back), fileSha(img), 'the restored copy has every byte');
  assert.ok(allocated(back) < size / 2, `restored copy takes ${allocated(back)} bytes of blocks`);
  assert.deepEqual(fidelityOf(path.join(to, lib.slice(1))), fidelityOf(lib));
});
