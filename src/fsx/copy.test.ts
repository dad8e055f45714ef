import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isTempName } from './temp.js';
import {
  CopyError,
  copyWithSha256,
  makeSymlink,
  mtimeMatches,
  setTimes,
  sha256File,
  storedMtime,
  syncDisk,
  type FileMeta,
} from './copy.js';
import { isRoot, tempDir, tmpfsDisk } from '../../test/helpers.js';
import { realFs } from './fsx.js';

const MiB = 1 << 20;

function writeRandom(file: string, size: number): Buffer {
  const data = crypto.randomBytes(size);
  fs.writeFileSync(file, data);
  return data;
}

function sha256(data: Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

const meta: FileMeta = { mode: 0o644, uid: 0, gid: 0, mtimeSec: 1700000000, mtimeNsec: 123456789 };

/** Everything in dir, recursively, as relative paths. */
function listAll(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

for (const [name, size, bufferSize] of [
  ['empty', 0, undefined],
  ['small (one synchronous read)', 1000, undefined],
  ['exactly the small-file limit', 256 << 10, undefined],
  ['multi-buffer (pipeline, 64 KiB buffers)', 300 * 1024 + 7, 64 << 10],
  ['more than two default buffers', 3 * MiB + 12345, undefined],
  ['many default buffers', 9 * MiB, undefined],
] as const) {
  test(`copy: content and SHA-256 equal the source's, ${name}`, async () => {
    const dir = tempDir();
    const src = path.join(dir, 'src');
    const dest = path.join(dir, 'dest');
    const data = writeRandom(src, size);
    const result = await copyWithSha256(src, dest, meta, { fs: realFs, bufferSize, expectedSize: size });
    assert.deepEqual(result, { sha256: sha256(data), bytes: size });
    assert.ok(fs.readFileSync(dest).equals(data));
    assert.deepEqual(listAll(dir), ['dest', 'src']);
  });
}

test('copy: mode, mtime to the microsecond, and (as root) owner are preserved', async (t) => {
  const dir = tempDir();
  const src = path.join(dir, 'src');
  const dest = path.join(dir, 'dest');
  fs.writeFileSync(src, 'hello');
  fs.chmodSync(src, 0o640);
  if (isRoot) fs.chownSync(src, 1234, 2345);
  execFileSync('touch', ['-m', '-d', '@1600000000.987654321', src]);
  const st = fs.lstatSync(src, { bigint: true });
  const srcMeta: FileMeta = {
    mode: Number(st.mode),
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtimeSec: Number(st.mtimeNs / 1_000_000_000n),
    mtimeNsec: Number(st.mtimeNs % 1_000_000_000n),
  };
  assert.equal(srcMeta.mtimeNsec, 987654321);
  await copyWithSha256(src, dest, srcMeta, { fs: realFs });
  const out = fs.lstatSync(dest, { bigint: true });
  assert.equal(Number(out.mode) & 0o7777, 0o640);
  assert.equal(out.mtimeNs, 1600000000987654321n, 'times are set to the nanosecond');
  const stored = storedMtime(srcMeta.mtimeSec, srcMeta.mtimeNsec);
  assert.equal(out.mtimeNs, BigInt(stored.mtimeSec) * 1_000_000_000n + BigInt(stored.mtimeNsec));
  assert.ok(mtimeMatches(Number(out.mtimeNs / 1_000_000_000n), Number(out.mtimeNs % 1_000_000_000n), srcMeta.mtimeSec, srcMeta.mtimeNsec));
  if (!isRoot) {
    t.skip('owner: needs root');
    return;
  }
  assert.equal(out.uid, 1234n);
  assert.equal(out.gid, 2345n);
});

test('copy: set-user-ID bit survives chown, and the edge cases of the second land to the nanosecond', async () => {
  const dir = tempDir();
  const src = path.join(dir, 'src');
  fs.writeFileSync(src, 'x');
  for (const [sec, nsec, expected] of [
    [1700000000, 999999999, 1700000000999999999n],
    [1700000000, 1000, 1700000000000001000n],
    [1700000000, 0, 1700000000000000000n],
    [0, 0, 0n],
    [2000000000, 500, 2000000000000000500n],
    [-1, 1, -999999999n],
  ] as const) {
    const dest = path.join(dir, `d-${sec}-${nsec}`);
    await copyWithSha256(src, dest, { ...meta, uid: 1234, gid: 1234, mode: 0o104755, mtimeSec: sec, mtimeNsec: nsec }, { fs: realFs });
    const out = fs.statSync(dest, { bigint: true });
    assert.equal(out.mtimeNs, expected, `${sec}.${nsec}`);
    assert.equal(Number(out.mode) & 0o7777, 0o4755);
  }
});

test('copy: an mtime before 1970 is kept to the nanosecond (Node alone would set "now")', async () => {
  const dir = tempDir();
  const src = path.join(dir, 'src');
  const dest = path.join(dir, 'dest');
  fs.writeFileSync(src, 'old');
  await copyWithSha256(src, dest, { ...meta, mtimeSec: -5, mtimeNsec: 300000001 }, { fs: realFs });
  assert.equal(fs.statSync(dest, { bigint: true }).mtimeNs, -4699999999n);
  assert.deepEqual(listAll(dir), ['dest', 'src']);
});

test('copy: replacing a dest leaves its other hardlinks with the old content', async () => {
  const dir = tempDir();
  const src = path.join(dir, 'src');
  const dest = path.join(dir, 'dest');
  const other = path.join(dir, 'other');
  fs.writeFileSync(dest, 'old content');
  fs.linkSync(dest, other);
  const oldIno = fs.statSync(dest).ino;
  fs.writeFileSync(src, 'new content, longer than before');
  await copyWithSha256(src, dest, meta, { fs: realFs });
  assert.equal(fs.readFileSync(dest, 'utf8'), 'new content, longer than before');
  assert.equal(fs.readFileSync(other, 'utf8'), 'old content');
  assert.notEqual(fs.statSync(dest).ino, oldIno);
  assert.equal(fs.statSync(other).nlink, 1);
  assert.deepEqual(listAll(dir), ['dest', 'other', 'src']);
});

test('copy: missing parent directories are created', async () => {
  const dir = tempDir();
  const src = path.join(dir, 'src');
  fs.writeFileSync(src, 'deep');
  const dest = path.join(dir, 'disk', 'mnt', 'media', 'photos', 'a.jpg');
  await copyWithSha256(src, dest, meta, { fs: realFs });
  assert.equal(fs.readFileSync(dest, 'utf8'), 'deep');
  assert.deepEqual(fs.readdirSync(path.dirname(dest)), ['a.jpg']);
});

test('copy: with tempDir the temporary file is written there and renamed into a new directory', async () => {
  const dir = tempDir();
  const src = path.join(dir, 'src');
  const data = writeRandom(src, 2 * MiB);
  const tmp = path.join(dir, 'disk', '.blaine', 'tmp');
  const dest = path.join(dir, 'disk', 'mnt', 'x', 'big.bin');
  const result = await copyWithSha256(src, dest, meta, { fs: realFs, tempDir: tmp });
  assert.equal(result.sha256, sha256(data));
  assert.ok(fs.readFileSync(dest).equals(data));
  assert.deepEqual(fs.readdirSync(tmp), []);
});

test('copy: a missing source is a SOURCE error, and nothing is written', async () => {
  const dir = tempDir();
  const dest = path.join(dir, 'out', 'dest');
  await assert.rejects(copyWithSha256(path.join(dir, 'nope'), dest, meta, { fs: realFs }), (err: unknown) => {
    assert.ok(err instanceof CopyError);
    assert.equal(err.code, 'SOURCE');
    assert.match(err.message, /^Cannot read .*nope: no such file or directory\.$/);
    return true;
  });
  assert.deepEqual(listAll(dir), []);
});

test('copy: a directory or a FIFO as source is a SOURCE error and does not hang', async () => {
  const dir = tempDir();
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  for (const src of [dir, fifo]) {
    await assert.rejects(copyWithSha256(src, path.join(dir, 'dest'), meta, { fs: realFs }), (err: unknown) => {
      assert.ok(err instanceof CopyError);
      assert.equal(err.code, 'SOURCE');
      assert.match(err.message, /not a regular file/);
      return true;
    });
  }
  assert.deepEqual(listAll(dir), ['fifo']);
});

test('copy: a source without read permission is a SOURCE error', async (t) => {
  if (isRoot) {
    t.skip('root reads everything');
    return;
  }
  const dir = tempDir();
  const src = path.join(dir, 'src');
  fs.writeFileSync(src, 'secret');
  fs.chmodSync(src, 0);
  await assert.rejects(copyWithSha256(src, path.join(dir, 'dest'), meta, { fs: realFs }), { code: 'SOURCE' });
});

test('copy: a file among the parent directories is a TARGET error, source untouched', async () => {
  const dir = tempDir();
  const src = path.join(dir, 'src');
  fs.writeFileSync(src, 'data');
  fs.writeFileSync(path.join(dir, 'blocker'), 'a file, not a directory');
  await assert.rejects(copyWithSha256(src, path.join(dir, 'blocker', 'sub', 'dest'), meta, { fs: realFs }), (err: unknown) => {
    assert.ok(err instanceof CopyError);
    assert.equal(err.code, 'TARGET');
    assert.match(err.message, /^Cannot write .*blocker\/sub\/dest: /);
    return true;
  });
  assert.deepEqual(listAll(dir), ['blocker', 'src']);
});

test('copy: a directory in the way of dest is a TARGET error and no temporary file remains', async () => {
  for (const size of [10, 2 * MiB]) {
    const dir = tempDir();
    const src = path.join(dir, 'src');
    writeRandom(src, size);
    fs.mkdirSync(path.join(dir, 'dest'));
    await assert.rejects(copyWithSha256(src, path.join(dir, 'dest'), meta, { fs: realFs }), { name: 'CopyError', code: 'TARGET' });
    assert.deepEqual(listAll(dir), ['dest', 'src']);
  }
});

test('copy: a size other than expectedSize (file changed since the scan) fails cleanly', async () => {
  for (const size of [100, 2 * MiB]) {
    const dir = tempDir();
    const src = path.join(dir, 'src');
    writeRandom(src, size);
    await assert.rejects(copyWithSha256(src, path.join(dir, 'dest'), meta, { fs: realFs, expectedSize: size - 1 }), (err: unknown) => {
      assert.ok(err instanceof CopyError);
      assert.equal(err.code, 'CHANGED');
      assert.match(err.message, /changed while being copied/);
      return true;
    });
    assert.deepEqual(listAll(dir), ['src']);
  }
});

test('copy: an abort before or during the copy rejects with the reason and leaves nothing', async () => {
  const dir = tempDir();
  const src = path.join(dir, 'src');
  writeRandom(src, 64 * MiB);
  const dest = path.join(dir, 'dest');
  await assert.rejects(copyWithSha256(src, dest, meta, { fs: realFs, signal: AbortSignal.abort() }), { name: 'AbortError' });
  const controller = new AbortController();
  const copying = copyWithSha256(src, dest, meta, { fs: realFs, signal: controller.signal, bufferSize: 64 << 10 });
  setImmediate(() => controller.abort(new Error('interrupted')));
  await assert.rejects(copying, /interrupted/);
  assert.deepEqual(listAll(dir), ['src']);
});

test('copy: names near the file-name length limit still get a temporary name', async () => {
  const dir = tempDir();
  const src = path.join(dir, 'src');
  fs.writeFileSync(src, 'long');
  const base = 'é'.repeat(127); // 254 bytes in UTF-8
  await copyWithSha256(src, path.join(dir, base), meta, { fs: realFs });
  assert.equal(fs.readFileSync(path.join(dir, base), 'utf8'), 'long');
  assert.deepEqual(listAll(dir), [base, 'src'].sort());
});

test('isTempName recognises the temporary names and nothing ordinary', async () => {
  const dir = tempDir();
  const src = path.join(dir, 'src');
  writeRandom(src, 4 * MiB);
  const dest = path.join(dir, 'photo.jpg');
  const controller = new AbortController();
  const copying = copyWithSha256(src, dest, meta, { fs: realFs, signal: controller.signal, bufferSize: 64 << 10 });
  // While the copy runs, its temporary file is beside the destination.
  await new Promise((resolve) => setImmediate(resolve));
  const during = fs.readdirSync(dir).filter((n) => n !== 'src');
  controller.abort();
  await assert.rejects(copying);
  assert.equal(during.length, 1);
  assert.ok(isTempName(during[0]), during[0]);
  assert.match(during[0], /^\.photo\.jpg\.blaine-tmp-\d+-\d+$/);
  for (const name of ['photo.jpg', '.photo.jpg', 'x.blaine-tmp-1-2', '.x.blaine-tmp-1', '.x.blaine-tmp-a-2', '.x.blaine-tmp-1-2.jpg']) {
    assert.equal(isTempName(name), false, name);
  }
  assert.equal(isTempName('.a b.blaine-tmp-12-3'), true);
});

test('sha256File hashes small and large files like crypto does; a missing file is a SOURCE error', async () => {
  const dir = tempDir();
  for (const size of [0, 5000, 5 * MiB + 1]) {
    const file = path.join(dir, `f${size}`);
    const data = writeRandom(file, size);
    assert.deepEqual(await sha256File(file, { fs: realFs }), { sha256: sha256(data), bytes: size });
  }
  await assert.rejects(sha256File(path.join(dir, 'missing'), { fs: realFs }), { name: 'CopyError', code: 'SOURCE' });
});

test('setTimes changes a symlink, not its target', () => {
  const dir = tempDir();
  const target = path.join(dir, 'target');
  const link = path.join(dir, 'link');
  fs.writeFileSync(target, 't');
  fs.symlinkSync('target', link);
  const before = fs.statSync(target, { bigint: true }).mtimeNs;
  setTimes(link, 1500000000, 250000000, realFs);
  assert.equal(fs.lstatSync(link, { bigint: true }).mtimeNs, 1500000000250000000n);
  assert.equal(fs.statSync(target, { bigint: true }).mtimeNs, before);
  assert.throws(() => setTimes(path.join(dir, 'missing'), 1, 0, realFs), { name: 'CopyError', code: 'TARGET' });
});

test('makeSymlink makes the link with owner and mtime, replacing a file atomically', async (t) => {
  const dir = tempDir();
  const dest = path.join(dir, 'sub', 'link');
  makeSymlink('../elsewhere/a.jpg', dest, { uid: 1234, gid: 4321, mtimeSec: 1650000000, mtimeNsec: 42000 }, realFs);
  assert.equal(fs.readlinkSync(dest), '../elsewhere/a.jpg');
  const st = fs.lstatSync(dest, { bigint: true });
  assert.equal(st.mtimeNs, 1650000000000042000n);
  // Replace a regular file that has another hardlink.
  const file = path.join(dir, 'file');
  fs.writeFileSync(file, 'keep me');
  fs.linkSync(file, path.join(dir, 'twin'));
  makeSymlink('/abs/target', file, { uid: 0, gid: 0, mtimeSec: -1, mtimeNsec: 5 }, realFs);
  assert.equal(fs.readlinkSync(file), '/abs/target');
  assert.equal(fs.lstatSync(file, { bigint: true }).mtimeNs, -999999995n);
  assert.equal(fs.readFileSync(path.join(dir, 'twin'), 'utf8'), 'keep me');
  assert.deepEqual(listAll(dir), ['file', 'sub', 'sub/link', 'twin']);
  fs.mkdirSync(path.join(dir, 'adir'));
  assert.throws(() => makeSymlink('x', path.join(dir, 'adir'), meta, realFs), { name: 'CopyError', code: 'TARGET' });
  assert.deepEqual(listAll(dir), ['adir', 'file', 'sub', 'sub/link', 'twin']);
  if (!isRoot) {
    t.skip('owner: needs root');
    return;
  }
  assert.equal(st.uid, 1234n);
  assert.equal(st.gid, 4321n);
});

test('mtimeMatches wants the very nanosecond, which is what setTimes stores, before 1970 too', () => {
  assert.ok(mtimeMatches(1700000000, 123456789, 1700000000, 123456789));
  assert.ok(!mtimeMatches(1700000000, 123456789, 1700000000, 123456000));
  assert.ok(!mtimeMatches(1700000001, 0, 1700000000, 0));
  assert.deepEqual(storedMtime(1700000000, 123456789), { mtimeSec: 1700000000, mtimeNsec: 123456789 });
  const dir = tempDir();
  const file = path.join(dir, 'old');
  fs.writeFileSync(file, 'x');
  setTimes(file, -86_400_001, 999_999_999, realFs);
  assert.equal(fs.lstatSync(file, { bigint: true }).mtimeNs, -86_400_001n * 1_000_000_000n + 999_999_999n);
  fs.rmSync(dir, { recursive: true });
});

test('syncDisk flushes a directory\'s file system and names the path when it cannot', () => {
  const dir = tempDir();
  syncDisk(dir, realFs);
  assert.throws(() => syncDisk(path.join(dir, 'missing'), realFs), (err: unknown) => {
    assert.ok(err instanceof CopyError);
    assert.equal(err.code, 'TARGET');
    assert.match(err.message, /^Cannot flush .*missing to the disk: /);
    return true;
  });
});

test('disk full: a copy that does not fit is ENOSPC, leaves no temporary file, and harms nothing else', async (t) => {
  const disk = tmpfsDisk(t, '2m');
  if (!disk) return;
  {
    const dir = tempDir();
    const big = path.join(dir, 'big');
    writeRandom(big, 3_000_000);
    const keep = path.join(disk, 'keep');
    const kept = writeRandom(keep, 100_000);
    for (const opts of [{ fs: realFs }, { tempDir: path.join(disk, '.blaine', 'tmp'), fs: realFs }]) {
      await assert.rejects(copyWithSha256(big, path.join(disk, 'a', 'big'), meta, opts), (err: unknown) => {
        assert.ok(err instanceof CopyError);
        assert.equal(err.code, 'ENOSPC');
        assert.match(err.message, /^The disk is full: there is no room left to write .*\/a\/big\.$/);
        return true;
      });
      for (const name of listAll(disk)) assert.ok(!isTempName(path.basename(name)), name);
      assert.ok(fs.readFileSync(keep).equals(kept));
    }
    // The small-file path runs out of room the same way.
    const free = fs.statfsSync(disk).bavail * fs.statfsSync(disk).bsize;
    fs.writeFileSync(path.join(disk, 'filler'), Buffer.alloc(free - 40_000));
    const small = path.join(dir, 'small');
    writeRandom(small, 200_000);
    await assert.rejects(copyWithSha256(small, path.join(disk, 'small'), meta, { fs: realFs }), { code: 'ENOSPC' });
    assert.deepEqual(listAll(disk).filter((n) => !['a', '.blaine', '.blaine/tmp'].includes(n)), ['filler', 'keep']);
    assert.ok(fs.readFileSync(keep).equals(kept));
  }
});

test('copy: a tap that holds its chunks a while still sees every byte in order; the copy reads on into other buffers meanwhile', async () => {
  const dir = tempDir();
  const src = path.join(dir, 'src');
  const dest = path.join(dir, 'dest');
  const data = writeRandom(src, 5 * MiB + 4321);
  const seen: Buffer[] = [];
  const held: Array<() => void> = [];
  let mostHeld = 0;
  // The tap lets go of a chunk only when a later one arrives, or when the copy has no more to give:
  // a buffer read into again too early would show up as wrong bytes in what it keeps.
  const tap = (chunk: Buffer): Promise<void> =>
    new Promise((resolve) => {
      held.push(() => {
        seen.push(Buffer.from(chunk));
        resolve();
      });
      mostHeld = Math.max(mostHeld, held.length);
      // More than the ring has buffers: the copy must wait for the timers below.
      if (held.length > 8) held.shift()!();
      // What is still held when the copy waits for it is let go of on a later turn.
      setTimeout(() => held.shift()?.(), 5);
    });
  const result = await copyWithSha256(src, dest, meta, { fs: realFs, tap, tapBuffers: 2, bufferSize: 256 * 1024 + 12 });
  assert.deepEqual(result, { sha256: sha256(data), bytes: data.length });
  assert.equal(held.length, 0, 'every chunk let go of before the copy ended');
  assert.ok(Buffer.concat(seen).equals(data), 'the tap saw the file, in order');
  assert.ok(mostHeld > 1, `the copy went on while the tap held ${mostHeld} chunk(s)`);
  assert.ok(fs.readFileSync(dest).equals(data));
});
