// Crash at every step (issue 10): a backup full of swaps, rotations, moves, replacements, links and
// deletes is killed (SIGKILL through the fault layer, as a power cut would leave it) after the Nth
// call of one kind, for every N until the run gets through; each time a plain rerun must leave the
// disk equal to its catalog, every library file on the disk bit-exact, and verify --checksum clean.
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { assertArchiveHolds, assertDiskMatchesCatalog, blaine, testEnv, write } from '../../test/helpers.js';

const SCAN = { BLAINE_SCAN_THREADS: '1' };
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

function copyTree(from: string, to: string): void {
  fs.rmSync(to, { recursive: true, force: true });
  execFileSync('cp', ['-a', from, to]);
}

for (const kind of ['rename', 'unlink', 'link', 'write', 'fsync', 'syncfs']) {
  test(`backup killed after every ${kind} call: the rerun completes or undoes each step, nothing lost`, (t) => {
    const env = testEnv('blaine-crash-');
    t.after(env.cleanup);
    before(env.lib);
    const first = blaine(backupArgs(env, env.disk, env.db, ['--init']), { env: SCAN });
    assert.equal(first.status, 0, first.stderr);
    change(env.lib);
    const tplDisk = path.join(env.base, 'tpl-disk');
    const tplDb = path.join(env.base, 'tpl.sqlite');
    copyTree(env.disk, tplDisk);
    copyTree(env.db, tplDb);
    let crashes = 0;
    for (let n = 1; n < 200; n++) {
      copyTree(tplDisk, env.disk);
      copyTree(tplDb, env.db);
      for (const ext of ['-wal', '-shm']) fs.rmSync(env.db + ext, { force: true });
      const r = blaine(backupArgs(env, env.disk, env.db), { env: { ...SCAN, BLAINE_TEST_FAULTS: `${kind}:${n}:crash` } });
      if (r.status === 0) break;
      assert.equal(r.status, -1, `step ${n}: killed, not exited: ${r.stderr}`);
      crashes++;
      const again = blaine(backupArgs(env, env.disk, env.db), { env: SCAN });
      assert.equal(again.status, 0, `step ${n}: ${again.stderr}`);
      const where = `after a crash at ${kind} ${n}`;
      try {
        assertDiskMatchesCatalog(env.disk, env.db);
        assertArchiveHolds(env.lib, [env.disk]);
      } catch (err) {
        (err as Error).message = `${where}: ${(err as Error).message}`;
        throw err;
      }
      const tmp = path.join(env.disk, '.blaine', 'tmp');
      assert.deepEqual(fs.existsSync(tmp) ? fs.readdirSync(tmp) : [], [], `${where}: leftovers in .blaine/tmp`);
      const v = blaine(['verify', '--checksum', '--dest', env.disk, '--db', env.db]);
      assert.equal(v.status, 0, `${where}: verify: ${v.stdout}${v.stderr}`);
    }
    assert.ok(crashes > 0, `the backup made no ${kind} call to crash after`);
    t.diagnostic(`${kind}: ${crashes} crash points`);
  });
}
