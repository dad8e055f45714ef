/**
 * Folders are archived too (SPEC §3): every directory below a data path, empty
 * ones included, comes back with its mode, owner and mtime to the nanosecond, as `rsync -a` gives
 * them. The shared checks (assertDiskMatchesCatalog, assertArchiveHolds, assertRestoresLibrary)
 * compare folders as well; these tests build the cases that matter.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  assertArchiveHolds, assertDiskMatchesCatalog, assertRestoresLibrary, backup, blaine, dirRows, isRoot, summaryOf, testEnv, volumeOf, write,
} from '../../test/helpers.js';
import { assertRerunLeftDiskWhole, crashEveryStep } from '../../test/crash.js';

const FLAGS = ['--no-parity', '--json'];

/** Sets a folder's (or file's) mtime to the nanosecond: Node's utimes keeps microseconds at best. */
function touchNs(p: string, sec: number, nsec: number): void {
  execFileSync('touch', ['-h', '-m', '-d', `@${sec}.${String(nsec).padStart(9, '0')}`, p]);
}

function modeOf(p: string): number {
  return fs.lstatSync(p).mode & 0o7777;
}

/**
 * A library with what users lose today: a private folder holding a file, an empty folder, nested
 * folders with old mtimes (set after their contents), a setgid folder, and (as root) a folder of
 * another owner.
 */
function library(lib: string): void {
  write(path.join(lib, 'private', 'diary.txt'), 'dear diary');
  fs.chmodSync(path.join(lib, 'private'), 0o700);
  fs.mkdirSync(path.join(lib, 'empty'));
  write(path.join(lib, 'old', 'nested', 'deeper', 'photo.jpg'), 'jpeg bytes');
  fs.mkdirSync(path.join(lib, 'old', 'nested', 'empty-too'));
  touchNs(path.join(lib, 'old', 'nested', 'deeper'), 981_173_106, 123_456_789);
  touchNs(path.join(lib, 'old', 'nested', 'empty-too'), 981_173_107, 1);
  touchNs(path.join(lib, 'old', 'nested'), 981_173_108, 999_999_999);
  touchNs(path.join(lib, 'old'), 981_173_109, 500);
  fs.mkdirSync(path.join(lib, 'shared'));
  fs.chmodSync(path.join(lib, 'shared'), 0o2775);
  if (isRoot) {
    write(path.join(lib, 'theirs', 'f.txt'), 'owned by someone else');
    fs.chownSync(path.join(lib, 'theirs'), 1234, 5678);
    fs.chmodSync(path.join(lib, 'theirs'), 0o750);
  }
}

test('folders keep their mode, owner and mtime to the ns on the disk and in a restore; empty ones are archived', (t) => {
  const env = testEnv('blaine-folders-');
  t.after(env.cleanup);
  library(env.lib);
  const r = backup(env, [...FLAGS, '--init'], { ok: true });
  const s = summaryOf(r) as unknown as { added: number; directories: { added: number } };
  assert.equal(s.added, isRoot ? 3 : 2, 'folders are not counted as files');
  // lib, private, empty, old, old/nested, old/nested/deeper, old/nested/empty-too, shared (+ theirs)
  assert.equal(s.directories.added, isRoot ? 9 : 8);
  const onDisk = (rel: string) => path.join(env.disk, env.lib, rel);
  assert.equal(modeOf(onDisk('private')), 0o700, 'a private folder is private on the disk');
  assert.ok(fs.statSync(onDisk('empty')).isDirectory(), 'the empty folder is on the disk');
  assert.equal(fs.lstatSync(onDisk('old/nested'), { bigint: true }).mtimeNs, 981_173_108_999_999_999n);
  assertDiskMatchesCatalog(env.disk, env.db);
  assertArchiveHolds(env.lib, [env.disk]);
  assert.equal(dirRows(env.db, volumeOf(env.disk).volume).length, s.directories.added, 'one row per folder');

  // A second run changes nothing: no folder row or folder is written again.
  const again = summaryOf(backup(env, FLAGS, { ok: true })) as unknown as { directories: Record<string, number> };
  assert.deepEqual(again.directories, { added: 0, updated: 0, removed: 0, kept: 0 });

  const to = path.join(env.base, 'restored');
  assertRestoresLibrary(env.lib, [env.disk], env.db, to);
  assert.equal(modeOf(path.join(to, env.lib, 'private')), 0o700);
  // Restoring again into the same target (a resumed restore) keeps them so.
  assertRestoresLibrary(env.lib, [env.disk], env.db, to);
  // A lost file put back with --missing-only: its folder's mtime is the catalogued one again.
  fs.rmSync(path.join(to, env.lib, 'private', 'diary.txt'));
  const missing = blaine(['restore', '--dest', env.disk, '--db', env.db, '--to', to, '--missing-only', `${env.lib}/*`]);
  assert.equal(missing.status, 0, missing.stderr);
  assertRestoresLibrary(env.lib, [], env.db, to);
});

test('a private folder is never wider than private on the disk, even when the run is killed right after making it', (t) => {
  const env = testEnv('blaine-folders-');
  t.after(env.cleanup);
  write(path.join(env.lib, 'private', 'secret.txt'), 'secret');
  fs.chmodSync(path.join(env.lib, 'private'), 0o700);
  const killed = backup(env, [...FLAGS, '--init'], { faults: 'mkdir:1:crash@/private' });
  assert.equal(killed.status, -1, `killed after the folder was made: ${killed.stderr}`);
  const made = path.join(env.disk, env.lib, 'private');
  assert.ok(fs.existsSync(made), 'the folder was made before the kill');
  assert.equal(modeOf(made) & 0o077, 0, `made ${modeOf(made).toString(8)}: group and others never get in`);
  backup(env, FLAGS, { ok: true });
  assert.equal(modeOf(made), 0o700);
  assertDiskMatchesCatalog(env.disk, env.db);
  assertArchiveHolds(env.lib, [env.disk]);
});

test('folder changes between runs: chmod, touch, a new empty folder, folders removed (kept, then removed with --clean), a dry run changes nothing', (t) => {
  const env = testEnv('blaine-folders-');
  t.after(env.cleanup);
  write(path.join(env.lib, 'a', 'one.txt'), 'one');
  write(path.join(env.lib, 'b', 'two.txt'), 'two');
  fs.mkdirSync(path.join(env.lib, 'gone', 'below'), { recursive: true });
  backup(env, [...FLAGS, '--init'], { ok: true });

  fs.chmodSync(path.join(env.lib, 'a'), 0o700);
  touchNs(path.join(env.lib, 'b'), 1_000_000_000, 42);
  fs.mkdirSync(path.join(env.lib, 'c'));
  fs.rmSync(path.join(env.lib, 'gone'), { recursive: true });
  const kept = summaryOf(backup(env, FLAGS, { ok: true })) as unknown as { directories: Record<string, number> };
  // lib itself changed too (c made, gone removed in it)
  assert.deepEqual(kept.directories, { added: 1, updated: 3, removed: 0, kept: 2 });
  assert.ok(fs.existsSync(path.join(env.disk, env.lib, 'gone', 'below')), 'kept without --clean');
  assert.equal(modeOf(path.join(env.disk, env.lib, 'a')), 0o700);
  assertDiskMatchesCatalog(env.disk, env.db);
  assertArchiveHolds(env.lib, [env.disk]);

  const listing = () => execFileSync('find', [env.disk, '-printf', '%p %m %T@\n'], { encoding: 'utf8' });
  const before = listing();
  const dry = backup(env, ['--no-parity', '--clean', '--dry-run'], { ok: true });
  assert.match(dry.stdout, /folders: would be added 0, would be updated 0, would be removed 2/);
  assert.equal(listing(), before, 'a dry run changes nothing on the disk');

  const clean = summaryOf(backup(env, [...FLAGS, '--clean'], { ok: true })) as unknown as { directories: Record<string, number> };
  assert.equal(clean.directories.removed, 2);
  assert.ok(!fs.existsSync(path.join(env.disk, env.lib, 'gone')), 'removed with --clean');
  assertDiskMatchesCatalog(env.disk, env.db);
  assertArchiveHolds(env.lib, [env.disk]);
  assertRestoresLibrary(env.lib, [env.disk], env.db, path.join(env.base, 'restored'));
});

test('a stored disk and a mirror twin get the folders made, renamed and chmod-ed while they were away at their visit (apply)', (t) => {
  const env = testEnv('blaine-folders-');
  t.after(env.cleanup);
  const A = env.disk;
  const B = path.join(env.base, 'B');
  const B2 = path.join(env.base, 'B2');
  fs.mkdirSync(B);
  fs.mkdirSync(B2);
  write(path.join(env.lib, 'album', 'a.jpg'), 'a');
  write(path.join(env.lib, 'album', 'b.jpg'), 'b');
  fs.chmodSync(path.join(env.lib, 'album'), 0o750);
  write(path.join(env.lib, 'docs', 'c.txt'), 'c');
  backup(env, [...FLAGS, '--init', '--label', 'A'], { ok: true });
  backup(env, [...FLAGS, '--init', '--label', 'B'], { disk: B, ok: true });
  const cl = blaine(['clone', '--dest', B, '--to', B2, '--db', env.db]);
  assert.equal(cl.status, 0, cl.stderr);
  assertDiskMatchesCatalog(B2, env.db);

  // While A and B2 are away: the album is renamed (its files are on A: a deferred RENAME), docs
  // is made private, an empty folder appears.
  fs.renameSync(path.join(env.lib, 'album'), path.join(env.lib, 'album-2019'));
  fs.chmodSync(path.join(env.lib, 'docs'), 0o700);
  fs.mkdirSync(path.join(env.lib, 'inbox'));
  // With --clean the old folder goes from the archive (without it, it is kept, as files are).
  backup(env, [...FLAGS, '--clean'], { disk: B, ok: true });
  assertDiskMatchesCatalog(B, env.db);

  for (const d of [A, B2]) {
    const ap = blaine(['apply', '--dest', d, '--db', env.db]);
    assert.equal(ap.status, 0, ap.stderr);
    assertDiskMatchesCatalog(d, env.db);
    assert.equal(modeOf(path.join(d, env.lib, 'album-2019')), 0o750, 'the renamed folder keeps its mode');
    assert.equal(modeOf(path.join(d, env.lib, 'docs')), 0o700);
    assert.ok(fs.statSync(path.join(d, env.lib, 'inbox')).isDirectory(), 'the empty folder appears at the visit');
    assert.ok(!fs.existsSync(path.join(d, env.lib, 'album')), 'the old folder is gone');
  }
  assertArchiveHolds(env.lib, [A]);
  assertArchiveHolds(env.lib, [A, B2]);
  assertRestoresLibrary(env.lib, [A, B], env.db, path.join(env.base, 'restored'));
});

for (const kind of ['mkdir', 'utimes']) {
  test(`a run that makes folders, killed after every ${kind} call: the rerun leaves every folder as the library has it`, (t) => {
    const env = testEnv('blaine-folders-crash-');
    t.after(env.cleanup);
    write(path.join(env.lib, 'keep.txt'), 'keep');
    backup(env, [...FLAGS, '--init'], { ok: true });
    library(env.lib);
    const args = ['backup', '--dest', env.disk, '--db', env.db, '--reserve', '0', ...FLAGS, env.lib];
    const n = crashEveryStep(env, kind, [env.disk, env.db], args, (where) => assertRerunLeftDiskWhole(env, where));
    t.diagnostic(`${kind}: ${n} crash points`);
  });
}

test('verify reports a folder whose mode, mtime or existence differs from the catalog, and --fix repairs it', (t) => {
  const env = testEnv('blaine-folders-');
  t.after(env.cleanup);
  library(env.lib);
  backup(env, [...FLAGS, '--init'], { ok: true });
  const onDisk = (rel: string) => path.join(env.disk, env.lib, rel);
  fs.chmodSync(onDisk('private'), 0o755);
  touchNs(onDisk('old'), 1_700_000_000, 0);
  fs.rmdirSync(onDisk('empty'));
  const verify = (...extra: string[]) => blaine(['verify', '--dest', env.disk, '--db', env.db, '--json', ...extra]);
  const found = verify();
  assert.equal(found.status, 4, found.stderr);
  const problems = (JSON.parse(found.stdout) as { problems: Array<{ path: string; kind: string; repaired: boolean }> }).problems;
  const seen = problems.map((p) => `${path.relative(env.lib, p.path)} ${p.kind}`).sort();
  // The data path's own folder too: removing `empty` from it changed its mtime.
  assert.deepEqual(seen, [' mtime', 'empty missing', 'old mtime', 'private mode']);
  const fixed = verify('--fix');
  assert.equal(fixed.status, 0, fixed.stdout + fixed.stderr);
  assert.ok((JSON.parse(fixed.stdout) as { problems: Array<{ repaired: boolean }> }).problems.every((p) => p.repaired));
  assert.equal(verify().status, 0, 'clean after --fix');
  assertDiskMatchesCatalog(env.disk, env.db);
  assertArchiveHolds(env.lib, [env.disk]);
});
