/**
 * Multi-buffer MD5 (native/md5lanes.c) and the file chains that pair up across threads: every
 * lane kernel the CPU runs, against node:crypto's MD5, on every length class around a block (and
 * uneven lengths side by side, unaligned starts, lane counts around each kernel's width); then
 * sets made by several creators at once, whose file MD5s run paired, equal the sets made one at
 * a time and pass `par2 v`.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createFromFile, parityAddon, Par2Stream, type SetShape } from './creator.js';
import { tempDir } from '../../test/parity-fixtures.js';
import { planSectorSlices } from './slices.js';

interface LanesAddon {
  md5LaneKernels(): string[];
  md5Lanes(bufs: Buffer[], kernel?: string): Buffer;
}

const addon = parityAddon() as unknown as (LanesAddon & ReturnType<typeof parityAddon>) | null;
const skip = addon ? false : 'the native addon is not built';
const MiB = 1024 * 1024;
const md5 = (b: Buffer): Buffer => crypto.createHash('md5').update(b).digest();

/** Lengths on both sides of every MD5 boundary: the padding's 55/56, the block's 63/64/65, slice sizes. */
const LENGTHS = [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 121, 127, 128, 129, 1000, 4096, 4100, 16384, 49152, 65536 + 12];

/** `len` random bytes starting `offset` bytes into a larger buffer. */
function unaligned(len: number, offset: number): Buffer {
  return crypto.randomBytes(len + offset).subarray(offset);
}

function check(kernel: string | undefined, bufs: Buffer[], what: string): void {
  const out = addon!.md5Lanes(bufs, ...(kernel ? [kernel] : []));
  assert.equal(out.length, 16 * bufs.length);
  bufs.forEach((b, i) => assert.deepEqual(out.subarray(16 * i, 16 * i + 16), md5(b), `${kernel ?? 'default'}: ${what}, lane ${i} (${b.length} bytes)`));
}

test('every MD5 lane kernel equals node:crypto on every length class, one length in all lanes', { skip }, (t) => {
  const kernels = addon!.md5LaneKernels();
  assert.equal(kernels[0], 'scalar');
  t.diagnostic(`MD5 lane kernels on this CPU: ${kernels.join(', ')}`);
  for (const k of [...kernels, undefined]) {
    for (const len of LENGTHS) {
      for (const lanes of [1, 2, 3, 8, 16]) {
        check(k, Array.from({ length: lanes }, (_, i) => unaligned(len, (i * 5) % 11)), `${lanes} lanes of ${len} bytes`);
      }
    }
  }
});

test('uneven lengths side by side, lane counts around each width, and idle lanes change nothing', { skip }, () => {
  for (const k of [...addon!.md5LaneKernels(), undefined]) {
    for (const lanes of [4, 7, 8, 9, 15, 16, 17, 31, 33]) {
      const bufs = Array.from({ length: lanes }, (_, i) => unaligned(LENGTHS[(i * 7 + lanes) % LENGTHS.length]!, i % 3));
      check(k, bufs, `${lanes} lanes of uneven lengths`);
      // One long lane among short ones: the common blocks end early, the long one finishes alone.
      check(k, [unaligned(300_000, 1), ...bufs.slice(1)], `${lanes} lanes, one of 300,000 bytes`);
    }
    check(k, [], 'no lanes');
  }
  assert.throws(() => addon!.md5Lanes([Buffer.alloc(1)], 'no-such-kernel'), TypeError);
  assert.throws(() => addon!.md5Lanes([Buffer.alloc(1), 'x' as unknown as Buffer]), TypeError);
});

function par2Verify(dir: string, index: string): { status: number; out: string } {
  // Without a sanitizer runtime preloaded for this process (native-asan): par2 is not what is checked.
  const r = spawnSync('par2', ['v', '-q', `-B${path.join(dir, 'd')}`, index], { encoding: 'utf8', env: { ...process.env, LD_PRELOAD: '' } });
  return { status: r.status ?? -1, out: r.stdout + r.stderr };
}

test('sets made by several creators at once (paired file MD5s, lane slice MD5s) equal the same sets made alone and pass par2 v', { skip }, async () => {
  const dir = tempDir('blaine-md5-lanes-');
  // Sizes with and without the helper thread (4 MiB), whole and short last slices, one slice.
  const sizes = [9 * MiB + 4097, 6 * MiB, 5 * MiB + 1, 4 * MiB + 100_003, 300_001, 70_000];
  const files = sizes.map((size, i) => {
    const name = `f${i}.bin`;
    const file = path.join(dir, 'd', name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const data = crypto.randomBytes(size);
    fs.writeFileSync(file, data);
    const plan = planSectorSlices(size, 10, 256);
    const shape: SetShape = { sliceSize: plan.blockSize, recoverySlices: plan.recoveryBlocks, size, name, memory: 64 * MiB };
    return { file, data, shape };
  });
  const out = (tag: string, i: number) => [path.join(dir, `${tag}${i}.par2`), path.join(dir, `${tag}${i}.vol+.par2`)] as const;
  for (const [i, f] of files.entries()) await createFromFile(f.file, f.shape, ...out('alone', i));
  // All at once, twice over, one of each pair as a stream of odd-sized pieces (unaligned heads).
  await Promise.all(
    files.flatMap((f, i) => [
      createFromFile(f.file, f.shape, ...out('together', i)),
      (async () => {
        const s = new Par2Stream(f.shape);
        for (let at = 0, n = 12_345; at < f.data.length; at += n, n = (n * 7 + 4097) % 1_500_007) await s.update(f.data.subarray(at, at + n));
        await s.finish(...out('stream', i));
      })(),
    ]),
  );
  for (const i of files.keys()) {
    const [index, recovery] = out('alone', i);
    for (const tag of ['together', 'stream']) {
      const [i2, r2] = out(tag, i);
      assert.ok(fs.readFileSync(i2).equals(fs.readFileSync(index)), `${tag} ${i}: the same index as made alone`);
      assert.ok(fs.readFileSync(r2).equals(fs.readFileSync(recovery)), `${tag} ${i}: the same recovery file as made alone`);
    }
    const v = par2Verify(dir, index);
    assert.equal(v.status, 0, `par2 v of f${i} (${sizes[i]} bytes): ${v.out}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});
