import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { blaine, isRoot, scratchDir } from '../../test/helpers.js';

/**
 * After an apply or a twin's catch-up every name on the disk has the
 * catalog's mode and owner, and names share an inode only where both are equal (SPEC §3, §5).
 */
const o = ['--reserve', '0', '--no-parity', '-q'];

function setup(t: { after: (fn: () => void) => void }) {
  const base = scratchDir(t, 'blaine-exact-');
  const lib = path.join(base, 'lib');
  const db = path.join(base, 'host', 'cat.sqlite');
  fs.mkdirSync(lib, { recursive: true });
  const run = (...args: string[]) => {
    const r = blaine([...args, '--db', db]);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  const disk = (name: string) => {
    fs.mkdirSync(path.join(base, name), { recursive: true });
    return path.join(base, name);
  };
  const stored = (d: string, rel: string) => fs.statSync(path.join(d, lib, rel));
  const verify = (d: string) => {
    const r = blaine(['verify', '--dest', d, '--checksum', '--db', db]);
    assert.equal(r.status, 0, `verify ${d}:\n${r.stdout}${r.stderr}`);
  };
  fs.writeFileSync(path.join(lib, 'a.bin'), crypto.randomBytes(50_000));
  return { base, lib, db, run, disk, stored, verify };
}

for (const order of ['chmod then ln', 'ln then chmod']) {
  test(`apply gives a new hardlink the new mode (${order})`, (t) => {
    const { lib, run, disk, stored, verify } = setup(t);
    const [A, C] = [disk('A'), disk('C')];
    run('backup', '--dest', A, '--init', '--label', 'A', ...o, lib);
    run('backup', '--dest', C, '--init', '--label', 'C', ...o, lib);
    const a = path.join(lib, 'a.bin');
    if (order === 'chmod then ln') {
      fs.chmodSync(a, 0o600);
      fs.linkSync(a, path.join(lib, 'link.bin'));
    } else {
      fs.linkSync(a, path.join(lib, 'link.bin'));
      fs.chmodSync(a, 0o600);
    }
    run('backup', '--dest', C, '--clean', ...o, lib);
    run('apply', '--dest', A);
    const [sa, sl] = [stored(A, 'a.bin'), stored(A, 'link.bin')];
    assert.equal(sa.mode & 0o7777, 0o600);
    assert.equal(sl.mode & 0o7777, 0o600, 'the new hardlink has the new mode');
    assert.equal(sl.ino, sa.ino, 'the hardlink group stays one inode');
    verify(A);
  });
}

test('apply of a chmod on a stored hardlink pair changes the inode, not the pairing', (t) => {
  const { lib, run, disk, stored, verify } = setup(t);
  const [A, C] = [disk('A'), disk('C')];
  const a = path.join(lib, 'a.bin');
  fs.linkSync(a, path.join(lib, 'b.bin'));
  fs.writeFileSync(path.join(lib, 'c.bin'), fs.readFileSync(a));
  run('backup', '--dest', A, '--init', '--label', 'A', ...o, lib);
  run('backup', '--dest', C, '--init', '--label', 'C', ...o, lib);
  assert.equal(stored(A, 'c.bin').ino, stored(A, 'a.bin').ino, 'equal content, mode and owner: stored once');
  fs.chmodSync(a, 0o640);
  run('backup', '--dest', C, '--clean', ...o, lib);
  run('apply', '--dest', A);
  assert.equal(stored(A, 'a.bin').mode & 0o7777, 0o640);
  assert.equal(stored(A, 'b.bin').ino, stored(A, 'a.bin').ino, 'the pair stays linked');
  assert.notEqual(stored(A, 'c.bin').ino, stored(A, 'a.bin').ino, 'the name whose mode did not change is split off');
  assert.equal(stored(A, 'c.bin').mode & 0o7777, 0o644 & ~process.umask());
  verify(A);
});

for (const what of ['mode', 'owner'] as const) {
  const skip = what === 'owner' && !isRoot ? 'needs root to chown' : false;
  test(`a twin's catch-up stores a duplicate with another ${what} apart`, { skip }, (t) => {
    const { lib, run, disk, stored, verify } = setup(t);
    const [C, C2] = [disk('C'), disk('C2')];
    run('backup', '--dest', C, '--init', '--label', 'C', ...o, lib);
    run('clone', '--dest', C, '--to', C2, '--label', "C'");
    const dup = path.join(lib, 'dup.bin');
    fs.copyFileSync(path.join(lib, 'a.bin'), dup);
    if (what === 'mode') fs.chmodSync(dup, 0o600);
    else fs.chownSync(dup, 1234, 1234);
    run('backup', '--dest', C, '--clean', ...o, lib);
    run('backup', '--dest', C2, '--clean', ...o, lib);
    for (const d of [C, C2]) {
      const st = stored(d, 'dup.bin');
      if (what === 'mode') assert.equal(st.mode & 0o7777, 0o600, d);
      else assert.equal(st.uid, 1234, d);
      assert.notEqual(st.ino, stored(d, 'a.bin').ino, `${d}: another ${what}, another inode`);
      verify(d);
    }
  });
}

/** `pending --json` of one host catalog. */
function pendingOf(db: string): Array<{ label: string; action: string; path: string; held: boolean; reason: string | null; until: string | null }> {
  const r = blaine(['pending', '--json', '--db', db]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const sha = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

test("a stored disk's mid-week visit holds the DELETE of an edited file's old version until the offsite twin has caught up", (t) => {
  const { base, lib, db, run, disk, verify } = setup(t);
  const [A, C, C2] = [disk('A'), disk('C'), disk('C2')];
  const f = path.join(lib, 'f.bin');
  fs.writeFileSync(f, crypto.randomBytes(40_000));
  fs.rmSync(path.join(lib, 'a.bin'));
  run('backup', '--dest', A, '--init', '--label', 'A', ...o, lib);
  fs.writeFileSync(path.join(lib, 'g.bin'), crypto.randomBytes(30_000));
  run('backup', '--dest', C, '--init', '--label', 'C', ...o, lib);
  run('clone', '--dest', C, '--to', C2, '--label', "C'");
  // C goes offsite; f.bin is edited and backed up onto C': the old version's DELETE is queued for A.
  const old = sha(f);
  fs.writeFileSync(f, crypto.randomBytes(40_000));
  run('backup', '--dest', C2, '--clean', ...o, lib);
  const queued = pendingOf(db);
  assert.equal(queued.length, 1);
  assert.equal(queued[0]!.action, 'DELETE');
  assert.equal(queued[0]!.held, true, 'held while C lacks the run that queued it');
  assert.match(queued[0]!.reason!, /"C"/);
  assert.match(queued[0]!.until!, /"C"/);
  // A comes back for a day: the DELETE waits, the old version stays on A, the disk verifies clean.
  const visit = blaine(['apply', '--dest', A, '--db', db, '--json']);
  assert.equal(visit.status, 0, visit.stderr);
  assert.deepEqual(JSON.parse(visit.stdout), { applied: 0, changed: 0, lacking: 0, held: 1 });
  assert.equal(sha(path.join(A, f)), old, "the old version is still on A after A's visit");
  verify(A);
  const disks = JSON.parse(blaine(['disks', '--json', '--db', db]).stdout) as Array<{ label: string; pending: number; held: number }>;
  assert.deepEqual(disks.filter((d) => d.label === 'A').map((d) => [d.pending, d.held]), [[1, 1]]);
  // The host, the library and C' are lost: a catalog rebuilt from C still finds the old f.bin on A.
  const db2 = path.join(base, 'host2', 'cat.sqlite');
  const rebuilt = blaine(['rebuild-catalog', '--dest', C, '--db', db2]);
  assert.equal(rebuilt.status, 0, rebuilt.stderr);
  const listed = JSON.parse(blaine(['list', '--json', '--db', db2, f]).stdout) as Array<{ label: string; sha256?: string; sha1?: string }>;
  assert.deepEqual(listed.map((l) => l.label), ['A']);
  assert.equal(sha(path.join(A, f)), old, 'A holds the content the rebuilt catalog names');
  // A catalog rebuilt from C' (whose snapshot holds the queue) keeps the hold and its reason.
  const db3 = path.join(base, 'host3', 'cat.sqlite');
  assert.equal(blaine(['rebuild-catalog', '--dest', C2, '--db', db3]).status, 0);
  assert.deepEqual(pendingOf(db3).map((q) => [q.action, q.held]), [['DELETE', true]]);
  // C comes back and is caught up: the next visit of A applies the DELETE.
  run('backup', '--dest', C, '--clean', ...o, lib);
  assert.deepEqual(pendingOf(db).map((q) => [q.action, q.held]), [['DELETE', false]]);
  run('apply', '--dest', A);
  assert.equal(fs.existsSync(path.join(A, f)), false, 'applied once both copies hold the new version');
  assert.deepEqual(pendingOf(db), []);
  verify(A);
});

test('a DELETE queued by a volume without a twin is not held', (t) => {
  const { lib, db, run, disk, verify } = setup(t);
  const [A, C] = [disk('A'), disk('C')];
  run('backup', '--dest', A, '--init', '--label', 'A', ...o, lib);
  fs.writeFileSync(path.join(lib, 'g.bin'), crypto.randomBytes(30_000));
  run('backup', '--dest', C, '--init', '--label', 'C', ...o, lib);
  fs.writeFileSync(path.join(lib, 'a.bin'), crypto.randomBytes(40_000));
  run('backup', '--dest', C, '--clean', ...o, lib);
  assert.deepEqual(pendingOf(db).map((q) => [q.action, q.held]), [['DELETE', false]]);
  run('apply', '--dest', A);
  assert.equal(fs.existsSync(path.join(A, lib, 'a.bin')), false);
  assert.deepEqual(pendingOf(db), []);
  verify(A);
});
