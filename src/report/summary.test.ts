import assert from 'node:assert/strict';
import test from 'node:test';
import { formatBytes } from '../fsx/space.js';
import { DAY_MS } from './growth.js';
import type { Shelf, ShelfCopy, ShelfVolume } from './shelf.js';
import { LOW_DAYS, shelfFacts, stateLines, summaryLines, type RunFacts } from './summary.js';

const GB = 1e9;
function facts(over: Partial<RunFacts> = {}): RunFacts {
  return {
    label: "C'",
    counts: { unchanged: 3400, added: 12, modified: 1, renamed: 3, linked: 0, removed: 0, deferred: 2, skipped: 0 },
    bytesCopied: 100 * GB,
    parityBytes: 10 * GB,
    seconds: 500,
    freeBytes: 950 * GB,
    perDay: 100 * GB,
    missing: 0,
    pendingOffline: [],
    behind: [],
    stopped: null,
    paths: ['/mnt/media/photos', "/mnt/media/Bob's music"],
    ...over,
  };
}

test('summary: done per kind, bytes, parity, time and rate, free space and the days it lasts', () => {
  const lines = summaryLines(facts());
  assert.equal(lines[0], `"C'": added 12, modified 1, renamed 3, deferred 2; 3,400 unchanged`);
  assert.equal(lines[1], `copied ${formatBytes(100 * GB)} + parity ${formatBytes(10 * GB)} in 8m20s, ${formatBytes((110 * GB) / 500)}/s`);
  // 950 GB at 100 GB a day: nine whole days.
  assert.equal(lines[2], `${formatBytes(950 * GB)} free on "C'": about 9 day(s) at the recent ${formatBytes(100 * GB)} a day`);
  assert.equal(lines[3], `next: "C'" fills in about 9 day(s): have a new disk ready`);
  assert.equal(lines.length, 4);
});

test('summary: no estimate without growth history, no warning with room for more than two weeks', () => {
  const unknown = summaryLines(facts({ perDay: null }));
  assert.equal(unknown[2], `${formatBytes(950 * GB)} free on "C'"`);
  assert.equal(unknown.length, 3);
  const roomy = summaryLines(facts({ perDay: (950 * GB) / LOW_DAYS }));
  assert.match(roomy[2]!, new RegExp(`about ${LOW_DAYS} day\\(s\\)`));
  assert.ok(!roomy.some((l) => l.startsWith('next:')));
  const nothing = summaryLines(facts({ counts: { ...facts().counts, added: 0, modified: 0, renamed: 0, deferred: 0 }, bytesCopied: 0, parityBytes: 0 }));
  assert.equal(nothing[0], `"C'": nothing to change; 3,400 unchanged`);
  assert.equal(nothing[1], `copied 0 B + parity 0 B in 8m20s`);
});

test('summary: pending actions per offline disk, a twin behind, and the next step on a full disk', () => {
  const lines = summaryLines(
    facts({
      stopped: 'disk-full',
      missing: 4,
      pendingOffline: [{ label: 'A', actions: 12 }, { label: 'B', actions: 1 }],
      behind: [{ label: 'C', twin: "C'", days: 9, runs: 9 }, { label: 'E', twin: "E'", days: 0, runs: 2 }],
    }),
  );
  assert.deepEqual(lines.slice(3), [
    '4 archived file(s) are gone from the data paths and kept on the archive (--clean removes them)',
    'waiting for offline disks: "A" 12 action(s), "B" 1 action(s)',
    "next: disk full: mount a new disk and run `blaine backup --init --label NAME --dest DISK /mnt/media/photos '/mnt/media/Bob'\\''s music'`",
    "next: disk C is 9 day(s) behind its twin C': mount it and run the backup to catch it up",
    "next: disk E is 2 run(s) behind its twin E': mount it and run the backup to catch it up",
  ]);
  assert.equal(summaryLines(facts({ stopped: 'interrupted' })).at(-1), 'next: interrupted: run the same command again to continue');
  assert.deepEqual(summaryLines(facts({ dryRun: true, bytesCopied: 5 * GB })), [
    `would do on "C'": added 12, modified 1, renamed 3, deferred 2; 3,400 unchanged`,
    `would copy ${formatBytes(5 * GB)}`,
  ]);
});

test('shelf facts: actions waiting on other volumes, and each copy behind with its most current twin', () => {
  const copy = (label: string, runs: number, days: number): ShelfCopy => ({
    copy: `${label}-id`, label, lastSync: null, free: null, capacity: null, behind: { runs, files: runs, bytes: 0, days },
    lastVerify: null, lastVerifyChecked: 0, lastScrub: null, scrubDue: true, made: null, health: null,
  });
  const volume = (label: string, pending: number, copies: ShelfCopy[]): ShelfVolume => ({
    volume: `${label}-uuid`, label, encrypted: false, files: 0, bytes: 0,
    pending: { RENAME: pending, LINK: 0, DELETE: 0, total: pending, held: 0 }, verifiedShare: 1, copies, folders: [], moreFolders: 0,
  });
  const shelf: Shelf = {
    generated: 10 * DAY_MS, commonFolder: '/', scrubDays: 30, perDay: 5 * GB, growth: [],
    volumes: [volume('A', 3, [copy('A', 0, 0)]), volume('C', 2, [copy('C', 4, 9), copy("C'", 0, 0), copy('C"', 1, 1)])],
  };
  assert.deepEqual(shelfFacts(shelf, 'C-uuid'), {
    perDay: 5 * GB,
    pendingOffline: [{ label: 'A', actions: 3 }],
    behind: [{ label: 'C', twin: "C'", days: 9, runs: 4 }, { label: 'C"', twin: "C'", days: 1, runs: 1 }],
  });
});

test('state lines alone (apply, clone): free space, then what the caller adds, then waiting actions and next steps', () => {
  const state = { label: 'D', freeBytes: 0, perDay: 100 * GB, pendingOffline: [{ label: 'A', actions: 1 }], behind: [], stopped: 'disk-full' as const, paths: [] };
  assert.deepEqual(stateLines(state, ['3 file(s) of the volume are not on this copy yet']), [
    `0 B free on "D": about 0 day(s) at the recent ${formatBytes(100 * GB)} a day`,
    '3 file(s) of the volume are not on this copy yet',
    'waiting for offline disks: "A" 1 action(s)',
    'next: disk full: mount a new disk and run `blaine backup --init --label NAME --dest DISK PATH...`',
  ]);
  assert.deepEqual(stateLines({ ...state, freeBytes: null, pendingOffline: [], stopped: null }), []);
});

test('an interrupted --init run is not told to run the same command again: that command would be refused', () => {
  assert.deepEqual(summaryLines(facts({ stopped: 'interrupted', init: true })).filter((l) => l.startsWith('next:')), [
    'next: interrupted: run the same command again without --init to continue (the disk is made already)',
  ]);
  assert.ok(summaryLines(facts({ stopped: 'interrupted' })).includes('next: interrupted: run the same command again to continue'));
});
