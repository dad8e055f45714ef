/**
 * Small files (SPEC §6's exception): below 256 KiB slices are any multiple of 4 bytes, chosen for
 * the fewest disk blocks, and the set is one `.par2` file. par2cmdline must verify and repair it.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { flipBytes, sha256File, tempDir, writeRandom } from '../../test/parity-fixtures.js';
import { createParity, repairTo, verifyParity } from './par2.js';
import { parityFiles, parityIndexPath } from './paths.js';
import { parityDiskBytes, planSectorSlices, planSlices, setFileBytes, SMALL_SET_BYTES } from './slices.js';

const pct = 10;
const SIZES = [1, 5, 100, 4096, 10_000, 100_000, SMALL_SET_BYTES - 1];

/** Bytes the file system allocated for a file. */
function allocated(file: string): number {
  return fs.statSync(file).blocks * 512;
}

for (const creator of ['native', 'par2'] as const) {
  test(`${creator} creator: a small file's set is one .par2 file that par2 verifies and repairs`, async () => {
    for (const size of SIZES) {
      const disk = tempDir();
      const rel = 'mnt/media/small.txt';
      const sha = writeRandom(disk, rel, size);
      const { parityName, bytes } = await createParity(disk, rel, { pct, creator });
      const files = parityFiles(disk, rel);
      assert.deepEqual(files, [parityIndexPath(disk, rel)], `size ${size}: one file, the index's name`);
      assert.equal(bytes, fs.statSync(files[0]!).size, `size ${size}`);
      if (creator === 'native') {
        // What the free-space rule counts is what the disk spends.
        assert.equal(parityDiskBytes(size, pct, 256, 4096, undefined, Buffer.byteLength(parityName)), allocated(files[0]!), `size ${size}`);
      }
      // par2cmdline itself, on the one file, in place.
      const v = spawnSync('par2', ['v', '-q', `-B${disk}`, files[0]!], { encoding: 'utf8' });
      assert.equal(v.status, 0, `size ${size}: par2 v: ${v.stdout}${v.stderr}`);
      assert.deepEqual(await verifyParity(disk, rel, parityName), { state: 'ok' });

      // As much damage as the recovery slices can take: one byte in each of the first `recovery` slices.
      const plan = planSlices(size, pct, 256, Buffer.byteLength(parityName));
      const onDisk = path.join(disk, rel);
      for (let k = 0; k < plan.recoveryBlocks && k * plan.blockSize < size; k++) flipBytes(onDisk, k * plan.blockSize, 1);
      assert.equal((await verifyParity(disk, rel, parityName)).state, 'repairable', `size ${size}`);
      const out = path.join(disk, 'repaired');
      assert.equal(await repairTo(disk, rel, parityName, out), true, `size ${size}`);
      assert.equal(sha256File(out), sha, `size ${size}: repaired bytes`);
      const r = spawnSync('par2', ['r', '-q', `-B${disk}`, files[0]!], { encoding: 'utf8' });
      assert.equal(r.status, 0, `size ${size}: par2 r: ${r.stdout}${r.stderr}`);
      assert.equal(sha256File(onDisk), sha, `size ${size}: par2 r in place`);
      fs.rmSync(disk, { recursive: true, force: true });
    }
  });
}

test('a small file costs fewer blocks of parity than the two files of before', () => {
  const blocks = (n: number) => Math.ceil(n / 4096);
  for (const size of [1, 1000, 4096, 20_000, 60_000, 150_000, SMALL_SET_BYTES - 1]) {
    const before = setFileBytes(planSectorSlices(size, pct), 128);
    const now = parityDiskBytes(size, pct, 256, 4096) / 4096;
    assert.ok(now < blocks(before.index) + blocks(before.recovery), `${size}: ${now} blocks`);
  }
  // A file of a few KB: its whole content is one slice, and the set one block.
  assert.equal(parityDiskBytes(3000, pct, 256, 4096), 4096);
});
