// Faults in the archive's own files (journal, volume.json, catalog snapshots) and in the mtime
// setter, injected into bin/blaine through BLAINE_TEST_FAULTS as a user runs it. No root needed.
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { backup, assertArchiveHolds, assertDiskMatchesCatalog, blaine, rows, testEnv, write } from '../../test/helpers.js';

const SCAN = { BLAINE_SCAN_THREADS: '1' };

function library(lib: string): void {
  for (let i = 0; i < 4; i++) write(path.join(lib, 'photos', `p${i}.jpg`), crypto.randomBytes(20_000 + i * 1000));
  write(path.join(lib, 'docs', 'note.txt'), 'a note\n');
}

/** One sentence, no stack trace. */
/** A test environment holding the library above, removed when the test ends. */
function libraryEnv(t: { after: (fn: () => void) => void }): ReturnType<typeof testEnv> {
  const env = testEnv('blaine-archive-fault-');
  t.after(env.cleanup);
  library(env.lib);
  return env;
}

function assertOneLine(stderr: string, pattern: RegExp): void {
  assert.match(stderr, pattern);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  assert.doesNotMatch(stderr, /internal error/);
}

/** After the fault: disk equal to its catalogs, nothing left open; then a plain rerun converges. */
function assertRerunConverges(env: ReturnType<typeof testEnv>): void {
  assertDiskMatchesCatalog(env.disk, env.db);
  const again = backup(env, ['--no-parity'], { env: SCAN });
  assert.equal(again.status, 0, again.stderr);
  assertDiskMatchesCatalog(env.disk, env.db);
  assertArchiveHolds(env.lib, [env.disk]);
  assert.ok(!fs.existsSync(path.join(env.disk, '.blaine', 'journal')), 'the journal is closed');
  const v = blaine(['verify', '--checksum', '--dest', env.disk, '--db', env.db]);
  assert.equal(v.status, 0, v.stdout + v.stderr);
}

test('backup: EIO from the mtime setter while copying skips that file with a warning and exit 1; the rerun stores it', (t) => {
  const env = libraryEnv(t);
  const r = backup(env, ['--no-parity', '--init'], { env: SCAN, faults: 'utimes:1:EIO@p2.jpg' });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /warning: cannot write .*p2\.jpg on the disk .*i\/o error.*skipped/);
  assertOneLine(r.stderr, /could not be read or written and were skipped/);
  const paths = rows(env.db).map((x) => x.path);
  assert.equal(paths.length, 4, 'the four other files are archived');
  assert.ok(!paths.some((p) => p.endsWith('p2.jpg')));
  assert.deepEqual(fs.readdirSync(path.join(env.disk, '.blaine', 'tmp')), [], 'the half-made copy is gone');
  assertRerunConverges(env);
});

test('backup: the disk full while writing the journal stops with exit 3; nothing unjournalled was done', (t) => {
  const env = libraryEnv(t);
  // The journal takes a run's steps in one write (apply/executor.ts journalFor): its first write fails.
  const r = backup(env, ['--no-parity', '--init'], { env: SCAN, faults: 'write:1:ENOSPC@journal' });
  assert.equal(r.status, 3, r.stderr);
  assertOneLine(r.stderr, /the disk is full \(while writing its journal\)/);
  assert.equal(rows(env.db).length, 0, 'no file was stored without its journal entry');
  assert.deepEqual(fs.readdirSync(path.join(env.disk, '.blaine', 'tmp')), [], 'no copy made ahead is left');
  assertRerunConverges(env);
});

test('backup: EIO writing the journal ends the run with one sentence and exit 1; the rerun converges', (t) => {
  const env = libraryEnv(t);
  assert.equal(backup(env, ['--no-parity', '--init'], { env: SCAN }).status, 0);
  for (const f of ['p0.jpg', 'p1.jpg']) fs.renameSync(path.join(env.lib, 'photos', f), path.join(env.lib, 'photos', `moved-${f}`));
  write(path.join(env.lib, 'docs', 'new.txt'), 'new\n');
  const r = backup(env, ['--no-parity'], { env: SCAN, faults: 'fsync:1:EIO@journal' });
  assert.equal(r.status, 1, r.stderr);
  assertOneLine(r.stderr, /Cannot write .*\.blaine\/journal: i\/o error\./);
  assertRerunConverges(env);
});

test('backup --init: volume.json that cannot be written (disk full) is exit 3 in one sentence; a second --init makes the disk', (t) => {
  const env = libraryEnv(t);
  const r = backup(env, ['--no-parity', '--init'], { env: SCAN, faults: 'write:1:ENOSPC@volume.json' });
  assert.equal(r.status, 3, r.stderr);
  assertOneLine(r.stderr, /The disk is full: there is no room left to write .*volume\.json/);
  assert.ok(!fs.existsSync(path.join(env.disk, '.blaine', 'volume.json')));
  assert.ok(!fs.existsSync(env.db) || rows(env.db).length === 0, 'nothing catalogued');
  const again = backup(env, ['--no-parity', '--init'], { env: SCAN });
  assert.equal(again.status, 0, again.stderr);
  assertArchiveHolds(env.lib, [env.disk]);
});

test('backup: EIO writing the host-catalog snapshot at the end is exit 1 in one sentence; the files stay stored and the rerun writes it', (t) => {
  const env = libraryEnv(t);
  const r = backup(env, ['--no-parity', '--init'], { env: SCAN, faults: 'copyfile:1:EIO@host-catalog' });
  assert.equal(r.status, 1, r.stderr);
  assertOneLine(r.stderr, /^blaine: Cannot write .*\.blaine\/host-catalog\.sqlite: i\/o error\.$/m);
  assert.equal(rows(env.db).length, 5, 'everything copied before the snapshot stays catalogued');
  assert.deepEqual(fs.readdirSync(path.join(env.disk, '.blaine')).filter((n) => n.includes('blaine-tmp')), []);
  assertRerunConverges(env);
  assert.ok(fs.existsSync(path.join(env.disk, '.blaine', 'host-catalog.sqlite')));
});

test('restore: EIO from the mtime setter stops at that file in one sentence, exit 1; the rerun restores the rest', (t) => {
  const env = libraryEnv(t);
  assert.equal(backup(env, ['--no-parity', '--init'], { env: SCAN }).status, 0);
  const to = path.join(env.base, 'restored');
  const restore = (faults?: string) =>
    blaine(['restore', '--dest', env.disk, '--db', env.db, '--to', to, '*'], { env: faults ? { BLAINE_TEST_FAULTS: faults } : {} });
  const r = restore('utimes:2:EIO');
  assert.equal(r.status, 1, r.stderr);
  assertOneLine(r.stderr, /^blaine: cannot write .*: i\/o error; the files restored before it are in place$/m);
  const placed = (dir: string): string[] => fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => d.name);
  assert.equal(placed(to).length, 1, 'the first file is in place, nothing half-made beside it');
  const again = restore();
  assert.equal(again.status, 0, again.stderr);
  assert.equal(placed(to).length, 5);
  for (const f of ['photos/p0.jpg', 'photos/p1.jpg', 'photos/p2.jpg', 'photos/p3.jpg', 'docs/note.txt']) {
    const src = path.join(env.lib, f);
    const out = path.join(to, src);
    assert.deepEqual(fs.readFileSync(out), fs.readFileSync(src), f);
    assert.equal(fs.statSync(out, { bigint: true }).mtimeNs, fs.statSync(src, { bigint: true }).mtimeNs, `${f}: mtime to the ns`);
  }
});
