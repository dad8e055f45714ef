import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { blaine, isRoot, mountTmpfs, sha256, summaryOf, testEnv, unmount, write, type RunResult } from '../../test/helpers.js';

/**
 * Every entry below the folders with its size, mtime to the nanosecond and (for files) content:
 * what "a dry run changes nothing" is checked against, catalogs included.
 */
function snapshot(...dirs: string[]): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p, { bigint: true });
      const content = st.isFile() ? sha256(fs.readFileSync(p)) : st.isSymbolicLink() ? fs.readlinkSync(p) : '';
      out.push(`${p} ${st.size} ${st.mtimeNs} ${content}`);
      if (st.isDirectory()) walk(p);
    }
  };
  for (const d of dirs) walk(d);
  return out;
}

/** A run's summary without the figures only a real run can know (time, free space afterwards, parity made). */
function comparable(r: RunResult): Record<string, number | boolean> {
  const { seconds: _s, freeBytes: _f, parityBytes: _p, parityDiskBytes: _d, ...rest } = summaryOf(r);
  return rest;
}

function backupOf(db: string, lib: string) {
  return (disk: string, ...extra: string[]) =>
    blaine(['backup', '--dest', disk, '--db', db, '--no-parity', '--reserve', '0', ...extra, lib]);
}

test('dry run on a mirror copy that is behind shows the catch-up the real run then does', (t) => {
  const env = testEnv();
  t.after(env.cleanup);
  const backup = backupOf(env.db, env.lib);
  const twin = path.join(env.base, 'twin');
  fs.mkdirSync(twin);
  for (let i = 1; i <= 6; i++) write(path.join(env.lib, `d/f${i}.bin`), crypto.randomBytes(5000 + i));
  assert.equal(backup(env.disk, '--init', '--label', 'A').status, 0);
  const clone = blaine(['clone', '--dest', env.disk, '--db', env.db, '--to', twin, '--label', 'A2']);
  assert.equal(clone.status, 0, clone.stderr);
  // The volume moves on without the twin: a rename, a removal, a new file.
  fs.renameSync(path.join(env.lib, 'd/f1.bin'), path.join(env.lib, 'd/g1.bin'));
  fs.rmSync(path.join(env.lib, 'd/f2.bin'));
  write(path.join(env.lib, 'd/f7.bin'), crypto.randomBytes(7000));
  const moved = backup(env.disk, '--clean', '--max-delete', '100');
  assert.equal(moved.status, 0, moved.stderr);

  const before = snapshot(twin, env.disk, path.dirname(env.db));
  const dry = backup(twin, '--dry-run');
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(dry.stdout, /rename +\S*d\/f1\.bin -> \S*d\/g1\.bin/);
  assert.match(dry.stdout, /remove +\S*d\/f2\.bin/);
  const wouldBring = /would bring "A2" up to date: (\d+) change\(s\)/.exec(dry.stdout);
  assert.ok(wouldBring, dry.stdout);
  const dryJson = backup(twin, '--dry-run', '--json');
  assert.equal(dryJson.status, 0, dryJson.stderr);
  assert.deepEqual(snapshot(twin, env.disk, path.dirname(env.db)), before, 'the dry run changed nothing');

  const real = backup(twin, '--json');
  assert.equal(real.status, 0, real.stderr);
  const brought = /brought "A2" up to date: (\d+) change\(s\)/.exec(real.stderr);
  assert.ok(brought, real.stderr);
  assert.equal(wouldBring[1], brought[1]);
  assert.deepEqual(comparable(dryJson), comparable(real));
  // The twin now holds the new file, copied by the backup after the catch-up.
  assert.ok(fs.existsSync(path.join(twin, env.lib, 'd/f7.bin')));
  assert.ok(!fs.existsSync(path.join(twin, env.lib, 'd/f1.bin')));
});

test('dry run reports what the real run then does (adds, equal new content, renames, a swap, removals, links, deferred actions) and leaves disks and catalogs as they were', () => {
  const env = testEnv();
  try {
    const backup = backupOf(env.db, env.lib);
    const offline = path.join(env.base, 'offline');
    fs.mkdirSync(offline);
    const lib = (rel: string) => path.join(env.lib, rel);
    const t = new Date('2022-03-04T05:06:07.089Z');
    for (let i = 1; i <= 4; i++) write(lib(`old/a${i}.bin`), crypto.randomBytes(3000 + i));
    assert.equal(backup(offline, '--init', '--label', 'OLD').status, 0);
    // b2 and b3 alike in size and mtime: their swap is found by inode and confirmed by content.
    for (let i = 1; i <= 5; i++) write(lib(`new/b${i}.bin`), crypto.randomBytes(i === 2 || i === 3 ? 4000 : 4000 + i), t);
    assert.equal(backup(env.disk, '--init', '--label', 'NEW').status, 0);

    write(lib('new/n1.bin'), crypto.randomBytes(6000));
    // Equal content under two new names: the copy's own SHA-256 makes the second a link.
    const same = crypto.randomBytes(6100);
    write(lib('new/n2.bin'), same);
    write(lib('new/n2-same.bin'), same);
    fs.renameSync(lib('new/b1.bin'), lib('new/b1-renamed.bin'));
    fs.renameSync(lib('new/b2.bin'), lib('new/swap.tmp'));
    fs.renameSync(lib('new/b3.bin'), lib('new/b2.bin'));
    fs.renameSync(lib('new/swap.tmp'), lib('new/b3.bin'));
    fs.rmSync(lib('new/b4.bin'));
    fs.linkSync(lib('new/b5.bin'), lib('new/b5-link.bin'));
    // The offline volume's files: deferred actions.
    fs.renameSync(lib('old/a1.bin'), lib('old/a1-moved.bin'));
    fs.rmSync(lib('old/a2.bin'));
    fs.linkSync(lib('old/a3.bin'), lib('old/a3-link.bin'));

    const args = ['--clean', '--max-delete', '100'];
    const before = snapshot(env.disk, offline, path.dirname(env.db));
    const dry = backup(env.disk, ...args, '--dry-run');
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, /defer +RENAME \S*old\/a1\.bin -> \S*old\/a1-moved\.bin/);
    assert.match(dry.stdout, /rename +\S*new\/b1\.bin -> \S*new\/b1-renamed\.bin/);
    const dryJson = backup(env.disk, ...args, '--dry-run', '--json');
    assert.equal(dryJson.status, 0, dryJson.stderr);
    assert.deepEqual(snapshot(env.disk, offline, path.dirname(env.db)), before, 'the dry run changed nothing');

    const real = backup(env.disk, ...args, '--json');
    assert.equal(real.status, 0, real.stderr);
    const done = comparable(real);
    // Every kind of change happened, so the comparison below is not between two empty runs.
    assert.equal(done.added, 2, 'n1, one of n2 and n2-same');
    assert.equal(done.renamed, 4, 'b1, the swapped pair, a1 (deferred)');
    assert.equal(done.removed, 2, 'b4 here, a2 deferred');
    assert.equal(done.linked, 3, 'b5-link and the other of n2 and n2-same here, a3-link deferred');
    assert.equal(done.bytesCopied, 6000 + 6100);
    assert.equal(done.deferred, 3);
    assert.deepEqual(comparable(dryJson), done);
  } finally {
    env.cleanup();
  }
});

test('dry run on a small disk stops where the real run finds the disk full', { skip: isRoot ? false : 'needs root for a tmpfs disk' }, (t) => {
  const env = testEnv();
  t.after(env.cleanup);
  assert.ok(mountTmpfs(env.disk, '10m'), 'mount a 10 MB tmpfs');
  try {
    const backup = backupOf(env.db, env.lib);
    // Each file with the disk's reserve for its catalogs needs about 3 MB: four fit, the fifth does not.
    for (let i = 1; i <= 8; i++) write(path.join(env.lib, `f${i}.bin`), crypto.randomBytes(2_000_000));
    const dry = backup(env.disk, '--init', '--label', 'SMALL', '--dry-run', '--json');
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stderr, /the real run would stop here: the disk is full/);
    assert.deepEqual(fs.readdirSync(env.disk), []);
    const real = backup(env.disk, '--init', '--label', 'SMALL', '--json');
    assert.equal(real.status, 3, real.stderr);
    const done = comparable(real);
    assert.equal(done.diskFull, true);
    assert.ok(Number(done.added) > 0 && Number(done.added) < 8, `added ${done.added}`);
    assert.deepEqual(comparable(dry), done);
  } finally {
    unmount(env.disk);
  }
});
