import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cleanupTemp, DiskError, ensureLayout, initVolume, readVolume, writeVolume } from './volume.js';
import { blaineDir, diskLockPath, volumeFile } from './layout.js';
import { tempDir } from '../../test/helpers.js';
import { realFs } from '../fsx/fsx.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A new empty folder `name` (the disk's name shows in messages) in a temporary folder. */
function diskDir(name = 'disk'): string {
  const dir = path.join(tempDir('blaine-volume-'), name);
  fs.mkdirSync(dir);
  return dir;
}

function diskError(code: DiskError['code'], message?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof DiskError, String(err));
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return true;
  };
}

test('volume: init then read gives the same identity; layout made; nothing temporary left', () => {
  const disk = diskDir('archive-A');
  const info = initVolume(disk, undefined, undefined, realFs);
  assert.equal(info.format, 1);
  assert.match(info.volume, UUID);
  assert.match(info.copy, UUID);
  assert.notEqual(info.volume, info.copy);
  assert.equal(info.label, 'archive-A');
  assert.equal(info.copyLabel, 'archive-A');
  assert.equal(info.encrypted, false);
  assert.ok(Math.abs(Date.parse(info.created) - Date.now()) < 60_000);
  assert.deepEqual(readVolume(disk, realFs), info);
  assert.deepEqual(fs.readdirSync(blaineDir(disk)).sort(), ['old', 'parity', 'tmp', 'volume.json']);
  assert.equal(volumeFile(disk), path.join(disk, '.blaine', 'volume.json'));
  assert.equal(diskLockPath(disk), path.join(disk, '.blaine', 'lock'));

  const labelled = initVolume(diskDir(), '  Photos 1  ', undefined, realFs);
  assert.equal(labelled.label, 'Photos 1');
});

test('volume: writeVolume replaces the identity atomically', () => {
  const disk = diskDir();
  const info = initVolume(disk, 'A', undefined, realFs);
  const mirror = { ...info, copy: '7d1f5c1e-1111-4222-8333-444455556666', copyLabel: "A'" };
  writeVolume(disk, mirror, realFs);
  assert.deepEqual(readVolume(disk, realFs), mirror);
  assert.deepEqual(fs.readdirSync(blaineDir(disk)).sort(), ['old', 'parity', 'tmp', 'volume.json']);
  assert.throws(() => writeVolume(disk, { ...mirror, label: '' }, realFs), diskError('BAD_VOLUME_FILE', /"label" must be a non-empty string/));
  assert.deepEqual(readVolume(disk, realFs), mirror);
});

test('volume: a second init is refused and changes nothing', () => {
  const disk = diskDir();
  const info = initVolume(disk, 'A', undefined, realFs);
  assert.throws(
    () => initVolume(disk, 'B', undefined, realFs),
    diskError('ALREADY_INITIALISED', new RegExp(`^.*disk is already a Blaine disk \\(volume "A", ${info.volume}\\); it cannot be initialised again\\.$`)),
  );
  assert.deepEqual(readVolume(disk, realFs), info);
  fs.writeFileSync(volumeFile(disk), 'garbage');
  assert.throws(() => initVolume(disk, 'B', undefined, realFs), diskError('ALREADY_INITIALISED'));
});

test('volume: a missing disk or a file is NOT_A_DIRECTORY, for every function', () => {
  const parent = diskDir();
  const missing = path.join(parent, 'missing');
  const file = path.join(parent, 'file');
  fs.writeFileSync(file, '');
  for (const disk of [missing, file]) {
    const expected = diskError('NOT_A_DIRECTORY', /^.* does not exist or is not a directory; is the disk mounted\?$/);
    assert.throws(() => readVolume(disk, realFs), expected);
    assert.throws(() => initVolume(disk, 'x', undefined, realFs), expected);
    assert.throws(() => cleanupTemp(disk, undefined, realFs), expected);
  }
  assert.equal(fs.existsSync(missing), false);
});

test('volume: an uninitialised directory says how to make it a Blaine disk', () => {
  const disk = diskDir();
  assert.throws(() => readVolume(disk, realFs), (err: unknown) => {
    assert.ok(err instanceof DiskError);
    assert.equal(err.code, 'NOT_INITIALISED');
    assert.ok(err.message.startsWith(`${disk} is not a Blaine disk; run \`blaine backup --init\` to make it one`), err.message);
    // A temp dir is no mount point: the message also suggests the disk may not be mounted.
    assert.match(err.message, /is not a mount point either: check that the disk is mounted\)\.$/);
    return true;
  });
  fs.mkdirSync(blaineDir(disk));
  assert.throws(() => readVolume(disk, realFs), diskError('NOT_INITIALISED'));
});

test('volume: corrupt, incomplete or future volume files are BAD_VOLUME_FILE', () => {
  const disk = diskDir();
  const info = initVolume(disk, 'A', undefined, realFs);
  const cases: [string, RegExp][] = [
    ['{"format": 1, "volume": ', /is not a valid Blaine volume file: it is not valid JSON\.$/],
    ['[]', /it is not a JSON object\.$/],
    ['null', /it is not a JSON object\.$/],
    [JSON.stringify({ ...info, format: 2 }), /has format version 2, which this Blaine does not know; use a newer Blaine for this disk\.$/],
    [JSON.stringify({ ...info, format: undefined }), /it has no format version\.$/],
    [JSON.stringify({ ...info, copy: undefined }), /"copy" must be a non-empty string\.$/],
    [JSON.stringify({ ...info, encrypted: 'no' }), /"encrypted" must be true or false\.$/],
  ];
  for (const [text, message] of cases) {
    fs.writeFileSync(volumeFile(disk), text);
    assert.throws(() => readVolume(disk, realFs), diskError('BAD_VOLUME_FILE', message), text);
  }
});

test('volume: an encrypted volume needs an empty disk and keeps only volume.json in the clear', () => {
  const disk = diskDir();
  fs.mkdirSync(path.join(disk, 'lost+found'));
  const info = initVolume(disk, 'Secret', { encrypted: true }, realFs);
  assert.equal(info.encrypted, true);
  assert.deepEqual(fs.readdirSync(blaineDir(disk)), ['volume.json']);
  assert.deepEqual(readVolume(disk, realFs), info);
  ensureLayout(disk, realFs);
  assert.deepEqual(fs.readdirSync(blaineDir(disk)).sort(), ['old', 'parity', 'tmp', 'volume.json']);

  const used = diskDir();
  for (const name of ['a.jpg', 'b', 'c', 'd']) fs.writeFileSync(path.join(used, name), '');
  assert.throws(
    () => initVolume(used, 'Secret', { encrypted: true }, realFs),
    diskError('NOT_EMPTY', /already holds files \(a\.jpg, b, c, …\); an encrypted disk must start empty, so use an empty disk or leave out --encrypt\.$/),
  );
  assert.equal(fs.existsSync(blaineDir(used)), false);
  // A plain volume shares a disk with other files only when told to (SPEC §8), and records them as not its own.
  assert.throws(
    () => initVolume(used, 'Plain', undefined, realFs),
    diskError('NOT_EMPTY', /already holds files \(a\.jpg, b, c, …\); use an empty disk, or pass --force to keep them there, left alone by Blaine\.$/),
  );
  assert.equal(fs.existsSync(blaineDir(used)), false);
  const plain = initVolume(used, 'Plain', { force: true }, realFs);
  assert.equal(plain.encrypted, false);
  assert.deepEqual(plain.foreign, ['a.jpg', 'b', 'c', 'd']);
  assert.deepEqual(readVolume(used, realFs), plain);
});

test('cleanupTemp: removes leftovers in .blaine/tmp and, with deep, temporary files anywhere', () => {
  const disk = diskDir();
  assert.equal(cleanupTemp(disk, undefined, realFs), 0, 'an uninitialised disk has nothing to clean');
  initVolume(disk, 'A', undefined, realFs);
  const tmp = path.join(blaineDir(disk), 'tmp');
  fs.writeFileSync(path.join(tmp, '.x.blaine-tmp-1-1'), '');
  fs.mkdirSync(path.join(tmp, 'scratch'));
  fs.writeFileSync(path.join(tmp, 'scratch', 'f'), '');
  fs.writeFileSync(path.join(blaineDir(disk), '.volume.json.blaine-tmp-9-9'), '');
  const data = path.join(disk, 'mnt', 'media');
  fs.mkdirSync(data, { recursive: true });
  fs.writeFileSync(path.join(data, 'a.jpg'), 'keep');
  fs.writeFileSync(path.join(data, '.a.jpg.blaine-tmp-77-3'), 'partial');
  fs.writeFileSync(path.join(data, '.blaine-tmp-not-ours'), 'keep');
  assert.equal(cleanupTemp(disk, undefined, realFs), 3);
  assert.deepEqual(fs.readdirSync(tmp), []);
  assert.deepEqual(fs.readdirSync(blaineDir(disk)).sort(), ['old', 'parity', 'tmp', 'volume.json']);
  assert.deepEqual(fs.readdirSync(data).sort(), ['.a.jpg.blaine-tmp-77-3', '.blaine-tmp-not-ours', 'a.jpg']);
  fs.writeFileSync(path.join(tmp, 'left'), '');
  fs.writeFileSync(path.join(blaineDir(disk), 'parity', '.a.jpg.par2.blaine-tmp-1-2'), '');
  assert.equal(cleanupTemp(disk, { deep: true }, realFs), 3);
  assert.deepEqual(fs.readdirSync(data).sort(), ['.blaine-tmp-not-ours', 'a.jpg']);
  assert.deepEqual(fs.readdirSync(path.join(blaineDir(disk), 'parity')), []);
  assert.deepEqual(readVolume(disk, realFs).label, 'A');
});
