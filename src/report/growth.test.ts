import assert from 'node:assert/strict';
import test from 'node:test';
import { aboutDays, archiveSeries, DAY_MS, daysLeft, growthPerDay, MANY_DAYS, type RunPoint } from './growth.js';

const now = Date.parse('2026-11-29T12:00:00Z');
const run = (daysAgo: number, written: number, volume = 'v', volumeBytes: number | null = null): RunPoint => ({
  at: now - daysAgo * DAY_MS,
  volume,
  written,
  volumeBytes,
});

test('growth per day: the first run of the window only marks its start', () => {
  // A 5 TB seed ten days ago, then 100 GB a day: the rate is the daily runs', not the seed's.
  const runs = [run(10, 5e12), ...[9, 8, 7, 6, 5, 4, 3, 2, 1, 0].map((d) => run(d, 100e9))];
  assert.equal(growthPerDay(runs, now), (10 * 100e9) / 10);
  // Only the last three days in the window: two daily runs after its first, over two days.
  assert.equal(growthPerDay(runs, now, 2.5), (2 * 100e9) / 2);
  // Runs after `now` are not history yet.
  assert.equal(growthPerDay([...runs, run(-1, 9e15)], now), 100e9);
});

test('growth per day is unknown with one run, or runs within a day', () => {
  assert.equal(growthPerDay([], now), null);
  assert.equal(growthPerDay([run(3, 1e9)], now), null);
  assert.equal(growthPerDay([run(0.5, 1e9), run(0, 1e9)], now), null);
  assert.equal(growthPerDay([run(20, 1e9), run(0, 1e9)], now), null, 'the older run is outside the 14-day window');
});

test('days left: whole days of growth the free space holds', () => {
  assert.equal(daysLeft(950e9, 100e9), 9);
  assert.equal(daysLeft(0, 100e9), 0);
  assert.equal(daysLeft(950e9, null), null);
  assert.equal(daysLeft(950e9, 0), null);
  assert.equal(daysLeft(null, 100e9), null);
  // A nearly empty disk and a trickle of growth: no eleven-digit count of days.
  assert.equal(aboutDays(daysLeft(8e12, 2000)!), 'more than ten years');
  assert.equal(aboutDays(MANY_DAYS), 'about 3,650 day(s)');
  assert.equal(aboutDays(9), 'about 9 day(s)');
});

test('archive series: each volume keeps its last size; runs without a size are left out', () => {
  const runs = [run(3, 0, 'A', 10), run(2, 0, 'B', 5), run(1.5, 0, 'A', null), run(1, 0, 'A', 12), run(0, 0, 'B', 7)];
  assert.deepEqual(
    archiveSeries([...runs].reverse(), ['A', 'B']).map((p) => [(now - p.at) / DAY_MS, p.byVolume]),
    [[3, [10, 0]], [2, [10, 5]], [1, [12, 5]], [0, [12, 7]]],
  );
});
