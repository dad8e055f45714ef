/**
 * Parity made in the copy's read pass: a big file's set is fed the bytes the copy reads
 * (CopyOptions.tap → Par2Feeder), so it describes exactly what was copied and hashed, needs no
 * second read, and is the very set a creator reading the disk would make. A feed that falls short
 * leaves the set to be made from the disk.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { copyWithSha256 } from '../fsx/copy.js';
import { realFs } from '../fsx/fsx.js';
import { flipBytes, tempDir, writeRandom } from '../../test/parity-fixtures.js';
import { backup, blaineBin, testEnv, write } from '../../test/helpers.js';
import { Par2Stream, parityAddon } from './creator.js';
import { planSlices } from './slices.js';
import { createParity, ParityError, repairTo, verifyParity } from './par2.js';
import { parityFiles } from './paths.js';
import { FEED_FROM, ParityPool } from './pool.js';

const skip = parityAddon() ? false : 'the native addon is not built';
const MiB = 1024 * 1024;
const META = { mode: 0o640, uid: 0, gid: 0, mtimeSec: 1_600_000_000, mtimeNsec: 123_456_789 };

/** A source file of random bytes and the disk it is to be copied to. */
function sourceAndDisk(size: number): { data: Buffer; src: string; disk: string; rel: string; dest: string } {
  const dir = tempDir('blaine-feeder-');
  const data = crypto.randomBytes(size);
  const src = path.join(dir, 'film.mkv');
  fs.writeFileSync(src, data);
  const disk = path.join(dir, 'disk');
  const rel = 'mnt/media/film.mkv';
  return { data, src, disk, rel, dest: path.join(disk, rel) };
}

const setBytes = (disk: string, rel: string): Buffer[] => parityFiles(disk, rel).map((f) => fs.readFileSync(f));

test("a set fed by the copy describes the bytes copied, is the set made from the disk byte for byte, and par2 repairs with it", { skip }, async () => {
  const f = sourceAndDisk(9 * MiB + 777);
  const pool = new ParityPool({ jobs: 2, pct: 10, feeders: true });
  const feeder = pool.openFeeder(f.rel, f.data.length);
  assert.ok(feeder, 'a file of 9 MiB gets a feeder');
  // Chunks that cut slices anywhere, and a ring of two buffers the copy must wait for.
  const copied = await copyWithSha256(f.src, f.dest, META, { fs: realFs, tap: feeder.take, tapBuffers: 2, bufferSize: 300_007 });
  assert.equal(copied.bytes, f.data.length);
  // The copy on the disk rots before its parity is finished: a set made by reading it again would
  // describe the rotten bytes; the fed set describes what was copied (and hashed), so it repairs it.
  flipBytes(f.dest, 5 * MiB, 64);
  const made = await pool.submit(f.disk, f.rel, f.data.length, feeder);
  assert.equal(made.parityName, f.rel);
  assert.equal((await verifyParity(f.disk, f.rel, made.parityName)).state, 'repairable');
  const out = path.join(f.disk, '..', 'repaired');
  assert.equal(await repairTo(f.disk, f.rel, made.parityName, out), true);
  assert.ok(fs.readFileSync(out).equals(f.data), 'repaired to the bytes copied');

  // The same set as the creator makes reading the (good) file from the disk.
  const fed = setBytes(f.disk, f.rel);
  fs.copyFileSync(out, f.dest);
  await createParity(f.disk, f.rel, { pct: 10 });
  const fromDisk = setBytes(f.disk, f.rel);
  assert.equal(fed.length, 2);
  assert.ok(fed.every((b, i) => b.equals(fromDisk[i]!)), 'fed set = set read from the disk');
  assert.deepEqual(await verifyParity(f.disk, f.rel, made.parityName), { state: 'ok' });
  await pool.drain();
});

test('feeds handed over all at once, without waiting for each, are taken in order: the same set, byte for byte', { skip }, async () => {
  const f = sourceAndDisk(6 * MiB + 4321);
  fs.mkdirSync(path.dirname(f.dest), { recursive: true });
  fs.writeFileSync(f.dest, f.data);
  // Uneven chunks, every one handed to the creator before the first is called back (the copy's ring does this).
  const plan = planSlices(f.data.length, 10, undefined, Buffer.byteLength(f.rel));
  const stream = new Par2Stream({ sliceSize: plan.blockSize, recoverySlices: plan.recoveryBlocks, size: f.data.length, name: f.rel, memory: 64 * MiB });
  const cuts = [0, 1, 65_537, MiB, 3 * MiB + 5, 5 * MiB, f.data.length];
  await Promise.all(cuts.slice(1).map((end, i) => stream.update(f.data.subarray(cuts[i], end))));
  const made = path.join(f.disk, '..', 'made');
  fs.mkdirSync(made);
  await stream.finish(path.join(made, 'p.par2'), path.join(made, 'p.vol+.par2'));
  const fed = ['p.par2', 'p.vol+.par2'].map((n) => fs.readFileSync(path.join(made, n)));
  await createParity(f.disk, f.rel, { pct: 10 });
  const fromDisk = setBytes(f.disk, f.rel);
  assert.ok(fromDisk.length === 2 && fed.every((b, i) => b.equals(fromDisk[i]!)), 'fed set = set read from the disk');
  const pool = new ParityPool({ jobs: 1, pct: 10, feeders: true });
  // A feeder closed with feeds still queued frees its creator; they end without taking more.
  const closing = pool.openFeeder(f.rel, f.data.length)!;
  const pending = [closing.take(f.data.subarray(0, 4 * MiB)), closing.take(f.data.subarray(4 * MiB))];
  closing.close();
  await Promise.all(pending);
  assert.equal(await closing.complete(), false);
  await pool.drain();
});

test('a feed that falls short (a copy stopped early) leaves the set to be made from the disk', { skip }, async () => {
  const f = sourceAndDisk(FEED_FROM + 4097);
  fs.mkdirSync(path.dirname(f.dest), { recursive: true });
  fs.writeFileSync(f.dest, f.data);
  const pool = new ParityPool({ jobs: 1, pct: 10, feeders: true });
  const feeder = pool.openFeeder(f.rel, f.data.length)!;
  await feeder.take(f.data.subarray(0, MiB));
  const made = await pool.submit(f.disk, f.rel, f.data.length, feeder);
  assert.deepEqual(await verifyParity(f.disk, f.rel, made.parityName), { state: 'ok' });
  // One that was given more than the file holds is no set either.
  const over = pool.openFeeder(f.rel, f.data.length)!;
  await over.take(f.data);
  await over.take(f.data.subarray(0, 8));
  assert.equal(await over.complete(), false);
  over.close();
  await pool.drain();
});

test('up to one feeder per job while their memory fits one share, for big files only, each holding a slot; a closed one frees both', { skip }, async () => {
  const pool = new ParityPool({ jobs: 2, pct: 10, feeders: true });
  assert.equal(pool.openFeeder('a/small', FEED_FROM - 1), null, 'below FEED_FROM: made from the disk');
  const first = pool.openFeeder('a/big', FEED_FROM);
  assert.ok(first);
  const second = pool.openFeeder('a/big2', 64 * MiB);
  assert.ok(second, 'a second one while the first is open: the next big file while the set before is finished');
  assert.equal(pool.openFeeder('a/big3', 64 * MiB), null, 'one per job at most');
  first.close();
  first.close();
  const third = pool.openFeeder('a/big3', 64 * MiB);
  assert.ok(third, 'free again once closed (and only once)');
  third.close();
  second.close();
  // Their memory: a share of 40 MiB holds the creator of one 256 MiB file (about 26 MiB), not two.
  const tight = new ParityPool({ jobs: 2, pct: 10, feeders: true, memoryBytes: 120 * MiB });
  const big = tight.openFeeder('a/big', 256 * MiB);
  assert.ok(big && big.memory > 20 * MiB && big.memory <= 40 * MiB, `one fits (${big?.memory} bytes)`);
  assert.equal(tight.openFeeder('a/big2', 256 * MiB), null, 'a second does not fit beside it');
  big.close();
  assert.ok(tight.openFeeder('a/big2', 256 * MiB), 'it does once the first is closed');
  assert.equal(new ParityPool({ jobs: 2, pct: 10 }).openFeeder('a/big', 64 * MiB), null, 'not asked for: none');
  assert.equal(new ParityPool({ jobs: 2, pct: 10, feeders: true, cfg: { command: ['/bin/false'] } }).openFeeder('a/big', 64 * MiB), null, 'another creator: none');
  // Too big for its share of the memory in one pass: made from the disk, in column bands.
  assert.equal(new ParityPool({ jobs: 1, pct: 10, feeders: true, memoryBytes: 2 * MiB }).openFeeder('a/big', 256 * MiB), null);
  // A set being fed is a creator at work: it holds a slot, and the queued job waits for it.
  const disk = tempDir('blaine-feeder-');
  writeRandom(disk, 'a/small', 10_000);
  const one = new ParityPool({ jobs: 1, pct: 10, feeders: true });
  const feeding = one.openFeeder('a/big', 8 * MiB)!;
  const queued = one.submit(disk, 'a/small', 10_000);
  assert.deepEqual([one.active, one.queued], [0, 1], 'the job waits while the set is fed');
  feeding.close();
  assert.deepEqual([one.active, one.queued], [1, 0], 'and starts once it is not');
  assert.deepEqual(await verifyParity(disk, 'a/small', (await queued).parityName), { state: 'ok' });
  const stopped = new ParityPool({ jobs: 1, pct: 10, feeders: true });
  const open = stopped.openFeeder('a/big', 8 * MiB)!;
  await stopped.abort();
  assert.equal(stopped.openFeeder('a/big2', 8 * MiB), null, 'a stopped pool opens none');
  await assert.rejects(stopped.submit('/nonexistent', 'a/big', 8 * MiB, open), (e) => e instanceof ParityError && e.code === 'ABORTED');
  assert.equal(await open.complete(), false, 'submitting to a stopped pool closes the feeder');
});

test('a copy whose set was being fed and that then fails (its old parity cannot be removed) gives its slot back: the run ends, with the other files parity', { skip, timeout: 120_000 }, async () => {
  const env = testEnv('blaine-feeder-');
  const T = new Date('2024-05-01T10:00:00Z');
  const big = path.join(env.lib, 'big.bin');
  const other = path.join(env.lib, 'other.bin');
  write(big, crypto.randomBytes(FEED_FROM + 12_345), T);
  write(other, crypto.randomBytes(FEED_FROM + 777), T);
  backup(env, ['--init', '--jobs', '1'], { ok: true });
  const T2 = new Date('2024-06-01T10:00:00Z');
  write(big, crypto.randomBytes(FEED_FROM + 12_345), T2);
  write(other, crypto.randomBytes(FEED_FROM + 777), T2);
  // One pool slot: a slot kept by the failed copy's feeder would leave the other file's parity queued for ever.
  const r = spawnSync(process.execPath, [blaineBin, 'backup', '--dest', env.disk, '--db', env.db, '--reserve', '0', '--jobs', '1', env.lib], {
    encoding: 'utf8',
    env: { ...process.env, BLAINE_TEST_FAULTS: 'unlink:1:EIO@big.bin.par2' },
    timeout: 60_000,
  });
  assert.notEqual(r.signal, 'SIGTERM', 'the backup hung');
  assert.match(r.stderr, /cannot write .*big\.bin.*skipped/, r.stderr);
  const rel = path.relative('/', other);
  assert.deepEqual(await verifyParity(env.disk, rel, rel), { state: 'ok' });
  env.cleanup();
});
