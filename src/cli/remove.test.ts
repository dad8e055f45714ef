// `blaine remove` deletes files from the archive: from the mounted disk now (with parity,
// hardlinked names kept apart), deferred for offline volumes, under the mass-delete guard.
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { backup,
  assertArchiveHolds,
  assertDiskMatchesCatalog,
  assertRestoresLibrary,
  blaine,
  readTree,
  rows,
  summaryOf,
  testEnv,
  volumeOf,
  write,
  expectOk,
} from '../../test/helpers.js';

type Env = ReturnType<typeof testEnv>;

function verifyClean(env: Env, disk: string) {
  const v = blaine(['verify', '--checksum', '--dest', disk, '--db', env.db]);
  assert.equal(v.status, 0, `verify ${disk}: ${v.stdout}${v.stderr}`);
}

/** Offline volume B holds old/; the mounted A holds new/, where keep.bin and drop.bin are one inode. */
function twoVolumes(env: Env) {
  const B = path.join(env.base, 'B');
  fs.mkdirSync(B);
  for (let i = 0; i < 3; i++) write(path.join(env.lib, 'old', `o${i}.bin`), crypto.randomBytes(5000 + i));
  write(path.join(env.lib, 'old', 'stay.bin'), crypto.randomBytes(5000));
  expectOk(backup(env, ['--init', '--label', 'B'], { disk: B }), 'backup B');
  for (let i = 0; i < 3; i++) write(path.join(env.lib, 'new', `n${i}.bin`), crypto.randomBytes(6000 + i));
  write(path.join(env.lib, 'new', 'keep.bin'), crypto.randomBytes(7000));
  fs.linkSync(path.join(env.lib, 'new', 'keep.bin'), path.join(env.lib, 'new', 'drop.bin'));
  expectOk(backup(env, ['--init', '--label', 'A'], { disk: env.disk }), 'backup A');
  return B;
}

test('remove on the mounted disk and an offline one: parity goes with each file, a hardlinked sibling stays; apply finishes the offline share', (t) => {
  const env = testEnv('blaine-remove-');
  t.after(env.cleanup);
  const B = twoVolumes(env);
  const A = env.disk;
  const hostBefore = rows(env.db);
  const dry = expectOk(blaine(['remove', '--dest', A, '--db', env.db, '--max-delete', '100', '--dry-run', '*/old/o*', '*/new/n1.bin', '*/drop.bin']), 'dry run');
  assert.match(dry.stdout, /remove +\/.*\/new\/drop\.bin\n/);
  assert.match(dry.stdout, /defer +DELETE \/.*\/old\/o0\.bin \(volume /);
  assert.match(dry.stdout, /"A": would remove 2 file\(s\); would defer 3 deletion\(s\)/);
  assert.deepEqual(rows(env.db), hostBefore, 'a dry run changes nothing');

  // The user no longer wants them: out of the library, out of the archive.
  for (const p of ['old/o0.bin', 'old/o1.bin', 'old/o2.bin', 'new/n1.bin', 'new/drop.bin']) fs.rmSync(path.join(env.lib, p));
  const r = expectOk(blaine(['remove', '--dest', A, '--db', env.db, '--max-delete', '100', '--json', '*/old/o*', '*/new/n1.bin', '*/drop.bin']), 'remove');
  const j = JSON.parse(r.stdout);
  assert.equal(j.removed, 2);
  assert.equal(j.deferred, 3);
  const pending = JSON.parse(expectOk(blaine(['pending', '--db', env.db, '--json']), 'pending').stdout);
  assert.deepEqual(pending.map((p: { action: string; path: string }) => `${p.action} ${path.basename(p.path)}`), ['DELETE o0.bin', 'DELETE o1.bin', 'DELETE o2.bin']);
  assert.deepEqual(rows(env.db).filter((x) => /\/(o\d|n1|drop)\.bin$/.test(x.path)), [], 'no row is left');
  const rel = env.lib.slice(1);
  assert.ok(!fs.existsSync(path.join(A, rel, 'new', 'drop.bin')));
  assert.ok(!fs.existsSync(path.join(A, '.blaine', 'parity', rel, 'new', 'drop.bin.par2')), 'its parity is gone');
  assert.ok(fs.existsSync(path.join(A, '.blaine', 'parity', rel, 'new', 'keep.bin.par2')), "the sibling's parity stays");
  assertDiskMatchesCatalog(A, env.db, { parity: true });
  verifyClean(env, A);
  // B still holds them until it is mounted; then apply deletes them with their parity.
  assert.ok(fs.existsSync(path.join(B, rel, 'old', 'o0.bin')));
  const ap = expectOk(blaine(['apply', '--dest', B, '--db', env.db]), 'apply B');
  assert.match(ap.stdout, /applied 3 deferred action/);
  assert.deepEqual(readTree(path.join(B, rel)).size, 1);
  assertDiskMatchesCatalog(B, env.db, { parity: true });
  verifyClean(env, B);
  // The files were deleted from their folders by hand and no backup has run since: the folders'
  // new mtimes are not archived yet (a backup records them).
  assertArchiveHolds(env.lib, [A, B], { folderTimes: false });
  assertRestoresLibrary(env.lib, [A, B], env.db, path.join(env.base, 'restored'), { folderTimes: false });
  // The next backup has nothing to do.
  const again = summaryOf(expectOk(backup(env, ['--json'], { disk: A }), 'backup after'));
  assert.equal(again.added, 0);
});

test('the mass-delete guard: too many files is one sentence, exit 1, nothing changed; --max-delete or --force lets it through', (t) => {
  const env = testEnv('blaine-remove-');
  t.after(env.cleanup);
  for (let i = 0; i < 10; i++) write(path.join(env.lib, `f${i}.txt`), `file ${i}\n`);
  expectOk(backup(env, ['--init', '--no-parity'], { disk: env.disk }), 'backup');
  const before = rows(env.db);
  const tree = readTree(env.disk);
  const held = blaine(['remove', '--dest', env.disk, '--db', env.db, '*/f[0-2].txt']);
  assert.equal(held.status, 1, held.stderr);
  assert.match(held.stderr, /^blaine: nothing removed: it would remove 3 of the 10 files archived on "disk" \(more than 10%\); pass --force/);
  assert.equal(held.stderr.trim().split('\n').length, 1);
  assert.deepEqual(rows(env.db), before);
  assert.deepEqual(readTree(env.disk), tree);
  const one = expectOk(blaine(['remove', '--dest', env.disk, '--db', env.db, '*/f0.txt']), 'one of ten');
  assert.match(one.stdout, /removed 1 file/);
  expectOk(blaine(['remove', '--dest', env.disk, '--db', env.db, '--max-delete', '30', '*/f[12].txt']), 'within --max-delete');
  expectOk(blaine(['remove', '--dest', env.disk, '--db', env.db, '--force', '*/f[3-9].txt']), '--force');
  assert.deepEqual(rows(env.db), []);
  const none = expectOk(blaine(['remove', '--dest', env.disk, '--db', env.db, '*/nothing*']), 'no match');
  assert.match(none.stdout, /no archived file matches/);
  assertDiskMatchesCatalog(env.disk, env.db);
  assert.equal(blaine(['remove', '--db', env.db, '*']).status, 2, 'no --dest is a usage error');
});

test('excluded files are kept by backups until remove drops them; they are not archived again', (t) => {
  const env = testEnv('blaine-remove-');
  t.after(env.cleanup);
  for (let i = 0; i < 8; i++) write(path.join(env.lib, `photo${i}.jpg`), crypto.randomBytes(2000 + i));
  write(path.join(env.lib, 'a.tmp'), 'scratch a\n');
  write(path.join(env.lib, 'sub', 'b.tmp'), 'scratch b\n');
  expectOk(backup(env, ['--init', '--no-parity'], { disk: env.disk }), 'backup');
  const kept = summaryOf(expectOk(backup(env, ['--json', '--no-parity', '--clean', '--exclude', '*.tmp'], { disk: env.disk }), 'backup excluding'));
  assert.equal(kept.removed, 0, 'excluded is never gone');
  assert.equal(rows(env.db).filter((r) => r.path.endsWith('.tmp')).length, 2);
  expectOk(blaine(['remove', '--dest', env.disk, '--db', env.db, '--max-delete', '25', '*.tmp']), 'remove');
  assert.deepEqual(rows(env.db).filter((r) => r.path.endsWith('.tmp')), []);
  const after = summaryOf(expectOk(backup(env, ['--json', '--no-parity', '--exclude', '*.tmp'], { disk: env.disk }), 'backup after'));
  assert.equal(after.added, 0);
  assert.deepEqual(rows(env.db).filter((r) => r.path.endsWith('.tmp')), []);
  assertDiskMatchesCatalog(env.disk, env.db);
  verifyClean(env, env.disk);
  assert.equal(volumeOf(env.disk).label, 'disk');
});

test("remove on one copy of a mirror: the twin follows when it is next mounted; a copy that is behind is caught up first", (t) => {
  const env = testEnv('blaine-remove-');
  t.after(env.cleanup);
  for (let i = 0; i < 6; i++) write(path.join(env.lib, 'a', `f${i}.bin`), crypto.randomBytes(3000 + i));
  expectOk(backup(env, ['--init', '--label', 'C', '--no-parity'], { disk: env.disk }), 'backup C');
  const twin = path.join(env.base, 'C2');
  fs.mkdirSync(twin);
  expectOk(blaine(['clone', '--dest', env.disk, '--to', twin, '--label', "C'", '--db', env.db]), 'clone');
  // C' moves a file and removes another; C, behind, removes a third: its catch-up comes first.
  fs.renameSync(path.join(env.lib, 'a', 'f0.bin'), path.join(env.lib, 'a', 'moved.bin'));
  expectOk(backup(env, ['--no-parity'], { disk: twin }), "backup C'");
  fs.rmSync(path.join(env.lib, 'a', 'f1.bin'));
  fs.rmSync(path.join(env.lib, 'a', 'moved.bin'));
  const before = rows(env.db);
  const diskBefore = readTree(env.disk);
  const dry = expectOk(blaine(['remove', '--dest', env.disk, '--db', env.db, '--max-delete', '50', '--dry-run', '*/f1.bin', '*/moved.bin']), 'dry run on C');
  // The same pipeline, nothing applied: the catch-up's move shows, then the removals.
  assert.match(dry.stdout, /would apply|rename +\/.*\/f0\.bin -> \/.*\/moved\.bin/);
  assert.match(dry.stdout, /rename +\/.*\/f0\.bin -> \/.*\/moved\.bin\n(.*\n)*remove +\/.*\/(f1|moved)\.bin/);
  assert.deepEqual(rows(env.db), before);
  assert.deepEqual(readTree(env.disk), diskBefore);
  const r = expectOk(blaine(['remove', '--dest', env.disk, '--db', env.db, '--max-delete', '50', '*/f1.bin', '*/moved.bin']), 'remove on C');
  assert.match(r.stdout, /removed 2 file/);
  assertDiskMatchesCatalog(env.disk, env.db);
  const ap = expectOk(blaine(['apply', '--dest', twin, '--db', env.db]), "apply C'");
  assert.match(ap.stdout, /change\(s\) on the disk/);
  assertDiskMatchesCatalog(twin, env.db);
  for (const d of [env.disk, twin]) {
    verifyClean(env, d);
    // Files deleted by hand and no backup since: the folders' new mtimes are not archived yet.
    assertRestoresLibrary(env.lib, [d], env.db, path.join(env.base, `restored-${path.basename(d)}`), { folderTimes: false });
  }
});
