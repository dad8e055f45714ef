/**
 * The copy of a big file in C (Fsx.copyFd, native/copyfeed.c): the same bytes, SHA-256 and errors
 * as the copy in JavaScript, the faults of the test layer at the same reads and writes, an abort
 * that leaves nothing, and a PAR2 set fed on the copy's own thread that is the set made from the
 * disk byte for byte.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CopyError, copyWithSha256, type FileMeta } from './copy.js';
import { faultyFs, parseFaults } from './fault.js';
import { realFs, type Fsx } from './fsx.js';
import { isTempName } from './temp.js';
import { tempDir } from '../../test/helpers.js';
import { ParityPool } from '../parity/pool.js';
import { createParity } from '../parity/par2.js';
import { parityFiles } from '../parity/paths.js';

const skip = realFs.copyFd ? false : 'the native addon is not built';
const MiB = 1 << 20;
const meta: FileMeta = { mode: 0o640, uid: 0, gid: 0, mtimeSec: 1_700_000_000, mtimeNsec: 987_654_321 };

function source(size: number): { dir: string; src: string; data: Buffer } {
  const dir = tempDir('blaine-copy-native-');
  const data = crypto.randomBytes(size);
  const src = path.join(dir, 'film.mkv');
  fs.writeFileSync(src, data);
  return { dir, src, data };
}

/** The layer with its native copy counted (and, given them, something done just before it starts and just after). */
function counting(base: Fsx, before?: () => void, after?: () => void): Fsx & { nativeCopies: number } {
  const layer = { ...base, nativeCopies: 0 };
  const copy = base.copyFd!;
  layer.copyFd = (job, faults) => {
    layer.nativeCopies++;
    before?.();
    const done = copy(job, faults);
    after?.();
    return done;
  };
  return layer;
}

const leftovers = (dir: string) => fs.readdirSync(dir).filter(isTempName);

test('native copy: the bytes, SHA-256, mode and mtime of the copy in JavaScript; every size class of the last buffer', { skip }, async () => {
  for (const size of [256 * 1024 + 1, MiB, 3 * MiB + 17, 19 * MiB + 4096]) {
    const { dir, src, data } = source(size);
    const layer = counting(realFs);
    const dest = path.join(dir, 'out', 'film.mkv');
    const res = await copyWithSha256(src, dest, meta, { fs: layer });
    assert.equal(layer.nativeCopies, 1, `${size}: copied in C`);
    assert.equal(res.bytes, size);
    assert.equal(res.sha256, crypto.createHash('sha256').update(data).digest('hex'));
    assert.ok(fs.readFileSync(dest).equals(data));
    const st = fs.statSync(dest, { bigint: true });
    assert.equal(Number(st.mode & 0o7777n), 0o640);
    assert.equal(st.mtimeNs, 1_700_000_000_987_654_321n);
    assert.deepEqual(leftovers(path.dirname(dest)), []);
  }
});

test('native copy: the test layer counts its reads and writes as the copy in JavaScript makes them, and its faults hit the same step', { skip }, async () => {
  const size = 5 * MiB + 100;
  const { dir, src } = source(size);
  // The same count of reads and writes through either copy.
  const viaJs = faultyFs(realFs, []);
  viaJs.copyFd = null;
  const viaC = faultyFs(realFs, []);
  await copyWithSha256(src, path.join(dir, 'a'), meta, { fs: viaJs });
  await copyWithSha256(src, path.join(dir, 'b'), meta, { fs: viaC });
  assert.deepEqual([viaC.log.calls.read, viaC.log.calls.write], [viaJs.log.calls.read, viaJs.log.calls.write]);
  assert.deepEqual([viaC.log.calls.read, viaC.log.calls.write], [7, 6]);

  for (const [spec, code, message] of [
    ['read:3:EIO', 'SOURCE', /Cannot read .*film\.mkv: i\/o error/],
    ['write:4:ENOSPC', 'ENOSPC', /The disk is full/],
    ['write:1:EIO@film', 'TARGET', /Cannot write .*film\.mkv: i\/o error/],
  ] as const) {
    for (const native of [true, false]) {
      const layer = faultyFs(realFs, parseFaults(spec));
      if (!native) layer.copyFd = null;
      const out = path.join(dir, `out-${native}`);
      await assert.rejects(
        copyWithSha256(src, path.join(out, 'film.mkv'), meta, { fs: layer }),
        (e: unknown) => e instanceof CopyError && e.code === code && message.test(e.message),
        `${spec}, ${native ? 'in C' : 'in JavaScript'}`,
      );
      assert.equal(layer.log.fired.length, 1);
      assert.deepEqual(leftovers(out), [], 'no temporary file left');
    }
  }
});

test('native copy: an abort under way stops it before its next read; nothing is left', { skip }, async () => {
  const { dir, src } = source(8 * MiB);
  const ac = new AbortController();
  const layer = counting(realFs, () => ac.abort(new Error('stop now')));
  await assert.rejects(copyWithSha256(src, path.join(dir, 'out', 'film.mkv'), meta, { fs: layer, signal: ac.signal }), /stop now/);
  assert.equal(layer.nativeCopies, 1);
  assert.deepEqual(leftovers(path.join(dir, 'out')), []);
});

test('native copy: a source that grows meanwhile is CHANGED (the scan saw fewer bytes)', { skip }, async () => {
  const { dir, src } = source(2 * MiB);
  const layer = counting(realFs, () => fs.appendFileSync(src, 'more'));
  await assert.rejects(copyWithSha256(src, path.join(dir, 'film.mkv'), meta, { fs: layer, expectedSize: 2 * MiB }), (e: unknown) => e instanceof CopyError && e.code === 'CHANGED');
});

test('native copy: a set fed on the copy\'s thread is the set made from the disk byte for byte; a feeder closed under way makes no set and harms no copy', { skip }, async () => {
  const size = 11 * MiB + 333;
  const { dir, src, data } = source(size);
  const disk = path.join(dir, 'disk');
  const rel = 'mnt/media/film.mkv';
  const pool = new ParityPool({ jobs: 2, pct: 10, feeders: true });
  const feeder = pool.openFeeder(rel, size)!;
  const layer = counting(realFs);
  const res = await copyWithSha256(src, path.join(disk, rel), meta, { fs: layer, tap: feeder.take, nativeTap: feeder.nativeTap });
  assert.equal(layer.nativeCopies, 1);
  assert.equal(res.bytes, size);
  assert.equal(await feeder.complete(), true, 'every byte fed');
  const made = await pool.submit(disk, rel, size, feeder);
  const fed = parityFiles(disk, rel).map((f) => fs.readFileSync(f));
  for (const f of parityFiles(disk, rel)) fs.rmSync(f);
  await createParity(disk, rel, { pct: 10 });
  const fromDisk = parityFiles(disk, rel).map((f) => fs.readFileSync(f));
  assert.ok(fed.length === 2 && fed.every((b, i) => b.equals(fromDisk[i]!)), 'fed set = set read from the disk');
  assert.equal(made.parityName, rel);

  // Closed just before the copy starts, or while it runs (a run stopping elsewhere): the copy is
  // whole, the feed is not, and the creator is freed once the copy is done with it.
  for (const when of ['before', 'during'] as const) {
    const closing = pool.openFeeder(rel, size)!;
    const close = () => closing.close();
    const closer = when === 'before' ? counting(realFs, close) : counting(realFs, undefined, close);
    const out = path.join(dir, `${when}.mkv`);
    const again = await copyWithSha256(src, out, meta, { fs: closer, tap: closing.take, nativeTap: closing.nativeTap });
    assert.equal(again.bytes, size, when);
    assert.ok(fs.readFileSync(out).equals(data), when);
    assert.equal(await closing.complete(), false, when);
  }
  await pool.drain();
});
