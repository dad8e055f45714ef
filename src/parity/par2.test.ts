import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tmpfsDisk } from '../../test/helpers.js';
import { flipBytes, listTree, overwrite, par2Wrapper, sha256File, tempDir, untilCalls, writeRandom } from '../../test/parity-fixtures.js';
import { createParity, par2Available, ParityError, repairTo, safeParityName, verifyParity } from './par2.js';
import { linkParity, moveParity, parityDir, parityFiles, removeParity } from './paths.js';
import { realFs } from '../fsx/fsx.js';
import { nameToBytes } from '../fsx/name-bytes.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const pct = 10;

/** A disk root with one random file; returns the disk, the file's SHA-256 and its parity name. */
async function diskWith(rel: string, size: number): Promise<{ disk: string; sha: string; name: string; bytes: number }> {
  const disk = tempDir();
  const sha = writeRandom(disk, rel, size);
  const { parityName, bytes } = await createParity(disk, rel, { pct });
  return { disk, sha, name: parityName, bytes };
}

/** Nothing of a parity run may stay behind in the scratch area. */
function assertNoScratch(disk: string): void {
  assert.deepEqual(listTree(path.join(disk, '.blaine', 'tmp')), []);
}

function names(disk: string, rel: string): string[] {
  return parityFiles(disk, rel).map((f) => path.relative(disk, f));
}

test('par2 is available; a missing program is not', () => {
  assert.equal(par2Available(), true);
  assert.equal(par2Available({ command: ['/nonexistent/par2'] }), false);
});

test('create: one index and one recovery file in the parity tree, verify says ok', async () => {
  const { disk, name, bytes } = await diskWith('mnt/media/photo.jpg', MiB);
  assert.equal(name, 'mnt/media/photo.jpg');
  // 1 MiB = 256 slices of 4 KiB; 10% = 26 recovery slices.
  assert.deepEqual(names(disk, 'mnt/media/photo.jpg'), [
    '.blaine/parity/mnt/media/photo.jpg.par2',
    '.blaine/parity/mnt/media/photo.jpg.vol+.par2',
  ]);
  const total = parityFiles(disk, 'mnt/media/photo.jpg').reduce((s, f) => s + fs.statSync(f).size, 0);
  assert.equal(bytes, total);
  assert.ok(bytes > 26 * 4096 && bytes < 26 * 4096 + 64 * KiB, `${bytes} bytes of parity`);
  assert.deepEqual(listTree(path.join(disk, 'mnt/media')), ['photo.jpg'], 'nothing beside the data');
  assertNoScratch(disk);
  assert.deepEqual(await verifyParity(disk, 'mnt/media/photo.jpg', name), { state: 'ok' });
  assertNoScratch(disk);
  // par2 itself recorded the relative path with its directories.
  const out = execFileSync('par2', ['v', `-B${disk}`, path.join(parityDir(disk), 'mnt/media/photo.jpg.par2')], { encoding: 'utf8' });
  assert.match(out, /Target: "mnt\/media\/photo\.jpg" - found\./);
});

test('flipped bytes are repairable; repairTo restores them without touching the disk', async () => {
  const { disk, sha, name } = await diskWith('mnt/media/song.flac', 3 * MiB + 123);
  const onDisk = path.join(disk, 'mnt/media/song.flac');
  flipBytes(onDisk, 5000);
  flipBytes(onDisk, 2 * MiB + 17, 9000);
  const damaged = sha256File(onDisk);
  const inode = fs.statSync(onDisk).ino;
  assert.deepEqual(await verifyParity(disk, 'mnt/media/song.flac', name), { state: 'repairable' });
  const out = path.join(tempDir(), 'restore', 'mnt/media/song.flac');
  assert.equal(await repairTo(disk, 'mnt/media/song.flac', name, out), true);
  assert.equal(sha256File(out), sha);
  assert.equal(sha256File(onDisk), damaged, "the disk's file is left as it was");
  assert.equal(fs.statSync(onDisk).ino, inode);
  assert.equal(fs.statSync(onDisk).nlink, 1, 'no scratch link left on it');
  assert.deepEqual(listTree(path.dirname(out)), ['song.flac']);
  assertNoScratch(disk);
  // Repairing on the disk (verify --fix) is moving the repaired file into place.
  fs.renameSync(out, onDisk);
  assert.deepEqual(await verifyParity(disk, 'mnt/media/song.flac', name), { state: 'ok' });
});

test('repairTo of an undamaged file copies it', async () => {
  const { disk, sha, name } = await diskWith('mnt/ok.bin', 200 * KiB);
  const out = path.join(tempDir(), 'ok.bin');
  fs.writeFileSync(out, 'old content is replaced');
  assert.equal(await repairTo(disk, 'mnt/ok.bin', name, out), true);
  assert.equal(sha256File(out), sha);
  assert.equal(fs.statSync(path.join(disk, 'mnt/ok.bin')).nlink, 1, 'a copy, not a link to the disk');
  assertNoScratch(disk);
});

test('30% overwritten is unrepairable; repairTo says false and writes nothing', async () => {
  const { disk, name } = await diskWith('mnt/v.mkv', MiB);
  overwrite(path.join(disk, 'mnt/v.mkv'), 100 * KiB, Math.round(0.3 * MiB));
  assert.deepEqual(await verifyParity(disk, 'mnt/v.mkv', name), { state: 'unrepairable' });
  const outDir = tempDir();
  assert.equal(await repairTo(disk, 'mnt/v.mkv', name, path.join(outDir, 'v.mkv')), false);
  assert.deepEqual(listTree(outDir), []);
  assertNoScratch(disk);
});

test('a missing data file is unrepairable at 10%, repairable when parity covers it all', async () => {
  const { disk, name } = await diskWith('mnt/gone.bin', 64 * KiB);
  fs.rmSync(path.join(disk, 'mnt/gone.bin'));
  assert.deepEqual(await verifyParity(disk, 'mnt/gone.bin', name), { state: 'unrepairable' });
  const small = tempDir();
  const sha = writeRandom(small, 'x/tiny', 100);
  const made = await createParity(small, 'x/tiny', { pct });
  fs.rmSync(path.join(small, 'x/tiny'));
  // One slice of data, one recovery slice: the whole file can be rebuilt.
  assert.deepEqual(await verifyParity(small, 'x/tiny', made.parityName), { state: 'repairable' });
  const out = path.join(tempDir(), 'tiny');
  assert.equal(await repairTo(small, 'x/tiny', made.parityName, out), true);
  assert.equal(sha256File(out), sha);
});

test('damaged parity: par2 still says the data is ok; the damage is reported as parityDamaged', async () => {
  const { disk, sha, name } = await diskWith('mnt/p.jpg', MiB);
  const [index, vol] = parityFiles(disk, 'mnt/p.jpg');
  assert.ok(index && vol);
  const volCopy = fs.readFileSync(vol);
  flipBytes(vol, 9000);
  flipBytes(vol, 60_000);
  // par2 v: "All files are correct, repair is not required." (exit 0), with fewer recovery slices.
  assert.deepEqual(await verifyParity(disk, 'mnt/p.jpg', name), { state: 'ok', parityDamaged: true });
  // Damaged data is still judged from the slices that are left.
  const data = path.join(disk, 'mnt/p.jpg');
  flipBytes(data, 4096 * 3);
  assert.deepEqual(await verifyParity(disk, 'mnt/p.jpg', name), { state: 'repairable', parityDamaged: true });
  const out = path.join(tempDir(), 'p.jpg');
  assert.equal(await repairTo(disk, 'mnt/p.jpg', name, out), true);
  assert.equal(sha256File(out), sha);
  fs.copyFileSync(out, data);
  fs.writeFileSync(vol, volCopy);
  // A damaged index: par2 reads the set's description from the recovery file.
  flipBytes(index, 200);
  assert.deepEqual(await verifyParity(disk, 'mnt/p.jpg', name), { state: 'ok', parityDamaged: true });
  // A cut-off recovery file.
  fs.writeFileSync(index, fs.readFileSync(index).map((b, i) => (i === 200 ? b ^ 0xff : b)));
  fs.truncateSync(vol, volCopy.length - 1000);
  assert.deepEqual(await verifyParity(disk, 'mnt/p.jpg', name), { state: 'ok', parityDamaged: true });
  // Parity that is garbage throughout: par2 exits 4 ("Main packet not found"), no usable parity.
  for (const f of [index, vol]) fs.writeFileSync(f, Buffer.alloc(fs.statSync(f).size, 0x5a));
  assert.deepEqual(await verifyParity(disk, 'mnt/p.jpg', name), { state: 'missing' });
  assert.equal(await repairTo(disk, 'mnt/p.jpg', name, path.join(tempDir(), 'x')), false);
  assertNoScratch(disk);
});

test('a lost index: the recovery file alone still verifies and repairs', async () => {
  const { disk, sha, name } = await diskWith('mnt/i.jpg', 500 * KiB);
  fs.rmSync(parityFiles(disk, 'mnt/i.jpg')[0]!);
  assert.deepEqual(names(disk, 'mnt/i.jpg'), ['.blaine/parity/mnt/i.jpg.vol+.par2']);
  assert.deepEqual(await verifyParity(disk, 'mnt/i.jpg', name), { state: 'ok' });
  flipBytes(path.join(disk, 'mnt/i.jpg'), 77);
  const out = path.join(tempDir(), 'i.jpg');
  assert.equal(await repairTo(disk, 'mnt/i.jpg', name, out), true);
  assert.equal(sha256File(out), sha);
});

test('no parity files: missing, and repairTo says false', async () => {
  const disk = tempDir();
  writeRandom(disk, 'mnt/n.bin', 10 * KiB);
  assert.deepEqual(await verifyParity(disk, 'mnt/n.bin', 'mnt/n.bin'), { state: 'missing' });
  assert.equal(await repairTo(disk, 'mnt/n.bin', 'mnt/n.bin', path.join(tempDir(), 'n.bin')), false);
  assert.deepEqual(await verifyParity(disk, 'mnt/never', 'mnt/never'), { state: 'missing' });
});

test('renamed file: parity moves along, verify and repair work under the recorded name', async () => {
  const { disk, sha, name } = await diskWith('mnt/media/old name.jpg', 700 * KiB);
  fs.mkdirSync(path.join(disk, 'mnt/other/deeper'), { recursive: true });
  fs.renameSync(path.join(disk, 'mnt/media/old name.jpg'), path.join(disk, 'mnt/other/deeper/new.jpg'));
  moveParity(disk, 'mnt/media/old name.jpg', 'mnt/other/deeper/new.jpg');
  assert.deepEqual(listTree(parityDir(disk)), ['mnt/', 'mnt/other/', 'mnt/other/deeper/', 'mnt/other/deeper/new.jpg.par2', 'mnt/other/deeper/new.jpg.vol+.par2']);
  // par2 on its own no longer accepts the file (NOTES: "misnamed"); through Blaine it verifies.
  const direct = spawnSync('par2', ['v', '-q', `-B${disk}`, path.join(parityDir(disk), 'mnt/other/deeper/new.jpg.par2'), path.join(disk, 'mnt/other/deeper/new.jpg')]);
  assert.notEqual(direct.status, 0);
  assert.deepEqual(await verifyParity(disk, 'mnt/other/deeper/new.jpg', name), { state: 'ok' });
  flipBytes(path.join(disk, 'mnt/other/deeper/new.jpg'), 1234);
  assert.deepEqual(await verifyParity(disk, 'mnt/other/deeper/new.jpg', name), { state: 'repairable' });
  const out = path.join(tempDir(), 'new.jpg');
  assert.equal(await repairTo(disk, 'mnt/other/deeper/new.jpg', name, out), true);
  assert.equal(sha256File(out), sha);
  assertNoScratch(disk);
});

test('hardlinked file: linked parity verifies under both names; removing one keeps the other', async () => {
  const { disk, name } = await diskWith('mnt/a/pic.jpg', 300 * KiB);
  fs.mkdirSync(path.join(disk, 'mnt/b'));
  fs.linkSync(path.join(disk, 'mnt/a/pic.jpg'), path.join(disk, 'mnt/b/same.jpg'));
  linkParity(disk, 'mnt/a/pic.jpg', 'mnt/b/same.jpg');
  for (const f of parityFiles(disk, 'mnt/b/same.jpg')) assert.equal(fs.statSync(f).nlink, 2);
  assert.deepEqual(await verifyParity(disk, 'mnt/b/same.jpg', name), { state: 'ok' });
  fs.rmSync(path.join(disk, 'mnt/a/pic.jpg'));
  removeParity(disk, 'mnt/a/pic.jpg');
  assert.equal(fs.existsSync(path.join(parityDir(disk), 'mnt/a')), false, 'emptied parity directory removed');
  assert.deepEqual(await verifyParity(disk, 'mnt/b/same.jpg', name), { state: 'ok' });
});

test('one-character names: mnt/a records mnt/a; a file directly below the root records _/a', async () => {
  const disk = tempDir();
  const shaA = writeRandom(disk, 'mnt/a', 50 * KiB);
  const shaRoot = writeRandom(disk, 'a', 50 * KiB);
  // Made directly, par2cmdline 0.8.1 aborts on this name (std::out_of_range).
  const crash = spawnSync('par2', ['c', '-q', '-q', '-s4096', '-c1', '-n1', `-B${disk}`, path.join(tempDir(), 'x.par2'), path.join(disk, 'a')]);
  assert.notEqual(crash.status, 0);
  const inDir = await createParity(disk, 'mnt/a', { pct });
  assert.equal(inDir.parityName, 'mnt/a');
  const atRoot = await createParity(disk, 'a', { pct });
  assert.equal(atRoot.parityName, '_/a');
  assert.equal(safeParityName('a'), '_/a');
  // Small files: one file per set (SPEC §6).
  assert.deepEqual(names(disk, 'a'), ['.blaine/parity/a.par2']);
  assert.deepEqual(names(disk, 'mnt/a'), ['.blaine/parity/mnt/a.par2']);
  assert.deepEqual(listTree(disk).filter((p) => !p.startsWith('.blaine')), ['a', 'mnt/', 'mnt/a']);
  assert.equal(fs.statSync(path.join(disk, 'a')).nlink, 1, 'the staging link is gone');
  assertNoScratch(disk);
  assert.deepEqual(await verifyParity(disk, 'a', '_/a'), { state: 'ok' });
  assert.deepEqual(await verifyParity(disk, 'mnt/a', 'mnt/a'), { state: 'ok' });
  flipBytes(path.join(disk, 'a'), 10);
  flipBytes(path.join(disk, 'mnt/a'), 10);
  assert.deepEqual(await verifyParity(disk, 'a', '_/a'), { state: 'repairable' });
  const out = tempDir();
  assert.equal(await repairTo(disk, 'a', '_/a', path.join(out, 'a')), true);
  assert.equal(await repairTo(disk, 'mnt/a', 'mnt/a', path.join(out, 'mnt-a')), true);
  assert.equal(sha256File(path.join(out, 'a')), shaRoot);
  assert.equal(sha256File(path.join(out, 'mnt-a')), shaA);
  // Renamed onto a one-character name at the root: the recorded name is used, no crash.
  fs.renameSync(path.join(disk, 'mnt/a'), path.join(disk, 'b'));
  moveParity(disk, 'mnt/a', 'b');
  assert.deepEqual(await verifyParity(disk, 'b', 'mnt/a'), { state: 'repairable' });
});

test('a user file named movie.par2 gets parity movie.par2.par2; nothing collides with movie', async () => {
  const disk = tempDir();
  const shaUser = writeRandom(disk, 'mnt/dl/movie.par2', 40 * KiB);
  writeRandom(disk, 'mnt/dl/movie', 120 * KiB);
  writeRandom(disk, 'mnt/dl/movie.vol00+01.par2', 8 * KiB); // users' own recovery files too
  const a = await createParity(disk, 'mnt/dl/movie.par2', { pct });
  const b = await createParity(disk, 'mnt/dl/movie', { pct });
  // Small files: one file per set (SPEC §6).
  assert.deepEqual(names(disk, 'mnt/dl/movie.par2'), ['.blaine/parity/mnt/dl/movie.par2.par2']);
  assert.deepEqual(names(disk, 'mnt/dl/movie'), ['.blaine/parity/mnt/dl/movie.par2']);
  assert.deepEqual(listTree(path.join(disk, 'mnt/dl')), ['movie', 'movie.par2', 'movie.vol00+01.par2']);
  assert.equal(sha256File(path.join(disk, 'mnt/dl/movie.par2')), shaUser);
  assert.deepEqual(await verifyParity(disk, 'mnt/dl/movie.par2', a.parityName), { state: 'ok' });
  assert.deepEqual(await verifyParity(disk, 'mnt/dl/movie', b.parityName), { state: 'ok' });
  removeParity(disk, 'mnt/dl/movie');
  assert.equal(names(disk, 'mnt/dl/movie.par2').length, 1);
  assert.deepEqual(await verifyParity(disk, 'mnt/dl/movie.par2', a.parityName), { state: 'ok' });
});

test('names par2 would misread (wildcards, backslash) are recorded under a safe name', async () => {
  const disk = tempDir();
  writeRandom(disk, 'mnt/wh?t.jpg', 30 * KiB);
  writeRandom(disk, 'mnt/whXt.jpg', 30 * KiB); // par2 would add this one to the set of "wh?t.jpg"
  writeRandom(disk, 'mnt/st*r', 30 * KiB);
  const shaBs = writeRandom(disk, 'mnt/back\\slash', 30 * KiB);
  for (const [rel, expect] of [['mnt/wh?t.jpg', 'mnt/wh_t.jpg'], ['mnt/st*r', 'mnt/st_r'], ['mnt/back\\slash', 'mnt/back_slash']] as const) {
    const made = await createParity(disk, rel, { pct });
    assert.equal(made.parityName, expect);
    assert.deepEqual(await verifyParity(disk, rel, made.parityName), { state: 'ok' }, rel);
  }
  // Exactly one data file in the set, and a small file's set is one file.
  assert.deepEqual(names(disk, 'mnt/wh?t.jpg'), ['.blaine/parity/mnt/wh?t.jpg.par2']);
  flipBytes(path.join(disk, 'mnt/back\\slash'), 100);
  const out = path.join(tempDir(), 'bs');
  assert.equal(await repairTo(disk, 'mnt/back\\slash', 'mnt/back_slash', out), true);
  assert.equal(sha256File(out), shaBs);
  assertNoScratch(disk);
});

test('an empty file needs no parity: none is written and it verifies ok', async () => {
  const disk = tempDir();
  fs.mkdirSync(path.join(disk, 'mnt'));
  fs.writeFileSync(path.join(disk, 'mnt/empty'), '');
  assert.deepEqual(await createParity(disk, 'mnt/empty', { pct }), { parityName: 'mnt/empty', bytes: 0, diskBytes: 0 });
  assert.deepEqual(parityFiles(disk, 'mnt/empty'), []);
  assert.deepEqual(await verifyParity(disk, 'mnt/empty', 'mnt/empty'), { state: 'ok' });
  const out = path.join(tempDir(), 'e');
  assert.equal(await repairTo(disk, 'mnt/empty', 'mnt/empty', out), true);
  assert.equal(fs.statSync(out).size, 0);
});

test('making parity again replaces the whole old set', async () => {
  const disk = tempDir();
  writeRandom(disk, 'mnt/grow', 1 * MiB);
  await createParity(disk, 'mnt/grow', { pct });
  assert.deepEqual(names(disk, 'mnt/grow'), ['.blaine/parity/mnt/grow.par2', '.blaine/parity/mnt/grow.vol+.par2']);
  writeRandom(disk, 'mnt/grow', 40 * KiB);
  const again = await createParity(disk, 'mnt/grow', { pct: 30 });
  // Now a small file: one file, and the old recovery file is gone with the old set.
  assert.deepEqual(names(disk, 'mnt/grow'), ['.blaine/parity/mnt/grow.par2']);
  assert.deepEqual(await verifyParity(disk, 'mnt/grow', again.parityName), { state: 'ok' });
});

test('errors are ParityErrors with one-sentence messages', async () => {
  const disk = tempDir();
  await assert.rejects(createParity(disk, 'mnt/nothing', { pct }), (e: unknown) => {
    assert.ok(e instanceof ParityError);
    assert.equal(e.code, 'ENOENT');
    assert.equal(e.message, 'cannot make parity for mnt/nothing: the file does not exist');
    return true;
  });
  fs.mkdirSync(path.join(disk, 'dir'));
  await assert.rejects(createParity(disk, 'dir', { pct }), { name: 'ParityError', code: 'EINVAL' });
  writeRandom(disk, 'mnt/f', 10 * KiB);
  await assert.rejects(createParity(disk, 'mnt/f', { pct, cfg: { command: ['/nonexistent/par2'] } }), (e: unknown) => {
    assert.ok(e instanceof ParityError);
    assert.equal(e.code, 'ENOPAR2');
    assert.match(e.message, /^cannot run \/nonexistent\/par2 \(.*\); install par2cmdline \(Debian package par2\)$/);
    return true;
  });
  // par2 failing: "false" as the command exits 1 with no output.
  await assert.rejects(createParity(disk, 'mnt/f', { pct, cfg: { command: ['false'] } }), {
    code: 'EPAR2',
    message: 'par2 could not make parity for mnt/f (exit status 1)',
  });
  assert.deepEqual(parityFiles(disk, 'mnt/f'), []);
  assertNoScratch(disk);
});

test('a wrapper command template works (nice par2)', async () => {
  const disk = tempDir();
  writeRandom(disk, 'mnt/w', 100 * KiB);
  const cfg = { command: ['nice', '-n', '5', 'par2'], threads: 1 };
  const made = await createParity(disk, 'mnt/w', { pct, cfg });
  assert.deepEqual(await verifyParity(disk, 'mnt/w', made.parityName, { cfg }), { state: 'ok' });
});

test('an abort signal kills par2 and leaves no partial parity', { timeout: 60_000 }, async () => {
  const disk = tempDir();
  writeRandom(disk, 'mnt/big', 2 * MiB);
  const ac = new AbortController();
  // par2 makes the set, then the wrapper holds the job: the abort always meets it running, its set
  // written into the scratch directory and not installed.
  const w = par2Wrapper(tempDir(), { holdAfter: true });
  const run = createParity(disk, 'mnt/big', { pct: 60, threads: 1, signal: ac.signal, creator: 'par2', cfg: { command: w.command } });
  await untilCalls(w.made, 1);
  const t0 = Date.now();
  ac.abort();
  await assert.rejects(run, { name: 'ParityError', code: 'ABORTED' });
  assert.ok(Date.now() - t0 < 5000);
  assert.deepEqual(parityFiles(disk, 'mnt/big'), []);
  assertNoScratch(disk);
  await assert.rejects(createParity(disk, 'mnt/big', { pct, signal: ac.signal }), { code: 'ABORTED' });
});

for (const creator of ['native', 'par2'] as const) {
  test(`a full disk: ParityError ENOSPC, no partial parity left (${creator} creator)`, async (t) => {
    const disk = tmpfsDisk(t, '600k');
    if (!disk) return;
    writeRandom(disk, 'mnt/fits', 420 * KiB);
    await assert.rejects(createParity(disk, 'mnt/fits', { pct: 100, creator }), (e: unknown) => {
      assert.ok(e instanceof ParityError);
      assert.equal(e.code, 'ENOSPC');
      assert.equal(e.message, `${creator === 'par2' ? 'par2 could not' : 'cannot'} make parity for mnt/fits: the disk is full`);
      return true;
    });
    assert.deepEqual(listTree(path.join(disk, '.blaine')), ['tmp/'], 'no parity, no scratch');
  });
}

test("Blaine's own creator writes a set with no folder of its own: a disk with inodes for the data, its folders and the two parity files only is enough", async (t) => {
  // tmpfs counts inodes: 9 hold the root, mnt, the data file, .blaine, tmp, parity, parity/mnt and
  // the set's two files; a scratch folder per set (what par2cmdline needs) would be a tenth.
  const disk = tmpfsDisk(t, '4m,nr_inodes=9');
  if (!disk) return;
  for (const dir of ['.blaine/tmp', '.blaine/parity/mnt']) fs.mkdirSync(path.join(disk, dir), { recursive: true });
  writeRandom(disk, 'mnt/film', 600_000);
  const made = await createParity(disk, 'mnt/film', { pct });
  assert.equal(parityFiles(disk, 'mnt/film').length, 2);
  assertNoScratch(disk);
  // Verifying stages the file in a scratch folder: room for it now.
  execFileSync('mount', ['-o', 'remount,nr_inodes=64', disk]);
  assert.deepEqual(await verifyParity(disk, 'mnt/film', made.parityName), { state: 'ok' });
});

test('a read-only disk can still be verified and repaired from', async (t) => {
  const disk = tmpfsDisk(t, '4m');
  if (!disk) return;
  const sha = writeRandom(disk, 'mnt/ro.bin', 500 * KiB);
  const made = await createParity(disk, 'mnt/ro.bin', { pct });
  flipBytes(path.join(disk, 'mnt/ro.bin'), 300);
  execFileSync('mount', ['-o', 'remount,ro', disk]);
  assert.deepEqual(await verifyParity(disk, 'mnt/ro.bin', made.parityName), { state: 'repairable' });
  const outDir = tempDir();
  assert.equal(await repairTo(disk, 'mnt/ro.bin', made.parityName, path.join(outDir, 'r/ro.bin')), true);
  assert.equal(sha256File(path.join(outDir, 'r/ro.bin')), sha);
  assert.deepEqual(listTree(outDir), ['r/', 'r/ro.bin'], 'the fallback scratch directory is gone');
});

for (const creator of ['native', 'par2'] as const) {
  test(`names that are not UTF-8 (a folder \\xff, a file caf\\xe9, one of 255 bytes): parity by ${creator === 'native' ? "Blaine's creator" : 'par2cmdline'} is made, verified and repairs it`, async () => {
    const disk = tempDir();
    const short = 'mnt/\udcff/caf\udce9.jpg';
    const long = `mnt/\udcff/caf${'\udce9'.repeat(248)}.jpg`;
    assert.equal(nameToBytes(path.posix.basename(long)).length, 255);
    const data = Buffer.from(Array.from({ length: 300 * KiB }, (_, i) => (i * 7919 + (i >> 9)) % 251));
    const made = new Map<string, string>();
    for (const rel of [short, long]) {
      const file = path.join(disk, rel);
      realFs.mkdirSync(path.dirname(file), { recursive: true });
      realFs.writeFileSync(file, data);
      const { parityName } = await createParity(disk, rel, { pct, creator });
      assert.ok(!/[\udc80-\udcff]/.test(parityName), 'the recorded name is UTF-8 (par2cmdline takes names as arguments)');
      assert.ok(parityFiles(disk, rel).length > 0, 'the parity files are found by the bytes of the name');
      assert.deepEqual(await verifyParity(disk, rel, parityName), { state: 'ok' });
      const fd = realFs.openSync(file, 'r+');
      realFs.writeSync(fd, Buffer.from('damage'), 0, 6, 1000);
      realFs.closeSync(fd);
      assert.deepEqual(await verifyParity(disk, rel, parityName), { state: 'repairable' });
      made.set(rel, parityName);
    }
    for (const rel of [short, long]) {
      const out = path.join(tempDir(), 'out', rel === short ? 'caf\udce9.jpg' : 'long.jpg');
      assert.equal(await repairTo(disk, rel, made.get(rel)!, out), true, rel);
      assert.ok(realFs.readFileSync(out).equals(data));
    }
  });
}
