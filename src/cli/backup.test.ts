import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  assertArchiveHolds,
  backup,
  assertDiskMatchesCatalog,
  blaine,
  tmpfsEnv,
  readTree,
  rows,
  summaryOf,
  testEnv,
  unmount,
  volumeOf,
  write,
} from '../../test/helpers.js';
import { acquireDiskLock } from '../archive/lock.js';

/** Every backup of these tests: the JSON summary, no parity. */
const RUN_FLAGS = ['--json', '--no-parity'];

const setup = () => testEnv();

function makeLibrary(lib: string): void {
  const t = new Date('2021-05-06T07:08:09.123Z');
  write(path.join(lib, 'photos/2019/a.jpg'), crypto.randomBytes(100_000), t);
  write(path.join(lib, 'photos/2019/b.jpg'), crypto.randomBytes(50_000), t);
  write(path.join(lib, 'music/one two.mp3'), crypto.randomBytes(30_000), t);
  write(path.join(lib, `docs/it's "quoted".txt`), 'quotes\n', t);
  write(path.join(lib, 'docs/über/ñandú.txt'), 'non-ascii\n', t);
  write(path.join(lib, 'x/a'), 'one character name\n', t);
  write(path.join(lib, 'video/movie.par2'), crypto.randomBytes(20_000), t);
  write(path.join(lib, 'empty'), '', t);
  fs.symlinkSync('../photos/2019/a.jpg', path.join(lib, 'docs/rel-link'));
  fs.symlinkSync('/etc/hostname', path.join(lib, 'docs/abs-link'));
  fs.symlinkSync('nowhere/at/all', path.join(lib, 'docs/dangling'));
  fs.linkSync(path.join(lib, 'photos/2019/a.jpg'), path.join(lib, 'photos/a-hardlink.jpg'));
  fs.copyFileSync(path.join(lib, 'photos/2019/b.jpg'), path.join(lib, 'photos/b-duplicate.jpg'));
}

/** Every entry below dir with its size and mtime: what "changes nothing" is checked against. */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      out.push(`${p} ${st.size} ${st.mtimeMs}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

function check(env: ReturnType<typeof setup>): void {
  assertDiskMatchesCatalog(env.disk, env.db);
  assertArchiveHolds(env.lib, [env.disk]);
}

test('backup end to end: first run, no-change rerun, renames, swaps, edits, links, deletes', (t) => {
  const env = setup();
  t.after(env.cleanup);
  makeLibrary(env.lib);
  const first = backup(env, [...RUN_FLAGS, '--init', '--label', 'A']);
  assert.equal(first.status, 0, first.stderr);
  const s1 = summaryOf(first);
  // 10 files and 3 symlinks; the hardlink and the duplicate are linked, not copied
  assert.equal(s1.added, 11);
  assert.equal(s1.linked, 2);
  assert.equal(s1.bytesCopied, 100_000 + 50_000 + 30_000 + 20_000 + 7 + 10 + 19);
  check(env);
  const onDisk = readTree(env.disk);
  const p = env.lib.slice(1);
  assert.equal(onDisk.get(`${p}/photos/a-hardlink.jpg`)!.ino, onDisk.get(`${p}/photos/2019/a.jpg`)!.ino, 'hardlink kept');
  assert.equal(onDisk.get(`${p}/photos/b-duplicate.jpg`)!.ino, onDisk.get(`${p}/photos/2019/b.jpg`)!.ino, 'duplicate stored once');
  assert.ok(!fs.existsSync(path.join(env.disk, '.blaine/parity', p, 'video')), 'no parity with --no-parity');
  const st = fs.lstatSync(path.join(env.disk, p, 'music/one two.mp3'));
  assert.equal(st.mtime.toISOString(), '2021-05-06T07:08:09.123Z', 'mtime preserved');

  const again = backup(env, RUN_FLAGS);
  assert.equal(again.status, 0, again.stderr);
  const s2 = summaryOf(again);
  assert.equal(s2.bytesCopied, 0);
  assert.equal(s2.added, 0);
  assert.equal(s2.unchanged, 13);
  check(env);

  // rename, move across directories, swap, in-place edit with the same size, new hardlink, duplicate
  fs.renameSync(path.join(env.lib, 'music/one two.mp3'), path.join(env.lib, 'music/three.mp3'));
  fs.mkdirSync(path.join(env.lib, 'archive'));
  fs.renameSync(path.join(env.lib, 'x/a'), path.join(env.lib, 'archive/a'));
  fs.renameSync(path.join(env.lib, 'photos/2019/a.jpg'), path.join(env.lib, 'tmp-swap'));
  fs.renameSync(path.join(env.lib, 'photos/2019/b.jpg'), path.join(env.lib, 'photos/2019/a.jpg'));
  fs.renameSync(path.join(env.lib, 'tmp-swap'), path.join(env.lib, 'photos/2019/b.jpg'));
  const edited = path.join(env.lib, 'video/movie.par2');
  const fd = fs.openSync(edited, 'r+');
  fs.writeSync(fd, Buffer.from('CHANGED'), 0, 7, 100);
  fs.closeSync(fd);
  fs.linkSync(path.join(env.lib, 'music/three.mp3'), path.join(env.lib, 'music/three-link.mp3'));
  fs.copyFileSync(path.join(env.lib, 'docs/über/ñandú.txt'), path.join(env.lib, 'docs/copy.txt'));
  const third = backup(env, RUN_FLAGS);
  assert.equal(third.status, 0, third.stderr);
  const s3 = summaryOf(third);
  assert.equal(s3.renamed, 4, 'two renames and a swap');
  assert.equal(s3.modified, 1, 'the in-place edit');
  assert.equal(s3.linked, 2, 'new hardlink and duplicate');
  assert.equal(s3.bytesCopied, 20_000, 'only the edited file is copied');
  check(env);

  // deletes: kept without --clean, removed with it
  fs.rmSync(path.join(env.lib, 'docs/copy.txt'));
  const keep = backup(env, RUN_FLAGS);
  assert.equal(keep.status, 0, keep.stderr);
  assert.equal(summaryOf(keep).missing, 1);
  assert.ok(rows(env.db).some((r) => r.path.endsWith('docs/copy.txt')), 'kept in the catalog');
  assertDiskMatchesCatalog(env.disk, env.db);
  const clean = backup(env, [...RUN_FLAGS, '--clean', '--max-delete', '50']);
  assert.equal(clean.status, 0, clean.stderr);
  assert.equal(summaryOf(clean).removed, 1);
  assert.ok(!rows(env.db).some((r) => r.path.endsWith('docs/copy.txt')));
  check(env);
  assert.ok(fs.existsSync(path.join(env.disk, env.lib, 'docs/über/ñandú.txt')), 'the twin of the removed duplicate stays');
});

test('mass-delete guard: an emptied data path removes nothing and exits 1', (t) => {
  const env = setup();
  t.after(env.cleanup);
  for (let i = 0; i < 10; i++) write(path.join(env.lib, `f${i}`), `file ${i}\n`);
  assert.equal(backup(env, [...RUN_FLAGS, '--init']).status, 0);
  for (let i = 0; i < 5; i++) fs.rmSync(path.join(env.lib, `f${i}`));
  const r = backup(env, [...RUN_FLAGS, '--clean']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /nothing removed: the run would remove 5 of the 10 files/);
  assert.equal(rows(env.db).length, 10);
  assertDiskMatchesCatalog(env.disk, env.db);
  const forced = backup(env, [...RUN_FLAGS, '--clean', '--force']);
  assert.equal(forced.status, 0, forced.stderr);
  assert.equal(rows(env.db).length, 5);
  check(env);
});

test('dry run prints the plan and changes nothing anywhere', (t) => {
  const env = setup();
  t.after(env.cleanup);
  write(path.join(env.lib, 'a.txt'), 'hello\n');
  const r = blaine(['backup', '--dest', env.disk, '--db', env.db, '--init', '--dry-run', '--no-parity', env.lib]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /add +.*a\.txt/);
  assert.deepEqual(fs.readdirSync(env.disk), []);
  assert.ok(!fs.existsSync(env.db));
  // on a disk in use: neither the disk nor the host catalog's folder changes at all
  assert.equal(backup(env, [...RUN_FLAGS, '--init']).status, 0);
  write(path.join(env.lib, 'b.txt'), 'new\n');
  const snapshot = () => [env.disk, path.dirname(env.db)].map((d) => listing(d));
  const before = snapshot();
  const again = blaine(['backup', '--dest', env.disk, '--db', env.db, '--dry-run', '--no-parity', '--clean', env.lib]);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /add +.*b\.txt/);
  assert.deepEqual(snapshot(), before);
});

test('disk identity: uninitialised disk refused, --init twice refused, missing disk', (t) => {
  const env = setup();
  t.after(env.cleanup);
  write(path.join(env.lib, 'a.txt'), 'hello\n');
  const un = backup(env, RUN_FLAGS);
  assert.equal(un.status, 1);
  assert.match(un.stderr, /not a Blaine disk.*--init/);
  assert.doesNotMatch(un.stderr, /at .*\.js/, 'no stack trace');
  assert.equal(backup(env, [...RUN_FLAGS, '--init']).status, 0);
  const twice = backup(env, [...RUN_FLAGS, '--init']);
  assert.equal(twice.status, 1);
  assert.match(twice.stderr, /already/);
  const missing = blaine(['backup', '--dest', path.join(env.base, 'nope'), '--db', env.db, '--no-parity', env.lib]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /does not exist|not a directory/);
  const noDest = blaine(['backup', '--db', env.db, env.lib]);
  assert.equal(noDest.status, 2);
  const selfArchive = blaine(['backup', '--dest', env.disk, '--db', env.db, '--no-parity', env.base]);
  assert.equal(selfArchive.status, 2);
  assert.match(selfArchive.stderr, /lies inside the data path/);
});

test('without par2, backup stops before writing anything and says what to install', (t) => {
  const env = setup();
  t.after(env.cleanup);
  write(path.join(env.lib, 'a.txt'), 'hello\n');
  const r = blaine(['backup', '--init', '--dest', env.disk, '--db', env.db, '--par2-command', path.join(env.base, 'no-such-par2'), env.lib]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /is not installed; install it \(Debian: apt-get install par2\) or pass --no-parity/);
  assert.deepEqual(fs.readdirSync(env.disk), [], 'the disk was not even initialised');
  assert.ok(!fs.existsSync(env.db));
});

test('a second concurrent run is refused with a clear message', (t) => {
  const env = setup();
  t.after(env.cleanup);
  write(path.join(env.lib, 'a.txt'), 'hello\n');
  assert.equal(backup(env, [...RUN_FLAGS, '--init']).status, 0);
  // this test process plays the other run, holding the disk's lock
  const release = acquireDiskLock(env.disk);
  try {
    const r = backup(env, RUN_FLAGS);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /in use by another Blaine run/);
  } finally {
    release();
  }
  assert.equal(backup(env, RUN_FLAGS).status, 0, 'runs again once the lock is released');
});

test('config file: options from TOML, the command line wins, unknown keys and bad TOML are usage errors', (t) => {
  const env = setup();
  t.after(env.cleanup);
  write(path.join(env.lib, 'keep.txt'), 'keep\n');
  write(path.join(env.lib, 'skip.tmp'), 'skip\n');
  const cfg = path.join(env.base, 'blaine.toml');
  fs.writeFileSync(cfg, `db = "${env.db}"\ndest = "${env.disk}"\nno_parity = true\nreserve = "0"\n[backup]\nexclude = ["*.tmp"]\n`);
  const r = blaine(['backup', '--config', cfg, '--init', '--json', env.lib]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(rows(env.db).map((x) => path.basename(x.path)), ['keep.txt']);
  fs.writeFileSync(cfg, `dbx = "x"\n`);
  const unknown = blaine(['backup', '--config', cfg, '--dest', env.disk, env.lib]);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown setting "dbx"/);
  fs.writeFileSync(cfg, `db = \n`);
  const broken = blaine(['backup', '--config', cfg, '--dest', env.disk, env.lib]);
  assert.equal(broken.status, 2);
  assert.match(broken.stderr, /not valid TOML/);
});

test('a full disk stops the run with status 3 and a catalog that matches the disk', (t) => {
  const env = tmpfsEnv(t, '3m');
  if (!env) return;
  for (let i = 0; i < 10; i++) write(path.join(env.lib, `big${i}.bin`), crypto.randomBytes(500_000));
  const r = backup(env, [...RUN_FLAGS, '--init']);
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /full/);
  const s = summaryOf(r);
  assert.equal(s.diskFull, true);
  assert.ok((s.added as number) >= 2 && (s.added as number) < 10, `added ${s.added}`);
  assertDiskMatchesCatalog(env.disk, env.db);
});

test('a full disk of small files (copied ahead in batches) stops with status 3, a catalog that matches the disk and no temporary file left', (t) => {
  const env = tmpfsEnv(t, '3m');
  if (!env) return;
  for (let i = 0; i < 300; i++) write(path.join(env.lib, `d${i % 7}`, `small${i}.bin`), crypto.randomBytes(20_000 + i));
  const r = backup(env, [...RUN_FLAGS, '--init']);
  assert.equal(r.status, 3, r.stderr);
  const s = summaryOf(r);
  assert.equal(s.diskFull, true);
  assert.ok((s.added as number) >= 20 && (s.added as number) < 300, `added ${s.added}`);
  assert.equal(rows(env.db).length, s.added);
  assertDiskMatchesCatalog(env.disk, env.db);
  assert.deepEqual(fs.readdirSync(path.join(env.disk, '.blaine', 'tmp')), []);
});
