import test from 'node:test';
import assert from 'node:assert/strict';
import { planSlices } from './slices.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

test('tiny files get one 4 KiB slice and one recovery slice', () => {
  for (const size of [0, 1, 4095, 4096]) {
    assert.deepEqual(planSlices(size, 10), { blockSize: 4096, sourceBlocks: 1, recoveryBlocks: 1 }, `size ${size}`);
  }
  assert.deepEqual(planSlices(4097, 10), { blockSize: 4096, sourceBlocks: 2, recoveryBlocks: 1 });
});

test('100 KiB stays at 4 KiB slices (25 of them), 10% rounds up to 3', () => {
  assert.deepEqual(planSlices(100 * KiB, 10), { blockSize: 4096, sourceBlocks: 25, recoveryBlocks: 3 });
});

test('1 MiB is exactly 256 slices of 4 KiB', () => {
  assert.deepEqual(planSlices(MiB, 10), { blockSize: 4096, sourceBlocks: 256, recoveryBlocks: 26 });
  assert.deepEqual(planSlices(MiB + 1, 10), { blockSize: 8192, sourceBlocks: 129, recoveryBlocks: 13 });
});

test('1 GiB: slices are a multiple of 4 KiB, at most 256 of them, the smallest that fits', () => {
  const p = planSlices(GiB, 10);
  assert.equal(p.blockSize % 4096, 0);
  assert.ok(p.sourceBlocks <= 256);
  assert.deepEqual(p, { blockSize: 4 * MiB, sourceBlocks: 256, recoveryBlocks: 26 });
  const odd = planSlices(GiB + 12345, 10);
  assert.equal(odd.blockSize % 4096, 0);
  assert.ok(odd.sourceBlocks <= 256);
  assert.ok((odd.blockSize - 4096) * 256 < GiB + 12345, 'a slice 4 KiB smaller would need more than 256');
});

test('odd sizes and slice limits keep the invariants', () => {
  for (const size of [5000, 999_999, 123_456_789, 50 * GiB + 7]) {
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
  assert.equal(planSlices(10 * 4096, 10).recoveryBlocks, 1);
  assert.equal(planSlices(11 * 4096, 10).recoveryBlocks, 2);
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
