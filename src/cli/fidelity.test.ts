/**
 * Every file comes back exactly as it was. One end-to-end test per way a file could come back
 * wrong, through the real executable on real temporary trees.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  assertArchiveHolds,
  backup,
  assertDiskMatchesCatalog,
  blaine,
  blaineBin,
  fidelityOf,
  isRoot,
  mountTmpfs,
  readTree,
  rows,
  summaryOf,
  testEnv,
  unmount,
  write,
  collectWarnings,
} from '../../test/helpers.js';
import { executePlan, scanDataPaths } from '../backup/backup.js';
import { Catalog } from '../catalog/catalog.js';
import { acquireDiskLock } from '../archive/lock.js';
import { realFs } from '../fsx/fsx.js';

/** Every backup of these tests: the JSON summary, no parity. */
const RUN_FLAGS = ['--json', '--no-parity'];

type Env = ReturnType<typeof testEnv>;

function restoreAll(env: Env, to: string) {
  return blaine(['restore', '--dest', env.disk, '--db', env.db, '--to', to, '*']);
}

/** The library compared with a full restore of it (restored at DIR/<absolute path>). */
function assertRestoreEqualsLibrary(env: Env, to: string): void {
  const r = restoreAll(env, to);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(fidelityOf(path.join(to, env.lib.slice(1))), fidelityOf(env.lib));
}

function withEnv(fn: (env: Env) => void | Promise<void>) {
  return async () => {
    const env = testEnv('blaine-fidelity-');
    try {
      await fn(env);
    } finally {
      env.cleanup();
    }
  };
}

const T = new Date('2022-02-02T02:02:02Z');

test('equal-size equal-mtime files that swap names or rotate are followed, and restore gives each name its bytes', withEnv((env) => {
  for (const n of ['a', 'b', 'c', 'p', 'q']) write(path.join(env.lib, `${n}.raw`), `content of ${n}\n`, T);
  assert.equal(backup(env, [...RUN_FLAGS, '--init']).status, 0);
  const at = (n: string) => path.join(env.lib, `${n}.raw`);
  // swap p and q through a third name
  fs.renameSync(at('p'), at('t'));
  fs.renameSync(at('q'), at('p'));
  fs.renameSync(at('t'), at('q'));
  // rotate a -> b -> c -> a
  fs.renameSync(at('a'), at('t'));
  fs.renameSync(at('c'), at('a'));
  fs.renameSync(at('b'), at('c'));
  fs.renameSync(at('t'), at('b'));
  const log = path.join(env.base, 'run.log');
  const second = backup(env, [...RUN_FLAGS, '--log-file', log]);
  assert.equal(second.status, 0, second.stderr);
  assert.equal(summaryOf(second).renamed, 5, second.stdout);
  assert.match(fs.readFileSync(log, 'utf8'), /planned \(5 file\(s\) read to decide\)/, 'each cross-matched file read once');
  assertDiskMatchesCatalog(env.disk, env.db);
  assertArchiveHolds(env.lib, [env.disk]);
  // and no later run believes otherwise
  assert.equal(summaryOf(backup(env, RUN_FLAGS)).renamed, 0);
  assertRestoreEqualsLibrary(env, path.join(env.base, 'restored'));
}));

test('a mass inode renumbering (a copy of the whole tree) re-reads nothing and changes nothing on the disk', withEnv((env) => {
  for (let i = 0; i < 30; i++) write(path.join(env.lib, `d${i % 3}`, `f${i}`), `same size ${String(i).padStart(3, '0')}`, T);
  assert.equal(backup(env, [...RUN_FLAGS, '--init']).status, 0);
  const before = readTree(env.disk);
  const copy = path.join(env.base, 'lib2');
  assert.equal(spawnSync('cp', ['-a', env.lib, copy]).status, 0);
  fs.rmSync(env.lib, { recursive: true });
  fs.renameSync(copy, env.lib);
  const log = path.join(env.base, 'run.log');
  const r = backup(env, [...RUN_FLAGS, '--log-file', log]);
  assert.equal(r.status, 0, r.stderr);
  const s = summaryOf(r);
  assert.deepEqual([s.unchanged, s.renamed, s.modified, s.added, s.bytesCopied], [30, 0, 0, 0, 0]);
  assert.match(fs.readFileSync(log, 'utf8'), /planned \(0 file\(s\) read to decide\)/, 'no file was read again');
  assert.deepEqual(readTree(env.disk), before);
  assertDiskMatchesCatalog(env.disk, env.db);
}));

test('--clean never deletes files that an --exclude now leaves out; they are kept and reported', withEnv((env) => {
  write(path.join(env.lib, 'keep.jpg'), 'photo', T);
  write(path.join(env.lib, 'scratch.tmp'), 'temporary but archived', T);
  assert.equal(backup(env, [...RUN_FLAGS, '--init']).status, 0);
  const r = backup(env, [...RUN_FLAGS, '--clean', '--exclude', '*.tmp']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(summaryOf(r).removed, 0, r.stdout);
  assert.ok(fs.existsSync(path.join(env.disk, env.lib, 'scratch.tmp')), 'the excluded file is still on the disk');
  assert.ok(rows(env.db).some((x) => x.path === path.join(env.lib, 'scratch.tmp')), 'and in the catalog');
  const human = blaine(['backup', '--dest', env.disk, '--db', env.db, '--no-parity', '--reserve', '0', '--clean', '--exclude', '*.tmp', env.lib]);
  assert.equal(human.status, 0, human.stderr);
  assert.match(human.stdout + human.stderr, /1 excluded/, 'the kept excluded file is reported');
  assertDiskMatchesCatalog(env.disk, env.db);
}));

test('a directory that becomes a file and a file that becomes a directory are archived in the same run', withEnv((env) => {
  write(path.join(env.lib, 'x/inner1'), 'one', T);
  write(path.join(env.lib, 'x/inner2'), 'two', T);
  write(path.join(env.lib, 'y'), 'plain file y', T);
  write(path.join(env.lib, 'w'), 'moves into a directory of its own name', T);
  write(path.join(env.lib, 'z'), 'sorted after', T);
  assert.equal(backup(env, [...RUN_FLAGS, '--init']).status, 0);
  fs.mkdirSync(path.join(env.lib, 'w.d'));
  fs.renameSync(path.join(env.lib, 'w'), path.join(env.lib, 'w.d', 'inner'));
  fs.renameSync(path.join(env.lib, 'w.d'), path.join(env.lib, 'w'));
  fs.rmSync(path.join(env.lib, 'x'), { recursive: true });
  write(path.join(env.lib, 'x'), 'x is a file now', T);
  fs.rmSync(path.join(env.lib, 'y'));
  write(path.join(env.lib, 'y/below'), 'y is a directory now', T);
  write(path.join(env.lib, 'zz'), 'new, sorted after both', T);
  // Without --clean the files archived below the former directory x are kept, so
  // the file x cannot be stored yet: said, exit 1; --clean removes them and stores it.
  const kept = backup(env, RUN_FLAGS);
  assert.equal(kept.status, 1, kept.stderr);
  assert.match(kept.stderr, /lib\/x was a folder and is now a file: the 2 archived file\(s\) below it are kept/);
  assert.equal(fs.readFileSync(path.join(env.disk, env.lib, 'x', 'inner1'), 'utf8'), 'one');
  assertDiskMatchesCatalog(env.disk, env.db);
  for (const extra of [['--clean', '--force'], []]) {
    const r = backup(env, [...RUN_FLAGS, ...extra]);
    assert.equal(r.status, 0, `${extra.join(' ')}: ${r.stderr}`);
    assertArchiveHolds(env.lib, [env.disk]);
    assertDiskMatchesCatalog(env.disk, env.db);
  }
  // a file that cannot be written (a foreign directory where it belongs) is skipped with a warning
  fs.mkdirSync(path.join(env.disk, env.lib, 'foreign'), { recursive: true });
  write(path.join(env.disk, env.lib, 'foreign', 'theirs'), 'not written by blaine');
  write(path.join(env.lib, 'foreign'), 'a file whose place on the disk is taken', T);
  write(path.join(env.lib, 'zzz'), 'after the failing one', T);
  const r = backup(env, RUN_FLAGS);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /foreign/);
  assert.ok(fs.existsSync(path.join(env.disk, env.lib, 'zzz')), 'the run went on after the failing file');
  assert.equal(fs.readFileSync(path.join(env.disk, env.lib, 'foreign', 'theirs'), 'utf8'), 'not written by blaine');
  const again = backup(env, RUN_FLAGS);
  assert.equal(again.status, 1, 'the disk stays usable; the file is still skipped');
  assert.doesNotMatch(again.stderr, /did not finish/);
}));

test('identical bytes with different mode or mtime are not merged; restore links only source hardlinks', withEnv((env) => {
  write(path.join(env.lib, 'public.txt'), 'same bytes', new Date('2020-01-01T00:00:00Z'));
  write(path.join(env.lib, 'private.txt'), 'same bytes', new Date('2023-01-01T00:00:00Z'));
  fs.chmodSync(path.join(env.lib, 'public.txt'), 0o644);
  fs.chmodSync(path.join(env.lib, 'private.txt'), 0o600);
  write(path.join(env.lib, 'twin-a'), 'same bytes', new Date('2021-01-01T00:00:00Z'));
  fs.chmodSync(path.join(env.lib, 'twin-a'), 0o644);
  fs.linkSync(path.join(env.lib, 'twin-a'), path.join(env.lib, 'twin-b'));
  assert.equal(backup(env, [...RUN_FLAGS, '--init']).status, 0);
  const onDisk = (n: string) => fs.statSync(path.join(env.disk, env.lib, n));
  assert.notEqual(onDisk('public.txt').ino, onDisk('private.txt').ino, 'different modes are stored apart');
  assert.equal(onDisk('private.txt').mode & 0o777, 0o600);
  const to = path.join(env.base, 'restored');
  assertRestoreEqualsLibrary(env, to);
  const back = (n: string) => fs.statSync(path.join(to, env.lib.slice(1), n));
  assert.notEqual(back('public.txt').ino, back('twin-a').ino, 'equal content and mode, but separate files in the library');
  assert.equal(back('twin-a').ino, back('twin-b').ino, 'source hardlinks stay linked');
  // verify checks mode too; a disk where the two names share one inode (as Blaine once stored
  // them) gets them apart again with --fix, the public name untouched
  const onDiskPath = (n: string) => path.join(env.disk, env.lib, n);
  fs.rmSync(onDiskPath('private.txt'));
  fs.linkSync(onDiskPath('public.txt'), onDiskPath('private.txt'));
  const v = blaine(['verify', '--dest', env.disk, '--db', env.db, '--json']);
  assert.equal(v.status, 4, v.stdout + v.stderr);
  // The hand edit in the disk's folder changed that folder's mtime too: verify sees it (and --fix sets it back).
  assert.deepEqual(JSON.parse(v.stdout).problems.map((p: { path: string; kind: string }) => `${path.basename(p.path)} ${p.kind}`), ['lib mtime', 'private.txt mode']);
  const fix = blaine(['verify', '--dest', env.disk, '--db', env.db, '--fix', '--json']);
  assert.equal(fix.status, 0, fix.stdout + fix.stderr);
  assert.notEqual(onDisk('private.txt').ino, onDisk('public.txt').ino);
  assert.deepEqual([onDisk('private.txt').mode & 0o777, onDisk('public.txt').mode & 0o777], [0o600, 0o644]);
  assert.equal(blaine(['verify', '--dest', env.disk, '--db', env.db, '--checksum']).status, 0);
}));

test('mtimes are kept to the nanosecond on the disk and on restore, also before 1970 and for symlinks', withEnv((env) => {
  const set = (p: string, when: string) => assert.equal(spawnSync('touch', ['-h', '-m', '-d', when, p]).status, 0);
  write(path.join(env.lib, 'modern'), 'modern');
  set(path.join(env.lib, 'modern'), '2020-09-13 12:26:40.123456789 UTC');
  write(path.join(env.lib, 'old'), 'from the sixties');
  set(path.join(env.lib, 'old'), '1966-11-01 12:00:00.987654321 UTC');
  fs.symlinkSync('modern', path.join(env.lib, 'link'));
  set(path.join(env.lib, 'link'), '2017-07-14 02:40:00.000000001 UTC');
  assert.equal(backup(env, [...RUN_FLAGS, '--init']).status, 0);
  const ns = (p: string) => fs.lstatSync(p, { bigint: true }).mtimeNs;
  for (const n of ['modern', 'old', 'link']) assert.equal(ns(path.join(env.disk, env.lib, n)), ns(path.join(env.lib, n)), `${n} on the disk`);
  assertRestoreEqualsLibrary(env, path.join(env.base, 'restored'));
}));

test('config include rules combine with command-line excludes in one ordered list', withEnv((env) => {
  write(path.join(env.lib, 'a.jpg'), 'a photo', T);
  write(path.join(env.lib, 'b.tmp'), 'temporary', T);
  write(path.join(env.lib, 'c.txt'), 'text', T);
  write(path.join(env.lib, 'd.jpg.tmp'), 'temporary photo', T);
  const cfg = path.join(env.base, 'blaine.toml');
  fs.writeFileSync(cfg, '[backup]\ninclude = ["*.jpg"]\n');
  const r = blaine(['backup', '--config', cfg, '--dest', env.disk, '--db', env.db, '--json', '--no-parity', '--reserve', '0', '--init', '--exclude', '*.tmp', env.lib]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(rows(env.db).map((x) => path.basename(x.path)), ['a.jpg']);
  const env2 = path.join(env.base, 'disk2');
  fs.mkdirSync(env2);
  fs.writeFileSync(cfg, '[backup]\nrules = ["exclude d.*", "include *.tmp"]\n');
  const db2 = path.join(env.base, 'db2.sqlite');
  const r2 = blaine(['backup', '--config', cfg, '--dest', env2, '--db', db2, '--json', '--no-parity', '--reserve', '0', '--init', env.lib]);
  assert.equal(r2.status, 0, r2.stderr);
  assert.deepEqual(rows(db2).map((x) => path.basename(x.path)), ['b.tmp']);
}));

test('FIFOs and sockets are skipped with a warning and the exit status stays 0', withEnv(async (env) => {
  write(path.join(env.lib, 'real'), 'real file', T);
  assert.equal(spawnSync('mkfifo', [path.join(env.lib, 'pipe')]).status, 0);
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(path.join(env.lib, 'sock'), resolve));
  try {
    for (const extra of [['--init'], []]) {
      const r = backup(env, [...RUN_FLAGS, ...extra]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /warning: .*pipe.*FIFO/);
      assert.match(r.stderr, /warning: .*sock.*socket/);
    }
    assert.deepEqual(rows(env.db).map((x) => path.basename(x.path)), ['real']);
  } finally {
    server.close();
  }
}));

test('a file that vanishes between the scan and its copy is simply gone, not an error', async (t) => {
  const env = testEnv('blaine-fidelity-');
  t.after(env.cleanup);
  write(path.join(env.lib, 'vanishes'), 'gone before it is copied', T);
  write(path.join(env.lib, 'stays'), 'stays', T);
  const [scan] = scanDataPaths([env.lib], undefined).scans;
  fs.rmSync(path.join(env.lib, 'vanishes'));
  fs.mkdirSync(path.join(env.disk, '.blaine'), { recursive: true });
  const disk = Catalog.open(path.join(env.disk, '.blaine', 'catalog.sqlite'), { create: true });
  const host = Catalog.open(env.db, { create: true });
  try {
    const warnings: string[] = [];
    const result = await executePlan(
      scan!.records.map((record) => ({ type: 'copy' as const, record, why: 'added' as const })),
      { fs: realFs,
        root: env.disk, volume: 'v', host, disk, parity: null, parityPct: 0, reserve: 0,
        signal: new AbortController().signal, tell: collectWarnings(warnings),
      },
    );
    assert.deepEqual(result.skipped, []);
    assert.deepEqual(warnings, []);
    assert.equal(result.counts.added, 1);
    assert.deepEqual(disk.entriesOfVolume('v').map((e) => path.basename(e.path)), ['stays']);
  } finally {
    disk.close();
    host.close();
  }
});

test('a byte-identical copy of a stored file is linked without needing free space', { skip: isRoot ? false : 'needs root to mount a small tmpfs disk' }, withEnv((env) => {
  assert.ok(mountTmpfs(env.disk, '20m'));
  try {
    const big = crypto.randomBytes(12 << 20);
    write(path.join(env.lib, 'big.raw'), big, T);
    assert.equal(backup(env, [...RUN_FLAGS, '--init']).status, 0);
    write(path.join(env.lib, 'copy-of-big.raw'), big, new Date('2023-03-03T03:03:03Z'));
    const r = backup(env, RUN_FLAGS);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(summaryOf(r).linked, 1);
    const onDisk = (n: string) => fs.statSync(path.join(env.disk, env.lib, n));
    assert.equal(onDisk('big.raw').ino, onDisk('copy-of-big.raw').ino);
    assertDiskMatchesCatalog(env.disk, env.db);
  } finally {
    unmount(env.disk);
  }
}));

test('more than 1 MB of --json output arrives whole through a slowly read pipe', withEnv((env) => {
  const long = 'a-rather-long-directory-name-to-make-every-row-of-the-listing-big'.repeat(2);
  for (let i = 0; i < 3000; i++) write(path.join(env.lib, long, `file-number-${i}`), String(i), T);
  assert.equal(backup(env, [...RUN_FLAGS, '--init']).status, 0);
  // the reader takes nothing for a second, long after a careless process would have exited
  const cmd = `"$0" "$1" list --db "$2" --json | (sleep 1; cat)`;
  const r = spawnSync('sh', ['-c', cmd, process.execPath, blaineBin, env.db], { maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, String(r.stderr));
  const text = r.stdout.toString('utf8');
  assert.ok(text.length > 1_000_000, `only ${text.length} bytes`);
  assert.equal(JSON.parse(text).length, 3000);
}));

test('readers (restore, list --dest, verify) take a shared lock and are refused while a writer holds the disk', withEnv((env) => {
  write(path.join(env.lib, 'f'), 'content', T);
  assert.equal(backup(env, [...RUN_FLAGS, '--init']).status, 0);
  const release = acquireDiskLock(env.disk);
  try {
    const busy = /in use by .*pid \d+/;
    const r = restoreAll(env, path.join(env.base, 'restored'));
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, busy);
    const l = blaine(['list', '--dest', env.disk]);
    assert.equal(l.status, 1, l.stderr);
    assert.match(l.stderr, busy);
    const v = blaine(['verify', '--dest', env.disk, '--db', env.db]);
    assert.equal(v.status, 1, v.stderr);
    assert.match(v.stderr, busy);
  } finally {
    release();
  }
  // two readers at once are fine
  const reader = acquireDiskLock(env.disk, { shared: true });
  try {
    const r = restoreAll(env, path.join(env.base, 'restored'));
    assert.equal(r.status, 0, r.stderr);
  } finally {
    reader();
  }
}));
