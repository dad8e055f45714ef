/**
 * runBackup in process: a temporary library onto a temporary disk folder, judged by what it
 * returns (outcome, events) and by what the disk and catalogs then hold, never by printed text.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { assertDiskMatchesCatalog, fidelityOf, rows, scratchDir, writeUnder } from '../../test/helpers.js';
import { realFs } from '../fsx/fsx.js';
import { Progress } from '../progress/progress.js';
import { runBackup, type BackupEvent, type BackupOutcome } from './run.js';
import { AHEAD_CHUNKS } from './stream.js';

interface Setup {
  lib: string;
  disk: string;
  db: string;
}

function setup(t: { after: (fn: () => void) => void }): Setup {
  const dir = scratchDir(t, 'blaine-run-');
  const s = { lib: path.join(dir, 'lib'), disk: path.join(dir, 'disk'), db: path.join(dir, 'host.sqlite') };
  fs.mkdirSync(s.lib);
  fs.mkdirSync(s.disk);
  return s;
}

/** One backup of `roots` onto the disk, without parity; the outcome and every event it told. */
async function backupOnce(s: Setup, o: { init?: boolean; dryRun?: boolean; roots?: string[]; chunkSize?: number } = {}): Promise<{ outcome: BackupOutcome; events: BackupEvent[] }> {
  const events: BackupEvent[] = [];
  const outcome = await runBackup(
    {
      disk: { dest: s.disk, db: s.db, init: !!o.init, label: o.init ? 'RUN' : undefined, encrypt: false, key: undefined },
      scan: { roots: o.roots ?? [s.lib], filter: undefined, threads: 2, chunkSize: o.chunkSize },
      plan: { matchMode: 'inode', clean: false, maxDeletePct: 10, force: false },
      parity: { pct: 0, slices: 256, memory: undefined, jobs: 1, command: undefined },
      reserve: 0,
      dryRun: !!o.dryRun,
      started: Date.now(),
      signal: new AbortController().signal,
      fs: realFs,
    },
    { event: (e) => events.push(e), progress: new Progress() },
  );
  return { outcome, events };
}

/** The paths that events of the given types are about. */
function pathsOf(events: BackupEvent[], ...types: BackupEvent['type'][]): string[] {
  return events.flatMap((e) => (types.includes(e.type) && 'path' in e ? [e.path] : [])).sort();
}

/** A small library: two files, a second name of one, a symlink, mtimes with nanoseconds. */
function fillLibrary(lib: string): void {
  const a = writeUnder(lib, 'a.txt', 'alpha\n');
  const b = writeUnder(lib, 'sub/b.bin', Buffer.alloc(70_000, 7));
  fs.linkSync(b, path.join(lib, 'sub/b-again.bin'));
  fs.symlinkSync('a.txt', path.join(lib, 'link'));
  fs.chmodSync(a, 0o640);
  fs.utimesSync(a, 1_600_000_000.123456789, 1_600_000_000.123456789);
}

test('a first backup onto a new disk stores the library as it is and tells each file it stored', async (t) => {
  const s = setup(t);
  fillLibrary(s.lib);
  const { outcome, events } = await backupOnce(s, { init: true });

  assert.equal(outcome.dryRun, false);
  assert.equal(outcome.label, 'RUN');
  assert.equal(outcome.stopped, null);
  assert.equal(outcome.guarded, false);
  assert.equal(outcome.missingRoot, false);
  assert.ok(outcome.summary);
  assert.equal(outcome.summary.skipped, 0);
  assert.equal(outcome.summary.added + outcome.summary.linked, 4, 'every file, name and symlink counted once');
  assert.equal(outcome.summary.bytesCopied, 6 + 70_000, 'the second name is linked, not copied again');
  assert.deepEqual(
    pathsOf(events, 'added', 'linked', 'symlinked'),
    ['a.txt', 'link', 'sub/b-again.bin', 'sub/b.bin'].map((p) => path.join(s.lib, p)),
  );
  assert.ok(events.some((e) => e.type === 'phase' && e.name === 'finished'));

  // The disk holds each file at its path, as in the library: content, mode, owner, mtime to the ns.
  const onDisk = path.join(s.disk, s.lib);
  assert.deepEqual(fidelityOf(onDisk), fidelityOf(s.lib));
  const [b, again] = ['sub/b.bin', 'sub/b-again.bin'].map((p) => fs.statSync(path.join(onDisk, p)).ino);
  assert.equal(b, again, 'the two names of one library file share one inode on the disk');
  assertDiskMatchesCatalog(s.disk, s.db);
});

test('a run with nothing changed stores nothing; a dry run of a change records it and changes nothing', async (t) => {
  const s = setup(t);
  fillLibrary(s.lib);
  await backupOnce(s, { init: true });

  const again = await backupOnce(s);
  assert.ok(again.outcome.summary);
  assert.equal(again.outcome.summary.unchanged, 4);
  assert.equal(again.outcome.summary.added + again.outcome.summary.modified, 0);
  assert.deepEqual(pathsOf(again.events, 'added', 'linked', 'symlinked'), []);

  writeUnder(s.lib, 'a.txt', 'alpha, changed\n');
  writeUnder(s.lib, 'c.txt', 'gamma\n');
  const diskBefore = fidelityOf(s.disk);
  const hostBefore = rows(s.db);
  const dry = await backupOnce(s, { dryRun: true });
  assert.equal(dry.outcome.dryRun, true);
  assert.deepEqual(
    (dry.outcome.ops ?? []).filter((op) => op.type === 'copy').map((op) => op.type === 'copy' && op.record.path).sort(),
    [path.join(s.lib, 'a.txt'), path.join(s.lib, 'c.txt')],
  );
  assert.deepEqual(fidelityOf(s.disk), diskBefore, 'a dry run leaves the disk as it was');
  assert.deepEqual(rows(s.db), hostBefore, 'a dry run leaves the host catalog as it was');

  const real = await backupOnce(s);
  assert.ok(real.outcome.summary);
  assert.deepEqual([real.outcome.summary.added, real.outcome.summary.modified], [dry.outcome.summary!.added, dry.outcome.summary!.modified]);
  assert.deepEqual([real.outcome.summary.added, real.outcome.summary.modified], [1, 1]);
  assert.deepEqual(fidelityOf(path.join(s.disk, s.lib)), fidelityOf(s.lib));
  assertDiskMatchesCatalog(s.disk, s.db);
});

test('a data path that is not there removes nothing and is reported in the outcome', async (t) => {
  const s = setup(t);
  fillLibrary(s.lib);
  await backupOnce(s, { init: true });
  const gone = path.join(path.dirname(s.lib), 'not-there');
  const { outcome } = await backupOnce(s, { roots: [s.lib, gone] });
  assert.equal(outcome.missingRoot, true);
  assert.ok(outcome.summary);
  assert.equal(outcome.summary.removed, 0);
  assert.deepEqual(fidelityOf(path.join(s.disk, s.lib)), fidelityOf(s.lib));
});

test('a first backup copies the scan as it comes: a few chunks wait, not the whole scan, and hardlinks across chunks and private folders come out exact', async (t) => {
  // A first backup held every scanned chunk (~200 bytes a file) until the whole scan was planned:
  // ~200 MiB at a million files, most of what took it past 512 MiB. Chunks of 8 files here, 150
  // of them, and copying is far slower than the scan: without the scan waiting, nearly all would wait.
  const s = setup(t);
  for (let d = 0; d < 30; d++) for (let f = 0; f < 40; f++) writeUnder(s.lib, `d${String(d).padStart(2, '0')}/f${f}.dat`, `file ${d}/${f}\n`);
  // One content under two names in far-apart chunks, and a folder only its owner may enter.
  fs.linkSync(path.join(s.lib, 'd00/f0.dat'), path.join(s.lib, 'd29/again.dat'));
  fs.chmodSync(path.join(s.lib, 'd15'), 0o700);
  fs.utimesSync(path.join(s.lib, 'd15'), 1_600_000_000.5, 1_600_000_000.5);
  const threads = 2;
  const { outcome, events } = await backupOnce(s, { init: true, chunkSize: 8 });

  const scanned = events.find((e) => e.type === 'phase' && e.name.startsWith('scanned'));
  const waiting = /at most (\d+) chunk\(s\) waiting/.exec(scanned?.type === 'phase' ? scanned.name : '');
  assert.ok(waiting, `the first backup was not copied as scanned: ${JSON.stringify(scanned)}`);
  // Each scanning thread may post one chunk past the bound before it waits.
  assert.ok(Number(waiting[1]) <= AHEAD_CHUNKS + threads, `${waiting[1]} of 150 chunks waited at once`);

  assert.ok(outcome.summary);
  assert.equal(outcome.stopped, null);
  assert.equal(outcome.summary.added + outcome.summary.linked, 1201);
  const onDisk = path.join(s.disk, s.lib);
  assert.deepEqual(fidelityOf(onDisk), fidelityOf(s.lib));
  assert.equal(fs.statSync(path.join(onDisk, 'd00/f0.dat')).ino, fs.statSync(path.join(onDisk, 'd29/again.dat')).ino, 'a hardlink group across chunks is one inode');
  assert.equal(fs.statSync(path.join(onDisk, 'd15')).mode & 0o777, 0o700);
  assertDiskMatchesCatalog(s.disk, s.db);
  // The next run finds every file unchanged (the rows the chunks wrote are whole).
  const again = await backupOnce(s);
  assert.equal(again.outcome.summary?.unchanged, 1201);
  assert.equal((again.outcome.summary?.added ?? 0) + (again.outcome.summary?.modified ?? 0), 0);
});
