import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { backup, fileSha, blaine, rot, sha256, testEnv, volumeOf, write, type RunResult } from '../../test/helpers.js';
import { ROW_FULL_PATH, storedForRow } from '../catalog/testing.js';

interface Summary {
  restored: number;
  repaired: number;
  failed: number;
  skipped: number;
  elsewhere: Array<{ volume: string; label: string; files: number; bytes: number }>;
}

const T = new Date('2021-05-06T07:08:09.123Z');

function setup() {
  const env = testEnv('blaine-restore-');
  const out = path.join(env.base, 'out');
  const onDisk = (rel: string) => path.join(env.disk, env.lib, rel);
  const restored = (rel: string) => path.join(out, env.lib, rel);
  return { ...env, out, onDisk, restored };
}
type Env = ReturnType<typeof setup>;

function restore(env: Env, ...args: string[]): { r: RunResult; s: Summary } {
  const r = blaine(['restore', '--dest', env.disk, '--db', env.db, '--to', env.out, '--json', ...args]);
  let s: Summary;
  try {
    s = JSON.parse(r.stdout);
  } catch {
    throw new Error(`restore gave no JSON (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  return { r, s };
}

/**
 * Everything below dir, .blaine included, as bytes and metadata (not atime): two equal snapshots
 * mean nothing on the disk was written, created or removed, catalogs included.
 */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, rel: string): void => {
    const st = fs.lstatSync(d, { bigint: true });
    const meta = `${st.mode} ${st.nlink} ${st.ino} ${st.mtimeNs} ${st.ctimeNs}`;
    if (st.isDirectory()) {
      out.set(rel + '/', meta);
      for (const n of fs.readdirSync(d).sort()) walk(path.join(d, n), rel ? `${rel}/${n}` : n);
    } else if (st.isSymbolicLink()) out.set(rel, `${meta} -> ${fs.readlinkSync(d)}`);
    else out.set(rel, `${meta} ${st.size} ${sha256(fs.readFileSync(d))}`);
  };
  walk(dir, '');
  return out;
}

/** A library with what a restore must give back: content, modes, mtimes, hardlinks, symlinks. */
function makeLibrary(lib: string): void {
  write(path.join(lib, 'photos/a.jpg'), crypto.randomBytes(100_000), T);
  fs.linkSync(path.join(lib, 'photos/a.jpg'), path.join(lib, 'photos/a-hardlink.jpg'));
  write(path.join(lib, 'photos/b.jpg'), crypto.randomBytes(50_000), T);
  write(path.join(lib, 'music/song.flac'), crypto.randomBytes(30_000), new Date('2001-02-03T04:05:06.789Z'));
  write(path.join(lib, 'bin/run.sh'), '#!/bin/sh\necho hi\n', T);
  fs.chmodSync(path.join(lib, 'bin/run.sh'), 0o750);
  write(path.join(lib, 'docs/private.txt'), 'secret\n', T);
  fs.chmodSync(path.join(lib, 'docs/private.txt'), 0o600);
  write(path.join(lib, 'x/a'), 'one character name\n', T);
  write(path.join(lib, 'video/movie.par2'), crypto.randomBytes(20_000), T);
  write(path.join(lib, 'empty'), '', T);
  fs.symlinkSync('../photos/a.jpg', path.join(lib, 'docs/rel-link'));
  fs.symlinkSync('nowhere/at/all', path.join(lib, 'docs/dangling'));
}

/** Every file and symlink of the library is at out/<path> as it is in the library. */
function assertRestored(env: Env, rels: string[]): void {
  for (const rel of rels) {
    const src = path.join(env.lib, rel);
    const dst = env.restored(rel);
    const s = fs.lstatSync(src);
    const d = fs.lstatSync(dst);
    if (s.isSymbolicLink()) {
      assert.ok(d.isSymbolicLink(), `${rel} is a symlink`);
      assert.equal(fs.readlinkSync(dst), fs.readlinkSync(src), `${rel} target`);
      continue;
    }
    assert.ok(d.isFile(), `${rel} is a file`);
    assert.equal(fileSha(dst), fileSha(src), `${rel} content`);
    assert.equal(d.mode & 0o7777, s.mode & 0o7777, `${rel} mode`);
    assert.equal(d.mtime.toISOString(), s.mtime.toISOString(), `${rel} mtime`);
  }
}

const ALL = [
  'photos/a.jpg',
  'photos/a-hardlink.jpg',
  'photos/b.jpg',
  'music/song.flac',
  'bin/run.sh',
  'docs/private.txt',
  'x/a',
  'video/movie.par2',
  'empty',
  'docs/rel-link',
  'docs/dangling',
];

test('restore gives back correct files from a damaged disk, repairing from parity, and never writes the disk', (t) => {
  const env = setup();
  t.after(env.cleanup);
  makeLibrary(env.lib);
  backup(env, ['--json', '--init', '--label', 'A'], { disk: env.disk, lib: env.lib, ok: true });
  rot(env.onDisk('photos/a.jpg'), 5000);
  rot(env.onDisk('x/a'), 3, 2);
  rot(env.onDisk('video/movie.par2'), 10_000);
  // Damage in a parity file does not matter while the data is sound.
  const pdir = path.join(env.disk, '.blaine', 'parity', env.lib, 'photos');
  rot(path.join(pdir, fs.readdirSync(pdir).find((n) => n.startsWith('b.jpg.'))!), 100);
  const damaged = fileSha(env.onDisk('photos/a.jpg'));
  const before = snapshot(env.disk);

  const { r, s } = restore(env, `${env.lib}/*`);
  assert.equal(r.status, 0, r.stderr);
  const total = { files: ALL.length, bytes: 300_044 };
  assert.deepEqual(s, {
    restored: ALL.length,
    repaired: 3,
    failed: 0,
    skipped: 0,
    done: true,
    total,
    inTarget: total,
    left: [],
    elsewhere: [],
    dryRun: false,
    plan: false,
    failures: [],
  });
  assertRestored(env, ALL);
  assert.equal(fs.statSync(env.restored('photos/a.jpg')).ino, fs.statSync(env.restored('photos/a-hardlink.jpg')).ino, 'a hardlink group is restored as hardlinks');
  assert.equal(fs.statSync(env.restored('photos/b.jpg')).nlink, 1);
  assert.deepEqual(fs.readdirSync(env.out), [env.lib.split('/')[1]], 'no scratch left in the target');

  assert.deepEqual(snapshot(env.disk), before, 'the disk, its catalogs included, is exactly as it was');
  assert.equal(fileSha(env.onDisk('photos/a.jpg')), damaged, 'the disk keeps its damage for verify --fix');

  // A glob picks files by absolute path; * crosses /.
  fs.rmSync(env.out, { recursive: true });
  const some = restore(env, `${env.lib}/photos/a*`, '*.flac');
  assert.equal(some.r.status, 0, some.r.stderr);
  assert.equal(some.s.restored, 3);
  assert.deepEqual(fs.readdirSync(path.join(env.out, env.lib)).sort(), ['music', 'photos']);
});

test('restore --dry-run writes nothing; existing targets are skipped, or replaced with --overwrite', (t) => {
  const env = setup();
  t.after(env.cleanup);
  makeLibrary(env.lib);
  backup(env, ['--json', '--init'], { disk: env.disk, lib: env.lib, ok: true });
  const dry = restore(env, '--dry-run', '*');
  assert.equal(dry.r.status, 0, dry.r.stderr);
  assert.equal(dry.s.restored, ALL.length);
  assert.equal(fs.existsSync(env.out), false, 'a dry run makes not even the target directory');

  const human = blaine(['restore', '--dest', env.disk, '--db', env.db, '--to', env.out, '--dry-run', '-v', `${env.lib}/photos/*`]);
  assert.equal(human.status, 0);
  assert.match(human.stdout, /would link .*a\.jpg to .*a-hardlink\.jpg/);
  assert.match(human.stdout, /dry run: would restore 3 file\(s\) \(150 KB\) from "disk"/);
  assert.match(human.stdout, /\nthen nothing would be left\n$/);

  assert.equal(restore(env, '*').r.status, 0);
  fs.writeFileSync(env.restored('photos/b.jpg'), 'changed since');
  fs.rmSync(env.restored('docs/dangling'));
  const again = restore(env, '*');
  assert.equal(again.r.status, 0, again.r.stderr);
  assert.equal(again.s.skipped, 1, 'the changed file is left alone');
  assert.equal(again.s.restored, 1, 'only the missing symlink; what is in place as catalogued is not touched');
  assert.equal(fs.readFileSync(env.restored('photos/b.jpg'), 'utf8'), 'changed since', 'not overwritten');
  const over = restore(env, '--overwrite', '*');
  assert.equal(over.r.status, 0, over.r.stderr);
  assert.equal(over.s.restored, 1, 'only the file that differs is replaced');
  assert.equal(over.s.skipped, 0);
  assertRestored(env, ALL);
  assert.equal(fs.statSync(env.restored('photos/a.jpg')).ino, fs.statSync(env.restored('photos/a-hardlink.jpg')).ino);
});

test('restore prints the plan for files on other disks; damage beyond parity fails (exit 4) without losing the rest', (t) => {
  const env = setup();
  t.after(env.cleanup);
  makeLibrary(env.lib);
  backup(env, ['--json', '--init', '--label', 'A'], { disk: env.disk, lib: env.lib, ok: true });
  const lib2 = path.join(env.base, 'lib2');
  const diskB = path.join(env.base, 'diskB');
  fs.mkdirSync(diskB);
  write(path.join(lib2, 'one.bin'), crypto.randomBytes(1000), T);
  write(path.join(lib2, 'sub/two.bin'), crypto.randomBytes(2500), T);
  backup(env, ['--json', '--init', '--label', 'B'], { disk: diskB, lib: lib2, ok: true });
  const b = volumeOf(diskB);

  const both = restore(env, `${env.base}/lib*/*`);
  assert.equal(both.r.status, 0, both.r.stderr);
  assert.equal(both.s.restored, ALL.length);
  assert.deepEqual(both.s.elsewhere, [{ volume: b.volume, label: 'B', files: 2, bytes: 3500 }]);
  const human = blaine(['restore', '--dest', env.disk, '--db', env.db, '--to', path.join(env.base, 'h'), `${lib2}/*`]);
  assert.equal(human.status, 0, 'files held elsewhere do not make it fail');
  assert.match(human.stdout, /restored 0 file\(s\) \(0 B\) from "A"/);
  assert.match(human.stdout, /\nleft: mount "B" \(2 file\(s\), 3\.5 KB\)\n$/);

  const nothing = blaine(['restore', '--dest', env.disk, '--db', env.db, '--to', env.out, '/no/such/*']);
  assert.equal(nothing.status, 1);
  assert.equal(nothing.stderr, 'blaine: nothing in the host catalog matches /no/such/*\n');

  // 30% of a file overwritten: more than its 10% parity can repair.
  const fd = fs.openSync(env.onDisk('photos/b.jpg'), 'r+');
  fs.writeSync(fd, crypto.randomBytes(15_000), 0, 15_000, 1000);
  fs.closeSync(fd);
  const out = path.join(env.base, 'out2');
  const r = blaine(['restore', '--dest', env.disk, '--db', env.db, '--to', out, '--json', `${env.lib}/*`]);
  assert.equal(r.status, 4, r.stderr);
  const s = JSON.parse(r.stdout) as Summary & { failures: Array<{ path: string; message: string }> };
  assert.equal(s.failed, 1);
  assert.equal(s.restored, ALL.length - 1);
  assert.equal(s.failures[0]!.path, `${env.lib}/photos/b.jpg`);
  assert.match(s.failures[0]!.message, /beyond what its parity can repair/);
  assert.equal(fs.existsSync(path.join(out, env.lib, 'photos/b.jpg')), false, 'no wrong file is put in place');
  assert.equal(fileSha(path.join(out, env.lib, 'photos/a.jpg')), fileSha(path.join(env.lib, 'photos/a.jpg')));
  assert.match(r.stderr, /1 file\(s\) could not be restored correctly/);
});

test('restore user errors: one sentence, documented status', (t) => {
  const env = setup();
  t.after(env.cleanup);
  write(path.join(env.lib, 'f.txt'), 'f\n', T);
  backup(env, ['--json', '--init'], { disk: env.disk, lib: env.lib, ok: true });
  const noTo = blaine(['restore', '--dest', env.disk, '--db', env.db, '*']);
  assert.equal(noTo.status, 2);
  assert.equal(noTo.stderr, 'blaine: --to is required: name the directory to restore into\n');
  const onDisk = blaine(['restore', '--dest', env.disk, '--db', env.db, '--to', path.join(env.disk, 'restore-here'), '*']);
  assert.equal(onDisk.status, 2);
  assert.match(onDisk.stderr, /^blaine: --to .* is on the disk being restored from; a restore never writes to the disk, choose a directory elsewhere\n$/);
  const aFile = path.join(env.base, 'a-file');
  fs.writeFileSync(aFile, '');
  const toFile = blaine(['restore', '--dest', env.disk, '--db', env.db, '--to', aFile, '*']);
  assert.equal(toFile.status, 2);
  assert.equal(toFile.stderr, `blaine: --to ${aFile} is a file, not a directory: give the directory to restore into\n`);
  const both = blaine(['restore', '--dest', env.disk, '--db', env.db, '--to', env.out, '--missing-only', '--overwrite', '*']);
  assert.equal(both.status, 2);
  assert.equal(both.stderr, 'blaine: --missing-only leaves what exists alone; it cannot be given with --overwrite\n');
  const noGlob = blaine(['restore', '--dest', env.disk, '--db', env.db, '--to', env.out]);
  assert.equal(noGlob.status, 2);
  const plain = path.join(env.base, 'plain');
  fs.mkdirSync(plain);
  const notDisk = blaine(['restore', '--dest', plain, '--db', env.db, '--to', env.out, '*']);
  assert.equal(notDisk.status, 1);
  assert.match(notDisk.stderr, /^blaine: .* is not a Blaine disk; run `blaine backup --init` to make it one/);
  const missing = blaine(['restore', '--dest', path.join(env.base, 'nope'), '--db', env.db, '--to', env.out, '*']);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /does not exist or is not a directory; is the disk mounted\?/);
  for (const r of [noTo, onDisk, notDisk, missing]) assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.equal(fs.existsSync(env.out), false);
});

test('a hardlink group is linked to a member an earlier run put in the target', (t) => {
  const env = setup();
  t.after(env.cleanup);
  write(path.join(env.lib, 'a.bin'), crypto.randomBytes(50_000), T);
  fs.linkSync(path.join(env.lib, 'a.bin'), path.join(env.lib, 'link.bin'));
  write(path.join(env.lib, 'b.bin'), crypto.randomBytes(5_000), T);
  backup(env, ['--json', '--init', '--no-parity'], { disk: env.disk, lib: env.lib, ok: true });
  assert.equal(restore(env, `${env.lib}/a.bin`).r.status, 0);
  const all = restore(env, `${env.lib}/*`);
  assert.equal(all.r.status, 0, all.r.stderr);
  assert.equal(all.s.restored, 2, 'link.bin and b.bin; a.bin is in place');
  const a = fs.statSync(env.restored('a.bin'));
  assert.equal(fs.statSync(env.restored('link.bin')).ino, a.ino, 'link.bin is a hardlink of the a.bin restored before');
  assert.equal(a.nlink, 2);
  // A member restored as a separate file (by an older Blaine, or by hand) is linked too.
  fs.rmSync(env.restored('link.bin'));
  fs.copyFileSync(env.restored('a.bin'), env.restored('link.bin'));
  fs.utimesSync(env.restored('link.bin'), T, T);
  const relink = restore(env, `${env.lib}/*`);
  assert.equal(relink.r.status, 0, relink.r.stderr);
  assert.equal(fs.statSync(env.restored('link.bin')).ino, a.ino);
});

test('restore --missing-only --to / puts back exactly what is gone (a dead pool member) and leaves the rest untouched', (t) => {
  const env = setup();
  t.after(env.cleanup);
  makeLibrary(env.lib);
  backup(env, ['--json', '--init', '--no-parity'], { disk: env.disk, lib: env.lib, ok: true });
  fs.rmSync(path.join(env.lib, 'photos'), { recursive: true });
  fs.rmSync(path.join(env.lib, 'docs/dangling'));
  fs.writeFileSync(path.join(env.lib, 'music/song.flac'), 'edited since the backup');
  const before = snapshot(env.lib);
  const r = blaine(['restore', '--dest', env.disk, '--db', env.db, '--to', '/', '--missing-only', '--json', `${env.lib}/**`]);
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout) as Summary & { done: boolean };
  assert.equal(s.restored, 4, 'three photos and the symlink');
  assert.equal(s.skipped, 0);
  assert.equal(s.done, true, 'what exists counts as there');
  const after = snapshot(env.lib);
  for (const [p, meta] of before) if (!p.endsWith('/')) assert.equal(after.get(p), meta, `${p} is untouched`);
  assert.equal(fs.readFileSync(path.join(env.lib, 'music/song.flac'), 'utf8'), 'edited since the backup');
  assertRestored({ ...env, restored: (rel: string) => path.join(env.lib, rel) }, ['photos/a.jpg', 'photos/a-hardlink.jpg', 'photos/b.jpg', 'docs/dangling']);
  assert.equal(fs.statSync(path.join(env.lib, 'photos/a.jpg')).ino, fs.statSync(path.join(env.lib, 'photos/a-hardlink.jpg')).ino);
  assert.deepEqual(fs.readdirSync('/').filter((n) => n.startsWith('.blaine')), [], 'nothing of the restore left in /');
});

test('restore writes only inside --to: a ".." row, a folder that became a symlink, a symlink in the target', (t) => {
  const env = setup();
  t.after(env.cleanup);
  const outside = path.join(env.base, 'outside');
  fs.mkdirSync(outside);
  write(path.join(env.lib, 'album/photo.jpg'), crypto.randomBytes(3000), T);
  write(path.join(env.lib, 'keep/k.txt'), 'k\n', T);
  backup(env, ['--json', '--init', '--label', 'A', '--no-parity'], { disk: env.disk, lib: env.lib, ok: true });
  // (b) the folder becomes a symlink to a folder outside, backed up to another disk.
  fs.rmSync(path.join(env.lib, 'album'), { recursive: true });
  fs.symlinkSync(outside, path.join(env.lib, 'album'));
  const diskB = path.join(env.base, 'diskB');
  fs.mkdirSync(diskB);
  backup(env, ['--json', '--init', '--label', 'B', '--no-parity'], { disk: diskB, lib: env.lib, ok: true });
  for (const d of [diskB, env.disk]) {
    const r = blaine(['restore', '--dest', d, '--db', env.db, '--to', env.out, `${env.lib}/**`]);
    assert.equal(r.status, 0, r.stderr);
  }
  assert.deepEqual(fs.readdirSync(outside), [], 'nothing written through the restored symlink');
  assert.equal(fs.readlinkSync(env.restored('album')), outside);
  assert.equal(fs.readFileSync(env.restored('keep/k.txt'), 'utf8'), 'k\n');

  // (c) a symlink already in the target where the restore descends.
  const out2 = path.join(env.base, 'out2');
  fs.mkdirSync(path.join(out2, env.lib), { recursive: true });
  fs.symlinkSync(outside, path.join(out2, env.lib, 'keep'));
  const c = blaine(['restore', '--dest', env.disk, '--db', env.db, '--to', out2, '--json', `${env.lib}/**`]);
  assert.equal(c.status, 1, c.stderr);
  assert.match(JSON.parse(c.stdout).failures[0].message, /is a symlink where a folder should be; a restore does not follow it/);
  assert.match(c.stderr, /not restored: the restore writes only inside .* and never through a link/);
  assert.deepEqual(fs.readdirSync(outside), [], 'nothing written through a symlink found in the target');

  // (a) a catalog row with ".." components (catalogs can come from a disk).
  const h = new Database(env.db);
  h.prepare(`UPDATE entries SET path = ${storedForRow('CAST(? AS BLOB)')} WHERE ${ROW_FULL_PATH} = CAST(? AS BLOB)`).run(`${env.lib}/keep/../../../pwned`, `${env.lib}/keep/k.txt`);
  h.close();
  const out3 = path.join(env.base, 'out3');
  const a = blaine(['restore', '--dest', env.disk, '--db', env.db, '--to', out3, `${env.base}/**`]);
  assert.equal(a.status, 1, a.stderr);
  assert.match(a.stderr, /keep\/\.\.\/\.\.\/\.\.\/pwned: not restored: the catalog's path cannot be used \(it holds a "\.\." component\)/);
  assert.ok(!fs.existsSync(path.join(env.base, '..', 'pwned')) && !fs.existsSync(path.join(out3, 'pwned')), 'nothing written outside the target');
  assert.equal(fs.readlinkSync(path.join(out3, env.lib, 'album')), outside, 'the valid rows are restored');
});

test('restore without a host catalog says to rebuild it, in one sentence, and writes nothing', (t) => {
  const env = setup();
  t.after(env.cleanup);
  write(path.join(env.lib, 'f.txt'), 'f\n', T);
  backup(env, ['--json', '--init', '--label', 'A'], { disk: env.disk, lib: env.lib, ok: true });
  fs.rmSync(path.dirname(env.db), { recursive: true });
  const r = blaine(['restore', '--dest', env.disk, '--db', env.db, '--to', env.out, '*']);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `blaine: there is no host catalog at ${env.db}, but ${env.disk} is the Blaine disk "A": run \`blaine rebuild-catalog --dest ${env.disk}\` to make it again from the disk\n`);
  const plan = blaine(['restore', '--plan', '--db', env.db, '--to', env.out, '*']);
  assert.equal(plan.status, 1);
  assert.match(plan.stderr, /^blaine: there is no host catalog at .*: run `blaine rebuild-catalog --dest DISK` with the newest disk first\n$/);
  assert.ok(!fs.existsSync(env.out) && !fs.existsSync(env.db));
});
