// `forget-disk` (a lost volume, one lost copy) and retiring a mirror copy with backup --init.
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
  rows,
  summaryOf,
  readTree,
  testEnv,
  volumeOf,
  write,
  expectOk,
} from '../../test/helpers.js';
import { cryptUnavailable, fastScrypt } from '../crypt/testing.js';

type Env = ReturnType<typeof testEnv>;

function pendingOf(env: Env): Array<{ label: string; action: string; path: string }> {
  return JSON.parse(expectOk(blaine(['pending', '--db', env.db, '--json']), 'pending').stdout);
}

test('forget-disk of an offline volume with pending actions: its rows and queue go, the files only it held are listed and archived again by the next backup', (t) => {
  const env = testEnv('blaine-forget-');
  t.after(env.cleanup);
  const A = path.join(env.base, 'A');
  fs.mkdirSync(A);
  write(path.join(env.lib, 'old', 'one.bin'), crypto.randomBytes(3000));
  write(path.join(env.lib, 'old', 'two.bin'), crypto.randomBytes(3000));
  write(path.join(env.lib, 'old', 'gone.bin'), crypto.randomBytes(3000));
  const dup = crypto.randomBytes(2000);
  write(path.join(env.lib, 'old', 'dup.bin'), dup);
  expectOk(backup(env, ['--no-parity', '--init', '--label', 'A'], { disk: A }), 'backup A');
  // B gets the newer files and a copy of dup.bin's content; A goes offline and gets deferred actions.
  write(path.join(env.lib, 'new', 'dup-again.bin'), dup);
  write(path.join(env.lib, 'new', 'three.bin'), crypto.randomBytes(3000));
  fs.renameSync(path.join(env.lib, 'old', 'two.bin'), path.join(env.lib, 'old', 'two-renamed.bin'));
  fs.rmSync(path.join(env.lib, 'old', 'gone.bin'));
  fs.rmSync(path.join(env.lib, 'old', 'dup.bin'));
  expectOk(backup(env, ['--no-parity', '--init', '--label', 'B', '--clean', '--max-delete', '100'], { disk: env.disk }), 'backup B');
  assert.ok(pendingOf(env).filter((p) => p.label === 'A').length >= 2, 'A has a rename and deletions queued');
  const volA = volumeOf(A).volume;

  const dry = expectOk(blaine(['forget-disk', 'A', '--db', env.db, '--dry-run']), 'dry run');
  assert.match(dry.stdout, /would forget volume "A"/);
  assert.ok(rows(env.db, volA).length > 0, 'a dry run changes nothing');

  const r = expectOk(blaine(['forget-disk', 'A', '--db', env.db, '--json']), 'forget-disk');
  const j = JSON.parse(r.stdout);
  assert.equal(j.volume, volA);
  assert.equal(j.copy, null);
  assert.ok(j.pending >= 2);
  // dup-again.bin was linked on A (deferred), not copied to B: A alone held its content.
  assert.deepEqual(
    j.notArchived.map((e: { path: string }) => path.basename(e.path)).sort(),
    ['dup-again.bin', 'one.bin', 'two-renamed.bin'],
  );
  assert.deepEqual(rows(env.db, volA), [], 'no row of A is left');
  assert.deepEqual(pendingOf(env), [], 'no action of A is left');
  const disks = JSON.parse(expectOk(blaine(['disks', '--db', env.db, '--json']), 'disks').stdout);
  assert.deepEqual(disks.map((d: { label: string }) => d.label), ['B']);

  // The files only A held are still in the data path: the next backup onto B archives them again.
  const again = summaryOf(expectOk(backup(env, ['--no-parity', '--json'], { disk: env.disk }), 'backup after forget'));
  assert.equal(again.added, 3);
  assertDiskMatchesCatalog(env.disk, env.db);
  assertArchiveHolds(env.lib, [env.disk]);
  assertRestoresLibrary(env.lib, [env.disk], env.db, path.join(env.base, 'restored'));
  const v = blaine(['verify', '--checksum', '--dest', env.disk, '--db', env.db]);
  assert.equal(v.status, 0, v.stdout + v.stderr);
});

function mirrored(env: Env) {
  for (let i = 0; i < 4; i++) write(path.join(env.lib, `f${i}.bin`), crypto.randomBytes(1500 + i));
  expectOk(backup(env, ['--no-parity', '--init', '--label', 'C'], { disk: env.disk }), 'backup C');
  const copy = path.join(env.base, 'C2');
  fs.mkdirSync(copy);
  expectOk(blaine(['clone', '--dest', env.disk, '--to', copy, '--label', "C'", '--db', env.db]), 'clone');
  return copy;
}

test("forget-disk of one copy: only that copy is forgotten, the volume stays archived on its twin; the only copy is refused", (t) => {
  const env = testEnv('blaine-forget-');
  t.after(env.cleanup);
  const copy = mirrored(env);
  const volume = volumeOf(env.disk).volume;
  const before = rows(env.db, volume);
  const r = expectOk(blaine(['forget-disk', "C'", '--db', env.db]), 'forget the copy');
  assert.match(r.stdout, /forgot copy "C'" of volume "C"; the volume stays archived on "C"/);
  assert.deepEqual(rows(env.db, volume), before, 'the volume keeps every row');
  const disks = JSON.parse(expectOk(blaine(['disks', '--db', env.db, '--json']), 'disks').stdout);
  assert.deepEqual(disks[0].copies.map((c: { copy: string }) => c.copy), [volumeOf(env.disk).copy]);
  // The copy named the other way, and then the last copy, which only forgetting the volume drops.
  const again = blaine(['forget-disk', 'C', '--copy', 'C', '--db', env.db]);
  assert.equal(again.status, 1, again.stderr);
  assert.match(again.stderr, /"C" is the only copy of volume "C"; to forget it, forget the volume/);
  assert.equal(again.stderr.trim().split('\n').length, 1);
  // The volume is still whole on C: a backup changes nothing, a restore gives the library back.
  const b = summaryOf(expectOk(backup(env, ['--no-parity', '--json'], { disk: env.disk }), 'backup C'));
  assert.equal(b.added, 0);
  assertDiskMatchesCatalog(env.disk, env.db);
  assertRestoresLibrary(env.lib, [env.disk], env.db, path.join(env.base, 'restored'));
  assert.ok(fs.existsSync(copy), 'the copy itself is not touched');
});

test('backup --init on a known mirror copy: one sentence without --force; refused while the twin lacks its changes; then retired, foreign files untouched', (t) => {
  const env = testEnv('blaine-retire-');
  t.after(env.cleanup);
  const copy = mirrored(env);
  write(path.join(copy, 'mine', 'letter.txt'), 'not Blaine\'s\n');
  // C' runs on; C stays offsite: C lacks what C' got.
  write(path.join(env.lib, 'only-on-copy.bin'), crypto.randomBytes(4000));
  expectOk(backup(env, ['--no-parity'], { disk: copy }), "backup C'");
  const snapshot = () => fs.readFileSync(path.join(copy, '.blaine', 'catalog.sqlite')).toString('hex');
  const catalogBefore = snapshot();

  const plain = backup(env, ['--no-parity', '--init'], { disk: copy });
  assert.equal(plain.status, 1, plain.stderr);
  assert.match(plain.stderr, /is the copy "C'" of volume "C", which "C" also hold\(s\); pass --force to retire this copy/);
  assert.equal(plain.stderr.trim().split('\n').length, 1);

  const lacking = backup(env, ['--no-parity', '--init', '--force'], { disk: copy });
  assert.equal(lacking.status, 1, lacking.stderr);
  assert.match(lacking.stderr, /"C" lacks changes that only "C'" holds: 1 file change\(s\) in 1 run\(s\).*only-on-copy\.bin/);
  assert.equal(snapshot(), catalogBefore, 'refused: the copy is as it was');
  assert.ok(fs.existsSync(path.join(copy, env.lib.slice(1), 'only-on-copy.bin')));

  // C comes back and catches up; now C' can go.
  expectOk(backup(env, ['--no-parity'], { disk: env.disk }), 'backup C');
  const volumeC = volumeOf(env.disk).volume;
  const retired = expectOk(backup(env, ['--no-parity', '--init', '--force', '--label', "D'", '--json'], { disk: copy }), 'retire');
  assert.match(retired.stderr + retired.stdout, /retired copy "C'" of volume "C"/);
  const d = volumeOf(copy);
  assert.notEqual(d.volume, volumeC, 'a new volume');
  assert.equal(d.label, "D'");
  assert.equal(fs.readFileSync(path.join(copy, 'mine', 'letter.txt'), 'utf8'), 'not Blaine\'s\n');
  assert.deepEqual((d as { foreign?: string[] }).foreign, ["mine"]);
  // Nothing else of the old copy is left: without the user's file, the disk is exactly its new catalog.
  fs.rmSync(path.join(copy, 'mine'), { recursive: true });
  // C' is forgotten; C holds the volume; D' holds what this run archived.
  const disks = JSON.parse(expectOk(blaine(['disks', '--db', env.db, '--json']), 'disks').stdout);
  const c = disks.find((x: { volume: string }) => x.volume === volumeC);
  assert.deepEqual(c.copies.map((x: { copy: string }) => x.copy), [volumeOf(env.disk).copy]);
  assertDiskMatchesCatalog(env.disk, env.db);
  assertDiskMatchesCatalog(copy, env.db);
  assertArchiveHolds(env.lib, [env.disk]);
  assertRestoresLibrary(env.lib, [env.disk], env.db, path.join(env.base, 'restored'));
  for (const disk of [env.disk, copy]) {
    const v = blaine(['verify', '--checksum', '--dest', disk, '--db', env.db]);
    assert.equal(v.status, 0, v.stdout + v.stderr);
  }
});

test('--discard-changes retires a copy whose twin lacks its changes; the next backup onto the twin archives them again from the data path', (t) => {
  const env = testEnv('blaine-retire-');
  t.after(env.cleanup);
  const copy = mirrored(env);
  write(path.join(env.lib, 'only-on-copy.bin'), crypto.randomBytes(4000));
  expectOk(backup(env, ['--no-parity'], { disk: copy }), "backup C'");
  const r = expectOk(backup(env, ['--no-parity', '--init', '--force', '--discard-changes'], { disk: copy }), 'retire anyway');
  assert.match(r.stdout, /changes its twin lacked discarded/);
  const b = expectOk(backup(env, ['--no-parity', '--json'], { disk: env.disk }), 'backup C');
  assert.equal(Number(summaryOf(b).added) + Number(summaryOf(b).modified), 1);
  assertDiskMatchesCatalog(env.disk, env.db);
  assertRestoresLibrary(env.lib, [env.disk], env.db, path.join(env.base, 'restored'));
});

const cryptSkip = cryptUnavailable();

test('retiring an encrypted mirror copy removes its cipher directory; the disk becomes a new plain one', { skip: cryptSkip }, (t) => {
  fastScrypt();
  const env = testEnv('blaine-retire-');
  t.after(env.cleanup);
  const keyFile = path.join(env.base, 'key');
  fs.writeFileSync(keyFile, 'retire me\n', { mode: 0o600 });
  const run = (args: string[]) => blaine([...args, '--key-file', keyFile]);
  for (let i = 0; i < 3; i++) write(path.join(env.lib, `f${i}.bin`), crypto.randomBytes(2000 + i));
  expectOk(run(['backup', '--init', '--encrypt', '--label', 'C', '--dest', env.disk, '--db', env.db, '--no-parity', '--reserve', '0', env.lib]), 'backup C');
  const copy = path.join(env.base, 'C2');
  fs.mkdirSync(copy);
  expectOk(run(['clone', '--dest', env.disk, '--to', copy, '--label', "C'", '--db', env.db]), 'clone');
  assert.ok(fs.existsSync(path.join(copy, '.blaine', 'cipher')));
  const r = expectOk(run(['backup', '--init', '--force', '--label', "D'", '--dest', copy, '--db', env.db, '--no-parity', '--reserve', '0', env.lib]), 'retire');
  assert.match(r.stdout, /retired copy "C'" of volume "C"/);
  assert.ok(!fs.existsSync(path.join(copy, '.blaine', 'cipher')), 'the old cipher directory is gone');
  const d = volumeOf(copy);
  assert.equal(d.label, "D'");
  assert.equal((d as { encrypted?: boolean }).encrypted, false);
  assertDiskMatchesCatalog(copy, env.db);
  const disks = JSON.parse(expectOk(blaine(['disks', '--db', env.db, '--json']), 'disks').stdout);
  assert.deepEqual(disks.map((x: { label: string; copies: unknown[] }) => `${x.label}:${x.copies.length}`).sort(), ["C:1", "D':1"]);
  // The library's content is on C (D' only links to it there, deferred): nothing of C' is left on
  // the disk, which holds D's own catalog and the library's folders (every disk holds them all).
  assert.deepEqual(fs.readdirSync(copy).sort(), ['.blaine', env.lib.split('/')[1]]);
  assert.deepEqual([...readTree(copy).keys()], [], 'no file');
  const v = run(['verify', '--checksum', '--dest', env.disk, '--db', env.db]);
  assert.equal(v.status, 0, v.stdout + v.stderr);
});

test('retiring a copy killed after every unlink call: the rerun of the same command finishes it, the twin untouched', (t) => {
  const env = testEnv('blaine-retire-');
  t.after(env.cleanup);
  const copy = mirrored(env);
  write(path.join(copy, 'mine.txt'), 'foreign\n');
  const tpl = path.join(env.base, 'tpl');
  fs.mkdirSync(tpl);
  const save = [copy, env.db];
  for (const [i, p] of save.entries()) fs.cpSync(p, path.join(tpl, String(i)), { recursive: true, verbatimSymlinks: true });
  const args = ['backup', '--init', '--force', '--label', 'D', '--dest', copy, '--db', env.db, '--no-parity', '--reserve', '0', env.lib];
  let crashes = 0;
  for (let n = 1; n < 100; n++) {
    for (const [i, p] of save.entries()) {
      fs.rmSync(p, { recursive: true, force: true });
      fs.cpSync(path.join(tpl, String(i)), p, { recursive: true, verbatimSymlinks: true });
    }
    for (const ext of ['-wal', '-shm']) fs.rmSync(env.db + ext, { force: true });
    const r = blaine(args, { env: { BLAINE_TEST_FAULTS: `unlink:${n}:crash` } });
    if (r.status === 0) break;
    assert.equal(r.status, -1, `unlink ${n}: killed, not exited: ${r.stderr}`);
    crashes++;
    // Killed once the retirement and the new disk's init were done: the rerun is a plain backup.
    const again = blaine(args);
    if (again.status !== 0 && /already a Blaine disk \(volume "D"/.test(again.stderr)) {
      expectOk(blaine(args.filter((x, i) => !['--init', '--force', '--label'].includes(x) && args[i - 1] !== '--label')), `plain rerun after unlink ${n}`);
    } else expectOk(again, `rerun after a crash at unlink ${n}`);
    const where = `after a crash at unlink ${n}`;
    assert.equal(volumeOf(copy).label, 'D', where);
    assert.equal(fs.readFileSync(path.join(copy, 'mine.txt'), 'utf8'), 'foreign\n', where);
    fs.rmSync(path.join(copy, 'mine.txt'));
    assertDiskMatchesCatalog(copy, env.db);
    assertDiskMatchesCatalog(env.disk, env.db);
    const disks = JSON.parse(expectOk(blaine(['disks', '--db', env.db, '--json']), 'disks').stdout);
    assert.deepEqual(disks.map((x: { label: string; copies: unknown[] }) => `${x.label}:${x.copies.length}`).sort(), ['C:1', 'D:1'], where);
  }
  assert.ok(crashes > 0, 'the retirement made no unlink call');
  t.diagnostic(`retire, unlink: ${crashes} crash points`);
});
