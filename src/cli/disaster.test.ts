/**
 * Disaster recovery end to end (SPEC §8 "Restore gives back the archive, not a disk"):
 * three disks filled, a twin made with `clone`, two weeks of ordinary changes to files that live on
 * offline disks (renames, a deleted file, an edit, mode changes, a new hardlink, a folder rename
 * spanning all three disks), the swap, then host, library and onsite twin lost. Rebuilt from the
 * offsite twin, the offsite disks alone, restored in any order (and with kill -9 at fixed points
 * of each restore, then the same command again), give back the library exactly as it was at the
 * twin's last backup: every path, content, mode, owner, mtime to the ns, hardlink groups,
 * symlinks, and nothing else.
 *
 * Which file goes to which disk is set with exclusion rules (the files of A are named a-*, of B
 * b-*), which spreads the library over the disks as a full disk would, without real full disks.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { blaine, isRoot, tempDir, write, type RunResult, expectOk, scratchDir } from '../../test/helpers.js';
import { dropHost, fidelity, fileCount, hostState } from '../../test/recovery.js';

const O = ['--reserve', '0', '--no-parity'];


/** A file with random content and a given mtime to the nanosecond (a whole-second one is too easy). */
function put(file: string, bytes: number, ns: bigint, mode = 0o644): void {
  write(file, crypto.randomBytes(bytes));
  fs.chmodSync(file, mode);
  touch(file, ns);
}

/** mtime to the nanosecond (Node's utimes takes doubles and loses the last digits). */
function touch(file: string, ns: bigint): void {
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  execFileSync('touch', ['-h', '-m', '-d', `@${ns / 1_000_000_000n}.${frac}`, file]);
}

let clock = 1_600_000_000_123_456_789n;
const next = (): bigint => (clock += 86_400_000_000_007n);

interface Story {
  base: string;
  lib: string;
  db: string;
  disks: Record<'A' | 'B' | 'C' | 'C2', string>;
  /** The library at the twin C's last backup: what the offsite disks must give back. */
  want: ReturnType<typeof fidelity>;
}

function backup(s: Pick<Story, 'db' | 'lib'>, disk: string, ...extra: string[]): RunResult {
  return expectOk(blaine(['backup', '--dest', disk, '--db', s.db, ...O, ...extra, s.lib]), `backup onto ${path.basename(disk)}`);
}

/** Plays the story up to the loss and the rebuild from the offsite twin. */
function playStory(): Story {
  const base = tempDir('blaine-disaster-');
  const lib = path.join(base, 'lib');
  const db = path.join(base, 'host', 'catalog.sqlite');
  const disks = { A: path.join(base, 'A'), B: path.join(base, 'B'), C: path.join(base, 'C'), C2: path.join(base, 'C2') };
  for (const d of Object.values(disks)) fs.mkdirSync(d, { recursive: true });
  const s = { base, lib, db };
  const L = (rel: string) => path.join(lib, rel);

  // The library: three disks' worth, and a folder ("album") with a file on each disk.
  for (const d of ['a', 'b', 'c']) {
    for (let i = 1; i <= 4; i++) put(L(`photos/${d}-${i}.jpg`), 3000 + i * 517, next());
    put(L(`album/${d}-cover.jpg`), 2500, next());
    put(L(`album/deep/${d}-track.flac`), 4100, next(), 0o600);
  }
  fs.linkSync(L('photos/b-1.jpg'), L('photos/b-1-link.jpg'));
  put(L('docs/a-notes.txt'), 900, next(), 0o640);
  put(L('docs/c-empty'), 0, next());
  fs.symlinkSync('../photos/a-1.jpg', L('docs/c-link'));
  if (isRoot) fs.chownSync(L('docs/a-notes.txt'), 1234, 5678);

  backup(s, disks.A, '--init', '--label', 'A', '--exclude', 'b-*', '--exclude', 'c-*');
  backup(s, disks.B, '--init', '--label', 'B', '--exclude', 'c-*');
  backup(s, disks.C, '--init', '--label', 'C');
  expectOk(blaine(['clone', '--dest', disks.C, '--to', disks.C2, '--label', "C'", '--db', db]), 'clone');

  // Week 1 onto C' while A and B are offsite.
  fs.renameSync(L('photos/a-2.jpg'), L('photos/a-2-renamed.jpg'));
  fs.rmSync(L('photos/b-3.jpg'));
  put(L('photos/new-1.jpg'), 1500, next());
  backup(s, disks.C2, '--clean');
  put(L('photos/a-3.jpg'), 3333, next()); // edited: the old version stays on A
  fs.chmodSync(L('photos/b-2.jpg'), 0o640);
  fs.linkSync(L('photos/a-4.jpg'), L('docs/a-4-link.jpg'));
  backup(s, disks.C2, '--clean');
  fs.renameSync(L('album'), L('album-2024'));
  fs.renameSync(L('photos/b-4.jpg'), L('photos/b-4-tmp.jpg'));
  fs.renameSync(L('photos/b-1-link.jpg'), L('photos/b-4.jpg')); // a chain: a name reused by another file
  fs.symlinkSync('album-2024/deep', L('docs/c-deep'));
  backup(s, disks.C2, '--clean');

  // The swap: C comes back, is caught up, and takes a day of changes; C' goes offsite... for a week.
  fs.chmodSync(L('photos/a-1.jpg'), 0o600);
  fs.renameSync(L('photos/a-2-renamed.jpg'), L('album-2024/a-2.jpg'));
  put(L('photos/new-2.jpg'), 1700, next());
  backup(s, disks.C, '--clean');
  const want = fidelity(lib);

  // Week 2 onto C' (the onsite twin): none of it can come back from the offsite disks.
  fs.renameSync(L('photos/a-4.jpg'), L('photos/a-4-week2.jpg'));
  fs.rmSync(L('photos/b-2.jpg'));
  put(L('photos/new-3.jpg'), 1900, next());
  backup(s, disks.C2, '--clean');

  // The loss: host (and its catalog), library and the onsite twin.
  dropHost(db);
  fs.rmSync(lib, { recursive: true });
  fs.rmSync(disks.C2, { recursive: true });
  expectOk(blaine(['rebuild-catalog', '--dest', disks.C, '--db', db]), 'rebuild-catalog from C');

  return { base, lib, db, disks, want };
}

function restore(s: Story, disk: 'A' | 'B' | 'C', to: string, env: Record<string, string> = {}, ...extra: string[]): RunResult {
  return blaine(['restore', '--dest', s.disks[disk], '--db', s.db, '--to', to, ...extra, `${s.lib}/**`], { env });
}

/** The target holds the library at the twin's last backup, and nothing else (no temporary file, no log). */
function assertGivesBackLibrary(s: Story, to: string, what: string): void {
  assert.deepEqual(fs.readdirSync(to), [s.lib.split('/')[1]], `${what}: nothing but the restored tree in the target`);
  const got = fidelity(path.join(to, s.lib));
  assert.deepEqual([...got.entries.keys()].sort(), [...s.want.entries.keys()].sort(), `${what}: the restored paths`);
  assert.deepEqual(got.entries, s.want.entries, `${what}: content, mode, owner, mtime`);
  assert.deepEqual(got.groups, s.want.groups, `${what}: hardlink groups`);
}

let story: Story | undefined;
function theStory(): Story {
  return (story ??= playStory());
}
test.after(() => {
  if (story) fs.rmSync(story.base, { recursive: true, force: true });
});

test('disaster recovery: the offsite disks give back the library as at the twin\'s last backup, restored B, C, A and A, C, B', () => {
  const s = theStory();
  const labels = (r: RunResult) => (JSON.parse(r.stdout) as { left: Array<{ label: string; files: number; bytes: number }> }).left;

  // Order 1: B, C, A, with what each run says is left.
  const r1 = path.join(s.base, 'r1');
  const plan = expectOk(blaine(['restore', '--plan', '--db', s.db, '--to', r1, '--json', `${s.lib}/**`]), 'plan');
  const planned = labels(plan);
  assert.deepEqual(planned.map((v) => v.label), ['A', 'B', 'C']);
  assert.equal(planned.reduce((n, v) => n + v.files, 0), fileCount(s.want), 'the plan counts every path of the library');
  const human = expectOk(blaine(['restore', '--plan', '--db', s.db, '--to', r1, `${s.lib}/**`]), 'plan');
  assert.match(human.stdout, /^restore of \d+ file\(s\), [\d.]+ KB into .*: 0 file\(s\), 0 B already there\n/);
  assert.match(human.stdout, /disks needed:\n {2}"A" \([0-9a-f]{8}\): \d+ file\(s\), [\d.]+ KB\n {2}"B"/);

  const fromB = expectOk(restore(s, 'B', r1), 'restore from B');
  assert.match(fromB.stdout, /^restored \d+ file\(s\) \([\d.]+ KB\) from "B" into .*\nleft: mount "A" \(\d+ file\(s\), [\d.]+ KB\), "C" \(\d+ file\(s\), [\d.]+ KB\)\n$/);
  const fromC = expectOk(restore(s, 'C', r1, {}, '--json'), 'restore from C');
  const afterC = JSON.parse(fromC.stdout) as { done: boolean; left: Array<{ label: string; files: number }>; restored: number };
  assert.equal(afterC.done, false);
  assert.deepEqual(afterC.left.map((v) => v.label), ['A']);
  assert.equal(afterC.left[0]!.files, planned.find((v) => v.label === 'A')!.files, 'what A holds is left, and only that');
  const fromA = expectOk(restore(s, 'A', r1), 'restore from A');
  assert.match(fromA.stdout, /\nnothing is left: all \d+ matching path\(s\) are in /);
  assertGivesBackLibrary(s, r1, 'B, C, A');
  const again = expectOk(restore(s, 'C', r1, {}, '--json'), 'restore from C again');
  assert.equal(JSON.parse(again.stdout).restored, 0, 'a rerun finds everything in place and writes nothing');
  const planDone = JSON.parse(expectOk(blaine(['restore', '--plan', '--db', s.db, '--to', r1, '--json', `${s.lib}/**`]), 'plan').stdout);
  assert.deepEqual([planDone.done, planDone.left, planDone.inTarget.files], [true, [], fileCount(s.want)]);

  // Order 2: A, C, B.
  const r2 = path.join(s.base, 'r2');
  for (const d of ['A', 'C', 'B'] as const) expectOk(restore(s, d, r2), `restore from ${d}`);
  assertGivesBackLibrary(s, r2, 'A, C, B');
});

test('disaster recovery: each restore killed (kill -9) at fixed points and run again converges to the same library', () => {
  const s = theStory();
  let n = 0;
  for (const [order, faults] of [
    [['C', 'A', 'B'], ['rename:3:crash', 'write:2:crash', 'link:1:crash']],
    [['A', 'B', 'C'], ['rename:1:crash', 'rename:5:crash', 'write:4:crash']],
  ] as const) {
    const to = path.join(s.base, `killed-${n++}`);
    for (const [i, d] of order.entries()) {
      const killed = restore(s, d, to, { BLAINE_TEST_FAULTS: faults[i]! });
      assert.equal(killed.status, -1, `restore from ${d} with ${faults[i]}: killed, not exited (${killed.stdout}${killed.stderr})`);
      expectOk(restore(s, d, to), `restore from ${d} after a kill -9 at ${faults[i]}`);
    }
    assertGivesBackLibrary(s, to, `${order.join(', ')} with kill -9`);
  }
});

test('disaster recovery: rebuilding the host catalog from an older disk first and then the newest gives the newest\'s catalog', () => {
  const s = theStory();
  // Each volume's actions in their order; ids number them across volumes, which a rebuild may interleave otherwise.
  const withoutIds = (h: ReturnType<typeof hostState>) => ({
    ...h,
    deferred: (h.deferred as Array<Record<string, unknown>>).map((d): Record<string, unknown> => ({ ...d, id: 0 })).sort((a, b) => String(a.volume).localeCompare(String(b.volume))),
  });
  const newest = withoutIds(hostState(s.db));
  for (const older of ['A', 'B'] as const) {
    const db = path.join(s.base, `host-${older}`, 'catalog.sqlite');
    expectOk(blaine(['rebuild-catalog', '--dest', s.disks[older], '--db', db]), `rebuild from ${older}`);
    expectOk(blaine(['rebuild-catalog', '--dest', s.disks.C, '--db', db]), `then from C`);
    assert.deepEqual(withoutIds(hostState(db)), newest, `${older} first, then C`);
  }
});

/**
 * f.bin, g.bin and h.bin; A (soon a stored disk) holds all but `notOnA`, C holds that one, and C'
 * is cloned from C.
 */
function twinStory(base: string, notOnA: string) {
  const lib = path.join(base, 'lib');
  const db = path.join(base, 'host', 'catalog.sqlite');
  const [A, C, C2] = ['A', 'C', 'C2'].map((d) => path.join(base, d)) as [string, string, string];
  for (const d of [A, C, C2]) fs.mkdirSync(d);
  const s = { lib, db };
  const L = (rel: string) => path.join(lib, rel);
  put(L('f.bin'), 5000, next());
  put(L('g.bin'), 6000, next());
  put(L('h.bin'), 3000, next());
  backup(s, A, '--init', '--label', 'A', '--exclude', notOnA);
  backup(s, C, '--init', '--label', 'C');
  expectOk(blaine(['clone', '--dest', C, '--to', C2, '--label', "C'", '--db', db]), 'clone');
  return { lib, db, s, L, A, C, C2 };
}

/**
 * C goes offsite and the library changes onto C' (`changes`); A visits for a day (`apply`). Then
 * the host, the library and C' are lost and the host catalog is rebuilt from C. Returns what C's
 * last backup saw.
 */
function visitAfterTwin(base: string, changes: (L: (rel: string) => string) => void): { lib: string; db: string; A: string; C: string; want: ReturnType<typeof fidelity> } {
  const { lib, db, s, L, A, C, C2 } = twinStory(base, 'g.bin');
  const want = fidelity(lib);
  changes(L);
  backup(s, C2, '--clean');
  expectOk(blaine(['apply', '--dest', A, '--db', db]), 'apply on A');
  dropHost(db);
  fs.rmSync(lib, { recursive: true });
  fs.rmSync(C2, { recursive: true });
  expectOk(blaine(['rebuild-catalog', '--dest', C, '--db', db]), 'rebuild-catalog from C');
  return { lib, db, A, C, want };
}

/** Restores the library from the disks given, in that order; the last run must leave nothing. */
function restoreFrom(v: { lib: string; db: string }, to: string, disks: string[]): ReturnType<typeof fidelity> {
  let last: RunResult | undefined;
  for (const d of disks) last = expectOk(blaine(['restore', '--dest', d, '--db', v.db, '--to', to, `${v.lib}/**`]), `restore from ${d}`);
  assert.match(last!.stdout, /nothing is left/);
  return fidelity(path.join(to, v.lib));
}

test('a stored disk that applied a rename after the offsite twin\'s last backup still gives the file back under the twin\'s name', (t) => {
  const base = scratchDir(t, 'blaine-disaster-rename-');
  // Onto C' the file is renamed, and A, visiting for a day, applies the rename; C still names f.bin.
  const v = visitAfterTwin(base, (L) => fs.renameSync(L('f.bin'), L('f-renamed.bin')));
  assert.deepEqual(restoreFrom(v, path.join(base, 'restored'), [v.A, v.C]).entries, v.want.entries, 'the library at C\'s last backup');
});

test('refining the rebuilt host catalog from a stored disk that visited after the offsite twin\'s last backup keeps the twin\'s library (the rotation property\'s disaster)', (t) => {
  const base = scratchDir(t, 'blaine-disaster-refine-');
  // Onto C' f.bin is edited (its new version lives on C' alone) and h.bin renamed.
  const v = visitAfterTwin(base, (L) => {
    put(L('f.bin'), 7100, next());
    fs.renameSync(L('h.bin'), L('h-renamed.bin'));
  });
  // A's snapshot describes the host catalog after C''s backups: taken in, f.bin would come back in neither version.
  const refined = expectOk(blaine(['rebuild-catalog', '--dest', v.A, '--db', v.db]), 'rebuild-catalog from A');
  assert.match(refined.stdout, /later backups of "C'"/, 'the rebuild says why it kept what it had');
  assert.deepEqual(restoreFrom(v, path.join(base, 'restored'), [v.A, v.C]).entries, v.want.entries, 'the library at C\'s last backup');
});

test('a path made again over a held DELETE by a rename that a visit already applied is restored (found by the rotation property)', () => {
  const base = tempDir('blaine-disaster-swap-');
  try {
    const { lib, s, L, A, C2 } = twinStory(base, 'h.bin');
    // f.bin edited onto C': the DELETE of its old version on A is held. Then f.bin and g.bin swap
    // names: f.bin is A's g.bin content again (a RENAME for A), and A, visiting, applies it.
    put(L('f.bin'), 5100, next());
    backup(s, C2, '--clean');
    fs.renameSync(L('f.bin'), L('t.bin'));
    fs.renameSync(L('g.bin'), L('f.bin'));
    fs.renameSync(L('t.bin'), L('g.bin'));
    backup(s, C2, '--clean');
    expectOk(blaine(['apply', '--dest', A, '--db', s.db]), 'apply on A');
    const want = fidelity(lib);
    assert.deepEqual(restoreFrom(s, path.join(base, 'restored'), [A, C2]).entries, want.entries, 'the library');
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});
