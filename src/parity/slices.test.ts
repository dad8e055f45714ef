import test from 'node:test';
import assert from 'node:assert/strict';
import { planSlices } from './slices.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

test('small files: slices of any multiple of 4 bytes, one file, the fewest blocks', () => {
  for (const size of [0, 1, 4095, 4096, 4097, 100 * KiB, 256 * KiB - 1]) {
    const p = planSlices(size, 10);
    assert.equal(p.single, true, `size ${size}`);
    assert.equal(p.blockSize % 4, 0);
    assert.equal(p.sourceBlocks, Math.max(1, Math.ceil(size / p.blockSize)));
  }
  // 4 KiB slices as for larger files, but one file; a tiny file gets one slice of its own size.
  assert.deepEqual(planSlices(100 * KiB, 10), { blockSize: 4096, sourceBlocks: 25, recoveryBlocks: 3, single: true });
  assert.deepEqual(planSlices(3000, 10), { blockSize: 3000, sourceBlocks: 1, recoveryBlocks: 1, single: true });
});

test('256 KiB and up: 4 KiB slices and two files', () => {
  assert.deepEqual(planSlices(256 * KiB, 10), { blockSize: 4096, sourceBlocks: 64, recoveryBlocks: 7, single: false });
});

test('1 MiB is exactly 256 slices of 4 KiB', () => {
  assert.deepEqual(planSlices(MiB, 10), { blockSize: 4096, sourceBlocks: 256, recoveryBlocks: 26, single: false });
  assert.deepEqual(planSlices(MiB + 1, 10), { blockSize: 8192, sourceBlocks: 129, recoveryBlocks: 13, single: false });
});

test('1 GiB: slices are a multiple of 4 KiB, at most 256 of them, the smallest that fits', () => {
  const p = planSlices(GiB, 10);
  assert.equal(p.blockSize % 4096, 0);
  assert.ok(p.sourceBlocks <= 256);
  assert.deepEqual(p, { blockSize: 4 * MiB, sourceBlocks: 256, recoveryBlocks: 26, single: false });
  const odd = planSlices(GiB + 12345, 10);
  assert.equal(odd.blockSize % 4096, 0);
  assert.ok(odd.sourceBlocks <= 256);
  assert.ok((odd.blockSize - 4096) * 256 < GiB + 12345, 'a slice 4 KiB smaller would need more than 256');
});

test('odd sizes and slice limits keep the invariants', () => {
  for (const size of [300_000, 999_999, 123_456_789, 50 * GiB + 7]) {
    for (const max of [1, 100, 256, 2000, 32768]) {
      const p = planSlices(size, 10, max);
      assert.equal(p.blockSize % 4096, 0);
      assert.ok(p.blockSize >= 4096);
      assert.ok(p.sourceBlocks <= max, `${size}/${max}`);
      assert.equal(p.sourceBlocks, Math.ceil(size / p.blockSize));
      assert.ok(p.blockSize === 4096 || Math.ceil(size / (p.blockSize - 4096)) > max, 'smallest block size that fits');
    }
  }
});

test('recovery slices are ceil(pct × slices), at least one', () => {
  assert.equal(planSlices(70 * 4096, 10).recoveryBlocks, 7);
  assert.equal(planSlices(71 * 4096, 10).recoveryBlocks, 8);
  assert.equal(planSlices(100 * 4096, 7).recoveryBlocks, 7, 'no floating-point overshoot');
  assert.equal(planSlices(100 * 4096, 0).recoveryBlocks, 1);
  assert.equal(planSlices(256 * 4096, 100).recoveryBlocks, 256);
  assert.equal(planSlices(256 * 4096, 2.5).recoveryBlocks, 7);
});

test('nonsense is refused', () => {
  assert.throws(() => planSlices(-1, 10), RangeError);
  assert.throws(() => planSlices(1.5, 10), RangeError);
  assert.throws(() => planSlices(1, Number.NaN), RangeError);
  assert.throws(() => planSlices(1, 10, 0), RangeError);
  assert.throws(() => planSlices(1, 10, 40000), RangeError);
});
