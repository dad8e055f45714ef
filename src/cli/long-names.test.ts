/**
 * Names of 255 bytes, the most ext4 and most file systems allow: `NAME.par2` would be longer, so
 * their parity is named after a shortened stem (parity/paths.ts parityStemRel). Every parity step
 * must find it; and no failing parity step of `verify --fix` may leave a journal behind that makes
 * every later run fail.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { assertRestoresLibrary, blaine, rot, sha256, summaryOf, testEnv, write, type RunResult } from '../../test/helpers.js';
import { parityFiles } from '../parity/paths.js';

const T = new Date('2021-05-06T07:08:09.123Z');
/** 255 bytes: 'é' is two bytes in UTF-8, so a char-count cut would be wrong. */
const LONG = `${'é'.repeat(100)}${'n'.repeat(51)}.jpg`;
const LONG2 = `${'ü'.repeat(100)}${'m'.repeat(51)}.jpg`;

function setup() {
  const env = testEnv('blaine-longnames-');
  const run = (args: string[], faults?: string): RunResult =>
    blaine([...args, '--db', env.db, '--json'], faults ? { env: { BLAINE_TEST_FAULTS: faults } } : {});
  const backup = (...extra: string[]) => run(['backup', '--dest', env.disk, '--reserve', '0', ...extra, env.lib]);
  const verify = (faults?: string, ...extra: string[]) => run(['verify', '--dest', env.disk, ...extra], faults);
  const rel = (name: string) => path.join(env.lib, name).slice(1);
  const journal = path.join(env.disk, '.blaine', 'journal');
  return { ...env, run, backup, verify, rel, journal };
}

/**
 * A disk where a.bin has parity and b.bin (300 KB: a two-file set, so a step can fail between its
 * files) has none yet, for verify --fix to make.
 */
function withoutParity(t: { after: (fn: () => void) => void }): ReturnType<typeof setup> {
  const env = setup();
  t.after(env.cleanup);
  write(path.join(env.lib, 'a.bin'), crypto.randomBytes(100_000), T);
  assert.equal(env.backup('--init', '--label', 'A').status, 0);
  write(path.join(env.lib, 'b.bin'), crypto.randomBytes(300_000), T);
  assert.equal(env.backup('--no-parity').status, 0);
  return env;
}

function problems(r: RunResult): string[] {
  return (JSON.parse(r.stdout) as { problems: Array<{ kind: string; repaired: boolean }> }).problems.map((p) => `${p.kind}${p.repaired ? ' repaired' : ''}`).sort();
}

test('a 255-byte name gets parity that verify, repair, rename and restore find', (t) => {
  const env = setup();
  t.after(env.cleanup);
  assert.equal(Buffer.byteLength(LONG), 255);
  const data = crypto.randomBytes(300_000);
  write(path.join(env.lib, LONG), data, T);
  write(path.join(env.lib, 'plain.bin'), crypto.randomBytes(50_000), T);

  const first = env.backup('--init', '--label', 'A');
  assert.equal(first.status, 0, first.stderr);
  assert.doesNotMatch(first.stderr, /no parity/);
  assert.equal(summaryOf(first).added, 2);
  const files = parityFiles(env.disk, env.rel(LONG));
  assert.equal(files.length, 2, 'index and recovery file are on the disk');
  for (const f of files) assert.ok(Buffer.byteLength(path.basename(f)) <= 255);

  const clean = env.verify(undefined, '--checksum');
  assert.equal(clean.status, 0, clean.stdout + clean.stderr);
  assert.deepEqual(problems(clean), []);

  // Bit rot in the stored copy: verify --fix repairs it from the shortened-name parity.
  const stored = path.join(env.disk, env.rel(LONG));
  rot(stored, 1000, 64);
  const fixed = env.verify(undefined, '--checksum', '--fix');
  assert.deepEqual(problems(fixed), ['checksum repaired'], fixed.stdout);
  assert.equal(sha256(fs.readFileSync(stored)), sha256(data));
  assert.equal(fs.existsSync(env.journal), false);

  // Renamed to another 255-byte name: the parity moves with it; the old stem is gone.
  const oldFiles = parityFiles(env.disk, env.rel(LONG));
  fs.renameSync(path.join(env.lib, LONG), path.join(env.lib, LONG2));
  const moved = env.backup();
  assert.equal(moved.status, 0, moved.stderr);
  assert.equal(summaryOf(moved).renamed, 1);
  assert.equal(parityFiles(env.disk, env.rel(LONG2)).length, 2);
  for (const f of oldFiles) assert.equal(fs.existsSync(f), false, f);
  const after = env.verify(undefined, '--checksum');
  assert.deepEqual(problems(after), [], after.stdout);

  // A restore of a damaged copy is repaired from that parity on the way out.
  rot(path.join(env.disk, env.rel(LONG2)), 5000, 64);
  assertRestoresLibrary(env.lib, [env.disk], env.db, path.join(env.base, 'restored'));
});

test('a verify --fix whose parity step fails leaves no journal, and the next runs work', (t) => {
  const env = withoutParity(t);

  // verify --fix makes the missing parity; putting b's index in place fails once (EIO).
  const failed = env.verify('rename:1:EIO@b.bin.par2', '--fix');
  assert.equal(failed.status, 4, failed.stderr);
  assert.deepEqual(problems(failed), ['no-parity']);
  assert.equal(fs.existsSync(env.journal), false, 'a failed parity step is recovered at once');
  assert.deepEqual(parityFiles(env.disk, env.rel('b.bin')), [], 'nothing half-made is left');

  const next = env.backup();
  assert.equal(next.status, 0, next.stderr);
  const again = env.verify(undefined, '--fix');
  assert.equal(again.status, 0, again.stdout + again.stderr);
  assert.equal(parityFiles(env.disk, env.rel('b.bin')).length, 2);
  assert.deepEqual(problems(env.verify(undefined, '--checksum')), []);
});

test('a journal whose parity step cannot be settled does not block the disk: the row says "no parity" and the run goes on', (t) => {
  const env = withoutParity(t);
  // verify --fix dies right after b's set is in place, before its row says so: the journal stays.
  const killed = env.verify('rename:1:crash@b.bin.par2', '--fix');
  assert.notEqual(killed.status, 0);
  assert.equal(fs.existsSync(env.journal), true);
  // The next run cannot remove that set (the disk refuses, as it did 255-byte names): it warns and goes on.
  const next = env.run(['backup', '--dest', env.disk, '--reserve', '0', env.lib], 'unlink:1+:EIO@b.bin.');
  assert.equal(next.status, 0, next.stderr);
  assert.match(next.stderr, /journal: the parity of .*b\.bin could not be settled/);
  assert.equal(fs.existsSync(env.journal), false);
  // Without the fault, verify --fix puts the parity in order.
  const fixed = env.verify(undefined, '--fix');
  assert.equal(fixed.status, 0, fixed.stdout + fixed.stderr);
  assert.deepEqual(problems(env.verify(undefined, '--checksum')), []);
});
