/**
 * Damaged, read-only and symlinked disks, and privacy.
 * A disk whose own files are damaged is said to be damaged (never taken as empty or new) and
 * changes nothing; `rebuild-catalog --dest` repairs it; a read-only disk can be read; a disk
 * reached through a link inside a data path is refused; catalogs are their owner's alone.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  assertDiskMatchesCatalog, assertRestoresLibrary, blaine, isRoot, loopDiskEnv, rows, sha256, testEnv, unmount, volumeOf, write,
} from '../../test/helpers.js';

const NO_PARITY = ['--no-parity', '--reserve', '0'];

/** A library of a few files (one hardlinked pair) backed up once onto a fresh disk. */
function archived(t: { after: (fn: () => void) => void }) {
  const env = testEnv();
  t.after(env.cleanup);
  write(path.join(env.lib, 'photos', 'a.jpg'), crypto.randomBytes(3000), new Date('2019-05-01T10:00:00Z'));
  write(path.join(env.lib, 'photos', 'b.jpg'), crypto.randomBytes(5000));
  write(path.join(env.lib, 'music', 'c.flac'), crypto.randomBytes(7000));
  fs.linkSync(path.join(env.lib, 'photos', 'a.jpg'), path.join(env.lib, 'a-link.jpg'));
  const r = blaine(['backup', '--init', '--label', 'V', '--dest', env.disk, '--db', env.db, ...NO_PARITY, env.lib]);
  assert.equal(r.status, 0, r.stderr);
  return env;
}

/** Everything on the disk (Blaine's own files included) and the host catalog, by content and mode. */
function stateOf(disk: string, db: string): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of fs.readdirSync(d).sort()) {
      const p = path.join(d, n);
      const st = fs.lstatSync(p);
      if (st.isDirectory()) walk(p);
      else out.push(`${p} ${(st.mode & 0o7777).toString(8)} ${st.isFile() ? sha256(fs.readFileSync(p)) : ''}`);
    }
  };
  walk(disk);
  out.push(`host ${sha256(fs.readFileSync(db))}`);
  return out.join('\n');
}

const DAMAGED = /disk catalog of "V" at .* (is empty \(0 bytes\)|is missing|cannot be read \([^)]*\)): the disk is damaged, not empty, and nothing was changed; run `blaine rebuild-catalog --dest /;

test('a zero-byte, missing or unreadable disk catalog on a used disk is a damaged disk: every command says so, exit 1, nothing changes', (t) => {
  const env = archived(t);
  const file = path.join(env.disk, '.blaine', 'catalog.sqlite');
  const good = fs.readFileSync(file);
  const damage: Record<string, () => void> = {
    empty: () => fs.writeFileSync(file, ''),
    missing: () => fs.rmSync(file),
    garbage: () => fs.writeFileSync(file, crypto.randomBytes(8192)),
  };
  for (const [how, make] of Object.entries(damage)) {
    make();
    const before = stateOf(env.disk, env.db);
    for (const args of [
      ['backup', '--dest', env.disk, '--db', env.db, ...NO_PARITY, env.lib],
      ['backup', '--dry-run', '--dest', env.disk, '--db', env.db, ...NO_PARITY, env.lib],
      ['verify', '--dest', env.disk, '--db', env.db],
      ['verify', '--fix', '--dest', env.disk, '--db', env.db],
      ['apply', '--dest', env.disk, '--db', env.db],
      ['list', '--dest', env.disk],
      ['restore', '--dest', env.disk, '--db', env.db, '--to', path.join(env.base, 'r'), '*'],
    ]) {
      const r = blaine(args);
      assert.equal(r.status, 1, `${how}: ${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, DAMAGED, `${how}: ${args[0]}`);
      assert.equal(stateOf(env.disk, env.db), before, `${how}: ${args.join(' ')} changed the disk or the host catalog`);
    }
    fs.rmSync(file, { force: true });
    fs.writeFileSync(file, good);
  }
});

test('a backup checks its disk catalog in place: no private copy of it in the temporary folder (unusable there), and damage is still found', (t) => {
  const env = archived(t);
  // A million-file catalog is 140 MB: copying it on every run cost the weekly swap time, and a
  // small or missing temporary folder made a sound disk look damaged.
  const noTmp = { TMPDIR: path.join(env.base, 'no-such-folder') };
  write(path.join(env.lib, 'photos', 'new.jpg'), crypto.randomBytes(2000));
  const ok = blaine(['backup', '--dest', env.disk, '--db', env.db, ...NO_PARITY, env.lib], { env: noTmp });
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assertDiskMatchesCatalog(env.disk, env.db);
  const file = path.join(env.disk, '.blaine', 'catalog.sqlite');
  fs.writeFileSync(file, crypto.randomBytes(8192));
  const before = stateOf(env.disk, env.db);
  const r = blaine(['backup', '--dest', env.disk, '--db', env.db, ...NO_PARITY, env.lib], { env: noTmp });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, DAMAGED);
  assert.equal(stateOf(env.disk, env.db), before);
});

test('rebuild-catalog --dest rebuilds a damaged disk catalog from the disk\'s rotated catalog, checked against the disk', (t) => {
  const env = archived(t);
  const file = path.join(env.disk, '.blaine', 'catalog.sqlite');
  fs.writeFileSync(file, crypto.randomBytes(8192));
  const r = blaine(['rebuild-catalog', '--dest', env.disk, '--db', env.db]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /disk catalog of "V" rebuilt from its rotated catalog .*\.blaine\/old\/catalog-.*: 4 file\(s\) found on the disk as catalogued/);
  assert.match(r.stdout, /damaged disk catalog was kept as .*catalog\.sqlite\.damaged-/);
  assertDiskMatchesCatalog(env.disk, env.db);
  assert.equal(blaine(['verify', '--checksum', '--dest', env.disk, '--db', env.db]).status, 0);
  const again = blaine(['backup', '--dest', env.disk, '--db', env.db, ...NO_PARITY, env.lib]);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /nothing to change; 4 unchanged/);
  assertRestoresLibrary(env.lib, [env.disk], env.db, path.join(env.base, 'restore'));
});

test('rebuild-catalog --dest uses the host catalog\'s rows when the rotated catalogs are older, and names what the disk does not bear out', (t) => {
  const env = archived(t);
  // A second run adds a file; its rotated catalog is then lost with the catalog itself.
  write(path.join(env.lib, 'music', 'd.flac'), crypto.randomBytes(4000));
  assert.equal(blaine(['backup', '--dest', env.disk, '--db', env.db, ...NO_PARITY, env.lib]).status, 0);
  const old = path.join(env.disk, '.blaine', 'old');
  const rotated = fs.readdirSync(old).sort();
  assert.equal(rotated.length, 2);
  fs.rmSync(path.join(old, rotated[1]!));
  fs.rmSync(path.join(env.disk, '.blaine', 'catalog.sqlite'));
  // And one stored file is not what its row says any more.
  const bent = path.join(env.disk, env.lib, 'photos', 'b.jpg');
  fs.appendFileSync(bent, 'x');
  const r = blaine(['rebuild-catalog', '--dest', env.disk, '--db', env.db]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /disk catalog of "V" rebuilt from the host catalog's rows for "V" .*: 4 file\(s\) found on the disk as catalogued/);
  assert.match(r.stderr, new RegExp(`1 catalogued file\\(s\\) are not on the disk as catalogued .*the next backup copies them again: ${env.lib}/photos/b\\.jpg`));
  const again = blaine(['backup', '--dest', env.disk, '--db', env.db, ...NO_PARITY, env.lib]);
  assert.equal(again.status, 0, again.stderr);
  assertDiskMatchesCatalog(env.disk, env.db);
  const v = blaine(['verify', '--checksum', '--dest', env.disk, '--db', env.db]);
  assert.equal(v.status, 0, v.stdout + v.stderr);
  assertRestoresLibrary(env.lib, [env.disk], env.db, path.join(env.base, 'restore'));
});

test('volume.json missing on a disk whose catalog names the volume: said so, --init --force refused, rebuild-catalog writes it again', (t) => {
  const env = archived(t);
  const file = path.join(env.disk, '.blaine', 'volume.json');
  const identity = volumeOf(env.disk);
  fs.rmSync(file);
  const before = stateOf(env.disk, env.db);
  for (const args of [
    ['backup', '--dest', env.disk, '--db', env.db, ...NO_PARITY, env.lib],
    ['backup', '--init', '--force', '--dest', env.disk, '--db', env.db, ...NO_PARITY, env.lib],
    ['verify', '--dest', env.disk, '--db', env.db],
    ['list', '--dest', env.disk],
  ]) {
    const r = blaine(args);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /volume\.json is missing, but the disk's catalog belongs to the volume "V" \(.*\): the disk is damaged, not new; run `blaine rebuild-catalog --dest /);
    assert.doesNotMatch(r.stderr, /not a Blaine disk/);
    assert.equal(stateOf(env.disk, env.db), before, `${args.join(' ')} changed the disk or the host catalog`);
  }
  const r = blaine(['rebuild-catalog', '--dest', env.disk, '--db', env.db]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /volume\.json of "V" written again from its disk catalog/);
  assert.deepEqual(volumeOf(env.disk), identity);
  const again = blaine(['backup', '--dest', env.disk, '--db', env.db, ...NO_PARITY, env.lib]);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /nothing to change; 4 unchanged/);
  assertDiskMatchesCatalog(env.disk, env.db);
});

test('a disk reached through a symlink that lies inside the data path is refused; --exclude /disk/ backs up the folder that holds it', (t) => {
  const env = testEnv();
  t.after(env.cleanup);
  write(path.join(env.lib, 'a.txt'), 'a');
  const inside = path.join(env.lib, 'disk');
  fs.mkdirSync(inside);
  const link = path.join(env.base, 'lnk');
  fs.symlinkSync(inside, link);
  let r = blaine(['backup', '--init', '--label', 'V', '--dest', link, '--db', env.db, ...NO_PARITY, env.lib]);
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.match(r.stderr, new RegExp(`the disk ${link} lies inside the data path ${env.lib} \\(${link} leads to ${inside}\\).*--exclude /disk/`));
  assert.deepEqual(fs.readdirSync(inside), [], 'nothing was made on the refused disk');
  for (const dest of [link, inside]) {
    r = blaine(['backup', ...(dest === link ? ['--init', '--label', 'V'] : []), '--dest', dest, '--db', env.db, '--exclude', '/disk/', ...NO_PARITY, env.lib]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
  }
  const paths = rows(env.db).map((x) => x.path);
  assert.deepEqual(paths, [`${env.lib}/a.txt`], 'the disk did not archive itself');
});

test('a disk bind-mounted inside the data path (same device and inode, another path) is refused; --exclude of that folder is accepted', (t) => {
  const env = testEnv();
  t.after(env.cleanup);
  if (!isRoot) return t.skip('needs root to bind-mount');
  write(path.join(env.lib, 'a.txt'), 'a');
  const bound = path.join(env.lib, 'bound');
  fs.mkdirSync(bound);
  execFileSync('mount', ['--bind', env.disk, bound]);
  // Unmounted in `finally`, before env.cleanup removes the folders.
  try {
    let r = blaine(['backup', '--init', '--label', 'V', '--dest', env.disk, '--db', env.db, ...NO_PARITY, env.lib]);
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`the disk ${env.disk} is mounted again at ${bound}, inside the data path ${env.lib}.*--exclude /bound/`));
    assert.deepEqual(fs.readdirSync(env.disk), [], 'nothing was made on the refused disk');
    r = blaine(['backup', '--init', '--label', 'V', '--dest', env.disk, '--db', env.db, '--exclude', '/bound/', ...NO_PARITY, env.lib]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.deepEqual(rows(env.db).map((x) => x.path), [`${env.lib}/a.txt`]);
  } finally {
    unmount(bound);
  }
});

test('catalogs, their snapshots and rotated copies are 0600 and their folders 0700; a key file readable by others is warned of', (t) => {
  const env = archived(t);
  const mode = (p: string) => (fs.statSync(p).mode & 0o777).toString(8);
  const blaineDir = path.join(env.disk, '.blaine');
  const check = () => {
    assert.equal(mode(path.dirname(env.db)), '700', 'host catalog folder');
    assert.equal(mode(env.db), '600', 'host catalog');
    assert.equal(mode(blaineDir), '700', '.blaine');
    for (const f of ['catalog.sqlite', 'host-catalog.sqlite']) assert.equal(mode(path.join(blaineDir, f)), '600', f);
    for (const f of fs.readdirSync(path.join(blaineDir, 'old'))) assert.equal(mode(path.join(blaineDir, 'old', f)), '600', f);
    for (const f of fs.readdirSync(blaineDir).filter((n) => /-(wal|shm)$/.test(n))) assert.equal(mode(path.join(blaineDir, f)), '600', f);
  };
  check();
  // A disk made before: its catalog and .blaine are tightened by the next run that writes it.
  fs.chmodSync(path.join(blaineDir, 'catalog.sqlite'), 0o644);
  fs.chmodSync(blaineDir, 0o755);
  write(path.join(env.lib, 'new.txt'), 'new');
  assert.equal(blaine(['backup', '--dest', env.disk, '--db', env.db, ...NO_PARITY, env.lib]).status, 0);
  check();
  // A run killed mid-way leaves its journal: private too.
  write(path.join(env.lib, 'newer.txt'), 'newer');
  const killed = blaine(['backup', '--dest', env.disk, '--db', env.db, ...NO_PARITY, env.lib], { env: { BLAINE_TEST_FAULTS: `rename:1:crash@${env.lib}` } });
  assert.notEqual(killed.status, 0);
  assert.equal(mode(path.join(blaineDir, 'journal')), '600', 'journal');
  const key = path.join(env.base, 'key');
  fs.writeFileSync(key, 'a secret key\n', { mode: 0o644 });
  fs.chmodSync(key, 0o644);
  let r = blaine(['list', '--dest', env.disk, '--key-file', key]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`warning: the key file ${key} can be read by other users \\(mode 0644\\).*chmod 600 ${key}`));
  fs.chmodSync(key, 0o600);
  r = blaine(['list', '--dest', env.disk, '--key-file', key]);
  assert.doesNotMatch(r.stderr, /key file/);
});

test('a read-only disk (real ext4, remount ro): writers say so; verify, list --dest and restore work on it', (t) => {
  const env = loopDiskEnv(t, '64M');
  const img = env.img;
  if (!img) return t.skip('needs root to mount a loop ext4');
  write(path.join(env.lib, 'photos', 'a.jpg'), crypto.randomBytes(30000));
  write(path.join(env.lib, 'photos', 'b.jpg'), crypto.randomBytes(20000));
  fs.linkSync(path.join(env.lib, 'photos', 'a.jpg'), path.join(env.lib, 'photos', 'a2.jpg'));
  let r = blaine(['backup', '--init', '--label', 'V', '--dest', env.disk, '--db', env.db, '--reserve', '0', env.lib]);
  assert.equal(r.status, 0, r.stderr);
  execFileSync('mount', ['-o', 'remount,ro', env.disk]);
  const before = stateOf(env.disk, env.db);
  for (const args of [
    ['backup', '--dest', env.disk, '--db', env.db, ...NO_PARITY, env.lib],
    ['verify', '--fix', '--dest', env.disk, '--db', env.db],
    ['apply', '--dest', env.disk, '--db', env.db],
    ['rebuild-catalog', '--dest', env.disk, '--db', path.join(env.base, 'other.sqlite')],
  ]) {
    r = blaine(args);
    if (args[0] === 'rebuild-catalog') {
      // Only reads an undamaged disk: it works.
      assert.equal(r.status, 0, r.stderr);
      continue;
    }
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${env.disk} is mounted read-only, and this command writes to the disk: remount it read-write`));
    assert.doesNotMatch(r.stderr, /rebuild-catalog|unable to open/);
  }
  r = blaine(['verify', '--checksum', '--dest', env.disk, '--db', env.db]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /3 catalogued path\(s\) compared, 3 file\(s\) read and checked; 0 problem\(s\)/);
  assert.match(r.stderr, /mounted read-only: it is verified as it is/);
  r = blaine(['list', '--dest', env.disk]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /a2\.jpg/);
  assertRestoresLibrary(env.lib, [env.disk], env.db, path.join(env.base, 'restore'));
  assert.equal(stateOf(env.disk, env.db).replace(/\nhost .*$/, ''), before.replace(/\nhost .*$/, ''), 'the read-only disk is as it was');
});
