// Crash at every step: a backup full of swaps, rotations, moves, replacements, links and
// deletes is killed (SIGKILL through the fault layer, as a power cut would leave it) after the Nth
// call of one kind, for every N until the run gets through; each time a plain rerun must leave the
// disk equal to its catalog, every library file on the disk bit-exact, and verify --checksum clean.
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { assertArchiveHolds, assertDiskMatchesCatalog, blaine, rows, testEnv, write, type FolderCheck } from '../../test/helpers.js';
import { crashEveryStep, ONE_SCAN_THREAD as SCAN } from '../../test/crash.js';

const BASE_TIME = Date.parse('2020-01-01T00:00:00Z');

function backupArgs(env: ReturnType<typeof testEnv>, disk: string, db: string, extra: string[] = []): string[] {
  return ['backup', '--dest', disk, '--db', db, '--reserve', '0', '--no-parity', '--clean', '--max-delete', '100', ...extra, env.lib];
}

/** Equal sizes: the files of a swap or rotation fit each other's places. */
function before(lib: string): void {
  let i = 0;
  for (const n of ['a', 'b', 'c1', 'c2', 'c3']) write(path.join(lib, 'same', `${n}.bin`), crypto.randomBytes(30_000), new Date(BASE_TIME + 1000 * i++));
  write(path.join(lib, 'move', 'd.bin'), crypto.randomBytes(20_000));
  write(path.join(lib, 'e.bin'), crypto.randomBytes(10_000));
  write(path.join(lib, 'f.bin'), crypto.randomBytes(10_000));
  fs.symlinkSync('e.bin', path.join(lib, 'link-to-e'));
}

function change(lib: string): void {
  const p = (n: string) => path.join(lib, 'same', `${n}.bin`);
  const park = path.join(lib, 'park');
  fs.renameSync(p('a'), park);
  fs.renameSync(p('b'), p('a'));
  fs.renameSync(park, p('b'));
  fs.renameSync(p('c3'), park);
  fs.renameSync(p('c2'), p('c3'));
  fs.renameSync(p('c1'), p('c2'));
  fs.renameSync(park, p('c1'));
  fs.mkdirSync(path.join(lib, 'moved'));
  fs.renameSync(path.join(lib, 'move', 'd.bin'), path.join(lib, 'moved', 'd.bin'));
  write(path.join(lib, 'e.bin'), crypto.randomBytes(12_000));
  fs.rmSync(path.join(lib, 'f.bin'));
  fs.linkSync(path.join(lib, 'moved', 'd.bin'), path.join(lib, 'd-link.bin'));
  fs.renameSync(path.join(lib, 'link-to-e'), path.join(lib, 'link-renamed'));
  write(path.join(lib, 'new.bin'), crypto.randomBytes(5_000));
}

/** The invariants after every rerun: each disk equals its catalog, no path on two volumes, verify clean. */
function assertConsistent(env: ReturnType<typeof testEnv>, disks: string[], where: string, folders: FolderCheck = {}): void {
  try {
    for (const d of disks) assertDiskMatchesCatalog(d, env.db, { hostMayHaveMore: disks.length > 1 });
    assertArchiveHolds(env.lib, disks, folders);
    const owners = new Map<string, string>();
    for (const r of rows(env.db)) {
      const other = owners.get(r.path);
      assert.ok(other === undefined || other === r.volume, `${r.path} is claimed by two volumes`);
      owners.set(r.path, r.volume);
    }
  } catch (err) {
    (err as Error).message = `${where}: ${(err as Error).message}`;
    throw err;
  }
  for (const d of disks) {
    const tmp = path.join(d, '.blaine', 'tmp');
    assert.deepEqual(fs.existsSync(tmp) ? fs.readdirSync(tmp) : [], [], `${where}: leftovers in .blaine/tmp`);
    assert.ok(!fs.existsSync(path.join(d, '.blaine', 'journal')), `${where}: the journal was left open`);
    const v = blaine(['verify', '--checksum', '--dest', d, '--db', env.db]);
    assert.equal(v.status, 0, `${where}: verify ${d}: ${v.stdout}${v.stderr}`);
  }
}

/** The host catalog lists exactly the copies on `disks`: none left behind by a run that was killed. */
function assertCopiesAre(db: string, disks: string[], where: string): void {
  const host = new Database(db, { readonly: true });
  let listed: string[];
  try {
    listed = (host.prepare('SELECT copy FROM copies ORDER BY copy').all() as Array<{ copy: string }>).map((r) => r.copy);
  } finally {
    host.close();
  }
  const onDisks = disks.map((d) => (JSON.parse(fs.readFileSync(path.join(d, '.blaine', 'volume.json'), 'utf8')) as { copy: string }).copy).sort();
  assert.deepEqual(listed, onDisks, `${where}: the host catalog's copies are not the disks' copies`);
  const shown = blaine(['disks', '--db', db, '--json']);
  assert.equal(shown.status, 0, `${where}: disks: ${shown.stderr}`);
  const shownCopies = [...shown.stdout.matchAll(/"copy":\s*"([^"]+)"/g)].map((m) => m[1]).sort();
  assert.deepEqual(shownCopies, onDisks, `${where}: disks shows other copies than the disks hold`);
}

// utimes: mtimes set on copies, links and moves; copyfile: the catalog snapshots at the end of a run.
const KINDS = ['rename', 'unlink', 'link', 'write', 'fsync', 'syncfs', 'utimes', 'copyfile'];

for (const kind of KINDS) {
  test(`backup killed after every ${kind} call: the rerun completes or undoes each step, nothing lost`, (t) => {
    const env = testEnv('blaine-crash-');
    t.after(env.cleanup);
    before(env.lib);
    const first = blaine(backupArgs(env, env.disk, env.db, ['--init']), { env: SCAN });
    assert.equal(first.status, 0, first.stderr);
    change(env.lib);
    const n = crashEveryStep(env, kind, [env.disk, env.db], backupArgs(env, env.disk, env.db), (where) => assertConsistent(env, [env.disk], where));
    t.diagnostic(`backup, ${kind}: ${n} crash points`);
  });
}

test('backup with parity killed after every rename call: parity installs and moves are steps too', (t) => {
  const env = testEnv('blaine-crash-');
  t.after(env.cleanup);
  before(env.lib);
  const withParity = (extra: string[] = []) => backupArgs(env, env.disk, env.db, extra).filter((a) => a !== '--no-parity');
  const first = blaine(withParity(['--init']), { env: SCAN });
  assert.equal(first.status, 0, first.stderr);
  change(env.lib);
  const n = crashEveryStep(env, 'rename', [env.disk, env.db], withParity(), (where) => {
    assertConsistent(env, [env.disk], where);
    assertDiskMatchesCatalog(env.disk, env.db, { parity: true });
  });
  t.diagnostic(`backup with parity, rename: ${n} crash points`);
});

/** Volume B holds the library and is offline; A gets what changed, B's share is deferred. */
function withOfflineVolume(env: ReturnType<typeof testEnv>, opts: { parityOnB?: boolean } = {}) {
  const B = path.join(env.base, 'B');
  fs.mkdirSync(B);
  before(env.lib);
  const init = backupArgs(env, B, env.db, ['--init']);
  const first = blaine(opts.parityOnB ? init.filter((a) => a !== '--no-parity') : init, { env: SCAN });
  assert.equal(first.status, 0, first.stderr);
  const a = blaine(backupArgs(env, env.disk, env.db, ['--init']), { env: SCAN });
  assert.equal(a.status, 0, a.stderr);
  change(env.lib);
  return B;
}

for (const kind of ['unlink', 'write', 'fsync', 'syncfs']) {
  test(`backup with an offline volume killed after every ${kind} call: deferred actions survive, then apply works`, (t) => {
    const env = testEnv('blaine-crash-');
    t.after(env.cleanup);
    const B = withOfflineVolume(env);
    const n = crashEveryStep(env, kind, [env.disk, B, env.db], backupArgs(env, env.disk, env.db), (where) => {
      const ap = blaine(['apply', '--dest', B, '--db', env.db]);
      assert.equal(ap.status, 0, `${where}: apply: ${ap.stderr}`);
      assertConsistent(env, [env.disk, B], where);
    });
    t.diagnostic(`backup with deferred actions, ${kind}: ${n} crash points`);
  });
}

for (const kind of ['rename', 'unlink', 'link', 'fsync', 'syncfs']) {
  test(`apply of deferred actions killed after every ${kind} call: the rerun completes them, parity moved with its files`, (t) => {
    const env = testEnv('blaine-crash-');
    t.after(env.cleanup);
    const B = withOfflineVolume(env, { parityOnB: true });
    const r = blaine(backupArgs(env, env.disk, env.db), { env: SCAN });
    assert.equal(r.status, 0, r.stderr);
    const n = crashEveryStep(env, kind, [env.disk, B, env.db], ['apply', '--dest', B, '--db', env.db], (where) => {
      assertConsistent(env, [env.disk, B], where);
      assertDiskMatchesCatalog(B, env.db, { hostMayHaveMore: true, parity: true });
    });
    t.diagnostic(`apply, ${kind}: ${n} crash points`);
  });
}

// rename and copyfile: the new copy's catalog snapshots and its volume.json.
for (const kind of ['write', 'mkdir', 'syncfs', 'rename', 'copyfile']) {
  test(`clone killed after every ${kind} call: the rerun makes a whole copy`, (t) => {
    const env = testEnv('blaine-crash-');
    t.after(env.cleanup);
    before(env.lib);
    const first = blaine(backupArgs(env, env.disk, env.db, ['--init']), { env: SCAN });
    assert.equal(first.status, 0, first.stderr);
    const C = path.join(env.base, 'C');
    fs.mkdirSync(C);
    const n = crashEveryStep(env, kind, [env.disk, C, env.db], ['clone', '--dest', env.disk, '--to', C, '--db', env.db], (where) => {
      assertConsistent(env, [env.disk, C], where);
      assertCopiesAre(env.db, [env.disk, C], where);
    });
    t.diagnostic(`clone, ${kind}: ${n} crash points`);
  });
}

/**
 * Offline volume B (with parity) holds old/; the mounted disk (with parity) holds new/, where
 * keep.bin and gone.bin are one inode. The library then loses what `remove` is asked to drop.
 */
function withRemovals(env: ReturnType<typeof testEnv>): string {
  const B = path.join(env.base, 'B');
  fs.mkdirSync(B);
  const withParity = (args: string[]) => args.filter((a) => a !== '--no-parity');
  for (const n of ['o1', 'o2', 'stay']) write(path.join(env.lib, 'old', `${n}.bin`), crypto.randomBytes(8000));
  assert.equal(blaine(withParity(backupArgs(env, B, env.db, ['--init'])), { env: SCAN }).status, 0);
  for (const n of ['n1', 'n2', 'keep']) write(path.join(env.lib, 'new', `${n}.bin`), crypto.randomBytes(9000));
  fs.linkSync(path.join(env.lib, 'new', 'keep.bin'), path.join(env.lib, 'new', 'gone.bin'));
  fs.mkdirSync(path.join(env.lib, 'new', 'sub'));
  fs.symlinkSync('../n1.bin', path.join(env.lib, 'new', 'sub', 'gone-link'));
  assert.equal(blaine(withParity(backupArgs(env, env.disk, env.db, ['--init'])), { env: SCAN }).status, 0);
  for (const p of ['old/o1.bin', 'old/o2.bin', 'new/n1.bin', 'new/gone.bin', 'new/sub']) fs.rmSync(path.join(env.lib, p), { recursive: true });
  return B;
}

for (const kind of ['unlink', 'write', 'fsync', 'syncfs']) {
  test(`remove killed after every ${kind} call: the rerun converges, nothing else lost, then apply drops the offline share`, (t) => {
    const env = testEnv('blaine-crash-');
    t.after(env.cleanup);
    const B = withRemovals(env);
    const args = ['remove', '--dest', env.disk, '--db', env.db, '--max-delete', '100', '*/old/o*', '*/new/n1.bin', '*/new/gone*', '*/new/sub/*'];
    const n = crashEveryStep(env, kind, [env.disk, B, env.db], args, (where) => {
      assertDiskMatchesCatalog(env.disk, env.db, { hostMayHaveMore: true, parity: true });
      const ap = blaine(['apply', '--dest', B, '--db', env.db]);
      assert.equal(ap.status, 0, `${where}: apply: ${ap.stderr}`);
      // The files were deleted from their folders by hand and no backup has run: the folders' new
      // mtimes are not archived yet.
      assertConsistent(env, [env.disk, B], where, { folderTimes: false });
      assertDiskMatchesCatalog(B, env.db, { hostMayHaveMore: true, parity: true });
      assert.deepEqual(rows(env.db).filter((r) => /\/(o1|o2|n1|gone)[^/]*$/.test(r.path)), [], `${where}: removed rows are back`);
      assert.deepEqual(
        rows(env.db).map((r) => path.basename(r.path)).sort(),
        ['keep.bin', 'n2.bin', 'stay.bin'],
        `${where}: the catalog lost or kept the wrong files`,
      );
    });
    t.diagnostic(`remove, ${kind}: ${n} crash points`);
  });
}

test('backup of big files (copied in C, two at once, sets fed by the copies) killed after every write: the rerun completes, nothing lost', (t) => {
  const env = testEnv('blaine-crash-');
  t.after(env.cleanup);
  const big = (n: string, extra: number) => write(path.join(env.lib, `${n}.bin`), crypto.randomBytes(4 * 1024 * 1024 + extra), new Date(BASE_TIME));
  big('a', 5);
  write(path.join(env.lib, 'small.bin'), crypto.randomBytes(3_000));
  const withParity = (extra: string[] = []) => backupArgs(env, env.disk, env.db, extra).filter((a) => a !== '--no-parity');
  const first = blaine(withParity(['--init']), { env: SCAN });
  assert.equal(first.status, 0, first.stderr);
  // A stored big file replaced and two new ones: three big copies, two of them at once.
  big('a', 70_001);
  big('b', 4096);
  big('c', 1);
  const n = crashEveryStep(env, 'write', [env.disk, env.db], withParity(), (where) => {
    assertConsistent(env, [env.disk], where);
    assertDiskMatchesCatalog(env.disk, env.db, { parity: true });
  });
  t.diagnostic(`backup of big files with parity, write: ${n} crash points`);
});
