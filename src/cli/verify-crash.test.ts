// Crash at every step of `verify --fix`: a disk with rotten files, a lost file, a lost
// symlink, parity missing and orphaned, a wrong mtime and a stranger's file is repaired, and the
// repair is killed (SIGKILL through the fault layer) after the Nth call of one kind, for every N
// until it gets through. A rerun of the same command must then leave the disk equal to its catalog
// with its parity, no temporary file or open journal, `verify --checksum` clean, the stranger's file
// in quarantine, and a full restore equal to the library (content, mode, mtime, hardlinks).
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { assertDiskMatchesCatalog, blaine, rot, testEnv, write } from '../../test/helpers.js';
import { crashEveryStep, fidelityOf, hardlinkGroupsOf, ONE_SCAN_THREAD } from '../../test/crash.js';
import { isTempName } from '../fsx/temp.js';

type Env = ReturnType<typeof testEnv>;
const T0 = Date.parse('2021-03-04T05:06:07Z');

function library(lib: string): void {
  let i = 0;
  const file = (rel: string, bytes: number) => write(path.join(lib, rel), crypto.randomBytes(bytes), new Date(T0 + 1000 * i++));
  file('rot/a.bin', 300_000);
  file('rot/b.bin', 120_000);
  file('noparity.bin', 300_000); // two parity files (small files have one): a crash can fall between them
  file('mtime.bin', 40_000);
  file('small.bin', 3_000);
  file('keep/c.bin', 50_000);
  const dup = crypto.randomBytes(60_000);
  write(path.join(lib, 'dup/one.bin'), dup, new Date(T0));
  write(path.join(lib, 'dup/two.bin'), dup, new Date(T0));
  fs.linkSync(path.join(lib, 'keep/c.bin'), path.join(lib, 'keep/c-link.bin'));
  fs.symlinkSync('keep/c.bin', path.join(lib, 'to-c'));
}

/** What bit rot, a careless hand and a stranger do to a disk. */
function damage(env: Env): void {
  const on = (rel: string) => path.join(env.disk, env.lib.slice(1), rel);
  const parity = (rel: string) => path.join(env.disk, '.blaine', 'parity', env.lib.slice(1), rel);
  rot(on('rot/a.bin'), 1000, 64);
  rot(on('rot/a.bin'), 250_000, 64);
  rot(on('rot/b.bin'), 70_000, 16);
  for (const s of ['.par2', '.vol+.par2']) fs.rmSync(parity(`noparity.bin${s}`), { force: true });
  fs.copyFileSync(parity('keep/c.bin.par2'), parity('ghost.bin.par2'));
  fs.utimesSync(on('mtime.bin'), new Date(T0 + 9e6), new Date(T0 + 9e6));
  fs.rmSync(on('small.bin'));
  fs.rmSync(on('dup/two.bin'));
  fs.rmSync(on('to-c'));
  write(on('stranger.txt'), 'not Blaine\'s');
}

function tempFilesBelow(dir: string): string[] {
  const out: string[] = [];
  for (const ent of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (isTempName(ent.name) || /\.(linking|moving)$/.test(ent.name)) out.push(path.join(ent.parentPath, ent.name));
  }
  return out;
}

function assertRepaired(env: Env, where: string): void {
  try {
    assertDiskMatchesCatalog(env.disk, env.db, { parity: true });
    const blaineDir = path.join(env.disk, '.blaine');
    assert.deepEqual(fs.readdirSync(path.join(blaineDir, 'tmp')), [], 'leftovers in .blaine/tmp');
    assert.deepEqual(tempFilesBelow(env.disk), [], 'temporary files on the disk');
    assert.ok(!fs.existsSync(path.join(blaineDir, 'journal')), 'the journal was left open');
    const quarantined = fs.readdirSync(path.join(blaineDir, 'quarantine'), { recursive: true }).filter((n) => String(n).endsWith('stranger.txt'));
    assert.equal(quarantined.length, 1, 'the stranger\'s file is in quarantine, once');
    const v = blaine(['verify', '--checksum', '--dest', env.disk, '--db', env.db]);
    assert.equal(v.status, 0, `verify: ${v.stdout}${v.stderr}`);
    const to = path.join(env.base, 'restored');
    fs.rmSync(to, { recursive: true, force: true });
    const r = blaine(['restore', '--dest', env.disk, '--db', env.db, '--to', to, '*']);
    assert.equal(r.status, 0, `restore: ${r.stderr}`);
    const back = path.join(to, env.lib.slice(1));
    assert.deepEqual(fidelityOf(back), fidelityOf(env.lib));
    assert.deepEqual(hardlinkGroupsOf(back), hardlinkGroupsOf(env.lib));
  } catch (err) {
    (err as Error).message = `${where}: ${(err as Error).message}`;
    throw err;
  }
}

function damagedDisk(): Env {
  const env = testEnv('blaine-vcrash-');
  library(env.lib);
  const b = blaine(['backup', '--init', '--label', 'V', '--dest', env.disk, '--db', env.db, '--reserve', '0', '--jobs', '1', env.lib], { env: ONE_SCAN_THREAD });
  assert.equal(b.status, 0, b.stderr);
  damage(env);
  return env;
}

test('verify --fix repairs the damaged disk in one run (the baseline of the crash tests)', (t) => {
  const env = damagedDisk();
  t.after(env.cleanup);
  const fix = blaine(['verify', '--checksum', '--fix', '--jobs', '1', '--dest', env.disk, '--db', env.db], { env: ONE_SCAN_THREAD });
  assert.equal(fix.status, 0, fix.stdout + fix.stderr);
  for (const kind of ['checksum', 'missing', 'parity-missing', 'parity-orphan', 'mtime', 'extra']) assert.match(fix.stdout, new RegExp(`^${kind} +repaired`, 'm'), kind);
  assertRepaired(env, 'one run');
});

for (const kind of ['rename', 'unlink', 'link', 'write', 'fsync', 'syncfs', 'mkdir', 'utimes']) {
  test(`verify --fix killed after every ${kind} call: the rerun finishes the repair, nothing lost`, (t) => {
    const env = damagedDisk();
    t.after(env.cleanup);
    const args = ['verify', '--checksum', '--fix', '--jobs', '1', '--dest', env.disk, '--db', env.db];
    const n = crashEveryStep(env, kind, [env.disk, env.db], args, (where) => assertRepaired(env, where));
    t.diagnostic(`verify --fix, ${kind}: ${n} crash points`);
  });
}

/** The disk of a verify --fix killed at `fault`, then recovered by a plain backup (not verify) and checked. */
function recoveredByBackup(fault: string, damageIt: (env: Env) => void): { env: Env; verify: ReturnType<typeof blaine> } {
  const env = testEnv('blaine-vcrash-');
  library(env.lib);
  const args = ['--dest', env.disk, '--db', env.db, '--reserve', '0', '--jobs', '1', env.lib];
  const b = blaine(['backup', '--init', '--label', 'V', ...args], { env: ONE_SCAN_THREAD });
  assert.equal(b.status, 0, b.stderr);
  damageIt(env);
  const fix = blaine(['verify', '--checksum', '--fix', '--jobs', '1', '--dest', env.disk, '--db', env.db], { env: { ...ONE_SCAN_THREAD, BLAINE_TEST_FAULTS: fault } });
  assert.equal(fix.status, -1, `not killed: ${fix.stdout}${fix.stderr}`);
  const again = blaine(['backup', ...args], { env: ONE_SCAN_THREAD });
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /cut short/, 'the backup says it recovered the verify run');
  return { env, verify: blaine(['verify', '--checksum', '--dest', env.disk, '--db', env.db]) };
}

test('verify --fix killed inside an in-place repair: the next backup gives the file its mtime back', (t) => {
  // The file fits in one chunk: the one write repairs it all, and the crash comes before its mtime is reset.
  const { env, verify } = recoveredByBackup(`write:1:crash@${path.join('rot', 'b.bin')}`, (e) => rot(path.join(e.disk, e.lib.slice(1), 'rot/b.bin'), 70_000, 16));
  t.after(env.cleanup);
  assert.equal(verify.status, 0, verify.stdout + verify.stderr);
});

test('verify --fix killed between the two files of a parity install: the next backup makes the set again', (t) => {
  const { env, verify } = recoveredByBackup('rename:1:crash@noparity.bin.vol+', (e) => {
    for (const s of ['.par2', '.vol+.par2']) fs.rmSync(path.join(e.disk, '.blaine', 'parity', e.lib.slice(1), `noparity.bin${s}`), { force: true });
  });
  t.after(env.cleanup);
  assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  assertDiskMatchesCatalog(env.disk, env.db, { parity: true });
});
