/**
 * A disk of small files fills honestly (SPEC §5/§6): the space rule counts what
 * parity really takes in blocks and keeps room for the catalogs, so a full disk ends with the
 * summary and exit 3, every file on it has parity, and the dry run stops at the same file as the
 * real run (one free-space rule), an encrypted disk included.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { blaine, isRoot, mountTmpfs, summaryOf, tempDir, unmount, write, type RunResult } from '../../test/helpers.js';
import { cryptUnavailable, fastScrypt } from '../crypt/testing.js';

const T = new Date('2022-03-04T05:06:07.089Z');
const needsRoot = isRoot ? false : 'needs root for a tmpfs disk';

/** `dirs` folders of `per` files each, of 1 to `most` random bytes (a seeded size sequence). */
function smallFiles(lib: string, dirs: number, per: number, most: number): void {
  let seed = 17;
  for (let d = 0; d < dirs; d++) {
    for (let i = 0; i < per; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      write(path.join(lib, `d${d}`, `f${i}.txt`), crypto.randomBytes(1 + (seed % most)), T);
    }
  }
}

/** Bytes the files below `dir` take on their file system. */
function allocatedBelow(dir: string): number {
  let n = 0;
  for (const ent of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (ent.isFile()) n += fs.statSync(path.join(ent.parentPath, ent.name)).blocks * 512;
  }
  return n;
}

/** A temporary folder with a tmpfs disk of `size` in it; both go when the test ends (unmounted first). */
function withTmpfsDisk(t: { after: (fn: () => void) => void }, prefix: string, size: string): { base: string; disk: string } {
  const base = tempDir(prefix);
  const disk = path.join(base, 'disk');
  t.after(() => {
    unmount(disk);
    fs.rmSync(base, { recursive: true, force: true });
  });
  assert.ok(mountTmpfs(disk, size), `mount a ${size} tmpfs`);
  return { base, disk };
}

test('a small disk filled with thousands of small files ends with the summary and exit 3, every file with parity', { skip: needsRoot }, (t) => {
  const { base, disk } = withTmpfsDisk(t, 'blaine-fulldisk-', '8m');
  const lib = path.join(base, 'lib');
  const db = path.join(base, 'host.sqlite');
  smallFiles(lib, 20, 150, 6000);
  const run = (...args: string[]): RunResult => blaine([...args, '--db', db, '--dest', disk, '--json']);

  const first = run('backup', '--init', '--label', 'S', '--reserve', '0', lib);
  assert.equal(first.status, 3, first.stderr);
  assert.doesNotMatch(first.stderr, /catalog could not be written|no parity for/);
  const s = summaryOf(first);
  assert.equal(s.diskFull, true);
  assert.ok(Number(s.added) > 300 && Number(s.added) < 3000, `added ${s.added}`);
  // Parity's real share: the blocks its files take, as the summary says.
  assert.equal(s.parityDiskBytes, allocatedBelow(path.join(disk, '.blaine', 'parity')));

  const checked = run('verify', '--checksum');
  assert.equal(checked.status, 0, checked.stdout + checked.stderr);
  assert.equal(JSON.parse(checked.stdout).checked, s.added, 'every file read, none without parity');
  const fixed = run('verify', '--fix');
  assert.equal(fixed.status, 0, fixed.stdout + fixed.stderr);
  const again = run('backup', '--reserve', '0', lib);
  assert.equal(again.status, 3, again.stderr);
  assert.equal(summaryOf(again).diskFull, true);
  assert.equal(run('verify', '--checksum').status, 0);
});

for (const encrypted of [false, true]) {
  const skip = needsRoot || (encrypted && cryptUnavailable());
  test(`dry run and real run stop at the same file on a small ${encrypted ? 'encrypted ' : ''}disk, parity and all`, { skip }, (t) => {
    fastScrypt();
    const { base, disk } = withTmpfsDisk(t, 'blaine-drystop-', '10m');
    const lib = path.join(base, 'lib');
    const db = path.join(base, 'host.sqlite');
    const keyFile = path.join(base, 'key');
    fs.writeFileSync(keyFile, 'a test key of some length\n');
    // Small files (parity at least a block each) and some of 100-200 KB (gocryptfs's overhead shows).
    smallFiles(lib, 6, 80, 5000);
    for (let i = 0; i < 40; i++) write(path.join(lib, 'big', `b${i}.bin`), crypto.randomBytes(100_000 + 2500 * i), T);
    const key = encrypted ? ['--encrypt', '--key-file', keyFile] : [];
    const run = (...args: string[]): RunResult =>
      blaine([...args, '--db', db, '--dest', disk, '--json', ...(args[0] === 'backup' ? ['--reserve', '0'] : []), ...(encrypted ? ['--key-file', keyFile] : [])]);
    // The disk exists first (a dry run cannot make the cipher directory).
    write(path.join(base, 'seed', 'seed.txt'), 'seed\n', T);
    const init = blaine(['backup', '--init', '--label', 'S', ...key, '--db', db, '--dest', disk, '--reserve', '0', path.join(base, 'seed')]);
    assert.equal(init.status, 0, init.stderr);

    const dry = run('backup', '--dry-run', lib);
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stderr, /the real run would stop here: the disk is full/);
    const real = run('backup', lib);
    assert.equal(real.status, 3, real.stderr);
    const comparable = (r: RunResult) => {
      const { seconds: _s, freeBytes: _f, parityBytes: _p, parityDiskBytes: _d, ...rest } = summaryOf(r);
      return rest;
    };
    assert.ok(Number(summaryOf(real).added) > 100, `added ${summaryOf(real).added}`);
    assert.deepEqual(comparable(dry), comparable(real));
    assert.equal(run('verify', '--checksum').status, 0);
  });
}
