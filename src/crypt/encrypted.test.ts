/**
 * Encrypted disks end to end, through the real executable, real gocryptfs mounts and small real
 * disks (tmpfs). What a lost disk must not reveal, what the owner must get back, and that no
 * command leaves a mount behind, however it ends.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertNoMounts, assertDiskMatchesCatalog, blaine, blaineBin, isRoot, mountTmpfs, rows, tempDir, volumeOf, write, type RunResult, expectOk, encryptedTestEnv } from '../../test/helpers.js';
import { mountsOf, readMounts } from './gocryptfs.js';
import { cryptUnavailable, fastScrypt } from './testing.js';

fastScrypt();
const skip = !isRoot ? 'needs root for tmpfs disks' : cryptUnavailable();
const KEY = 'correct horse battery staple 42';

const setup = (t: { after: (fn: () => void) => void }) => encryptedTestEnv(t, 'blaine-crypt-', KEY, { busyFails: true });


/** Opens an encrypted disk the way the README tells a person to: gocryptfs and the key file. */
function openByHand(disk: string, keyFile: string, opts: { rw?: boolean } = {}): { dir: string; close(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blaine-by-hand-'));
  execFileSync('gocryptfs', ['-q', ...(opts.rw ? [] : ['-ro']), '-passfile', keyFile, path.join(disk, '.blaine', 'cipher'), dir], { stdio: 'pipe' });
  return {
    dir,
    close() {
      execFileSync('fusermount3', ['-u', dir]);
      // gocryptfs holds the cipher directory until it has ended.
      for (let i = 0; i < 100 && spawnSync('pgrep', ['-f', `gocryptfs.* ${dir}$`]).status === 0; i++) spawnSync('sleep', ['0.05']);
      fs.rmdirSync(dir);
    },
  };
}

function checkThroughMount(disk: string, keyFile: string, db: string, parity = true): void {
  // Read-write: SQLite opens a catalog in WAL mode only where it can make its shared-memory file.
  const view = openByHand(disk, keyFile, { rw: true });
  try {
    assertDiskMatchesCatalog(view.dir, db, { parity, volume: volumeOf(disk).volume });
  } finally {
    view.close();
  }
}

/** Every name and every file's bytes on the raw disk, as a thief would see them. */
function rawDisk(disk: string): { names: string[]; files: Array<{ rel: string; bytes: Buffer }> } {
  const names: string[] = [];
  const files: Array<{ rel: string; bytes: Buffer }> = [];
  const walk = (dir: string, rel: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      names.push(r);
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full, r);
      else if (e.isFile()) files.push({ rel: r, bytes: fs.readFileSync(full) });
      else if (e.isSymbolicLink()) files.push({ rel: r, bytes: Buffer.from(fs.readlinkSync(full)) });
    }
  };
  walk(disk, '');
  return { names, files };
}

/**
 * Path, content and metadata of every entry below dir, and which of them are hardlinked together.
 * mtimes are compared to `mtimePrecisionNs` (default: the microsecond).
 */
function snapshotTree(dir: string, mtimePrecisionNs = 1000n): { entries: Map<string, string>; linkGroups: string[][] } {
  const entries = new Map<string, string>();
  const byInode = new Map<string, string[]>();
  const walk = (d: string, rel: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const full = path.join(d, e.name);
      const st = fs.lstatSync(full, { bigint: true });
      if (e.isDirectory()) {
        walk(full, r);
        continue;
      }
      const what = e.isSymbolicLink() ? `link:${fs.readlinkSync(full)}` : `sha256:${crypto.createHash('sha256').update(fs.readFileSync(full)).digest('hex')}`;
      entries.set(r, `${what} mode:${(st.mode & 0o7777n).toString(8)} uid:${st.uid} mtime:${st.mtimeNs / mtimePrecisionNs}`);
      if (e.isFile()) byInode.set(`${st.ino}`, [...(byInode.get(`${st.ino}`) ?? []), r]);
    }
  };
  walk(dir, '');
  const linkGroups = [...byInode.values()].filter((g) => g.length > 1).map((g) => g.sort()).sort();
  return { entries, linkGroups };
}

test('after a backup onto an encrypted disk, no name and no byte of the library is on the raw disk; the key is nowhere', { skip }, (t) => {
  const s = setup(t);
  const A = s.disk('A');
  const names = ['Secret-Holiday-Album', 'Beach-Day-Kids', 'sunset-over-the-bay.jpg', 'diary-entries.txt', 'passport-scan.pdf', 'recovery.par2'];
  const markers = ['SUNSET-PIXELS-MARKER-4711', 'DEAR-DIARY-MARKER-0815', 'PASSPORT-NUMBER-MARKER-1234'];
  const random = crypto.randomBytes(300_000);
  write(path.join(s.lib, names[0]!, names[1]!, names[2]!), markers[0]!.repeat(200));
  write(path.join(s.lib, names[0]!, names[3]!), markers[1]!.repeat(3));
  write(path.join(s.lib, names[4]!), Buffer.concat([Buffer.from(markers[2]!), random]));
  write(path.join(s.lib, names[5]!), 'a user file that happens to be named like parity');
  fs.linkSync(path.join(s.lib, names[0]!, names[3]!), path.join(s.lib, 'diary-hardlink-name.txt'));
  fs.symlinkSync(`${names[0]}/${names[3]}`, path.join(s.lib, 'symlink-to-the-diary'));
  const logFile = path.join(s.base, 'run.log');

  const r = s.withKey(['backup', '--init', '--encrypt', '--label', 'offsite', '--dest', A, '-v', '--log-file', logFile, s.lib]);
  expectOk(r, 'backup --init --encrypt');
  assertNoMounts(A);
  const info = volumeOf(A) as ReturnType<typeof volumeOf> & { encrypted: boolean };
  assert.equal(info.encrypted, true, 'volume.json says the disk is encrypted');

  const raw = rawDisk(A);
  // In the clear: the identity, gocryptfs's config, and cipher text below .blaine/cipher.
  for (const n of raw.names) {
    assert.ok(['.blaine', '.blaine/volume.json', '.blaine/cipher'].includes(n) || n.startsWith('.blaine/cipher/'), `${n} is in the clear`);
  }
  const secrets = [...names, 'diary-hardlink-name', 'symlink-to-the-diary', path.basename(s.base), 'catalog.sqlite', 'parity'];
  for (const n of raw.names) for (const secret of secrets) assert.ok(!n.includes(secret), `the raw name ${n} reveals ${secret}`);
  const window = random.subarray(150_000, 150_064);
  for (const f of raw.files) {
    for (const m of [...markers, ...secrets]) assert.ok(!f.bytes.includes(m), `${f.rel} holds "${m}" in the clear`);
    assert.ok(!f.bytes.includes(window), `${f.rel} holds bytes of passport-scan.pdf in the clear`);
    assert.ok(!f.bytes.includes(KEY), `${f.rel} holds the key`);
  }
  // The key is in no catalog and no log either.
  assert.ok(!fs.readFileSync(s.db).includes(KEY), 'the host catalog holds the key');
  const log = fs.readFileSync(logFile, 'utf8');
  assert.match(log, /sunset-over-the-bay/, 'the log is a full one');
  assert.ok(!log.includes(KEY), 'the log holds the key');
  assert.ok(!(r.stdout + r.stderr).includes(KEY));
  // Through the mount, the disk holds exactly what its catalog says, with parity.
  checkThroughMount(A, s.keyFile, s.db);
});

test('blaine mount shows the disk read-only until SIGTERM, with the key in no process argument list', { skip }, async (t) => {
  const s = setup(t);
  const A = s.disk('A');
  write(path.join(s.lib, 'album', 'photo-one.jpg'), 'photo one');
  expectOk(s.withKey(['backup', '--init', '--encrypt', '--dest', A, s.lib]), 'backup');
  const mnt = path.join(s.base, 'browse');
  fs.mkdirSync(mnt);
  const child = spawn(process.execPath, [blaineBin, 'mount', '--dest', A, mnt], { env: { ...process.env, BLAINE_KEY: KEY }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    for (let i = 0; i < 200 && !readMounts().some((m) => m.mountPoint === mnt); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(readMounts().some((m) => m.mountPoint === mnt), `mounted at ${mnt}: ${output}`);
    assert.equal(fs.readFileSync(path.join(mnt, s.lib, 'album', 'photo-one.jpg'), 'utf8'), 'photo one');
    assert.throws(() => fs.writeFileSync(path.join(mnt, 'new-file'), 'x'), { code: 'EROFS' });
    for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      let argv = '';
      try {
        argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      assert.ok(!argv.includes(KEY), `process ${pid} has the key in its arguments: ${argv.replace(/\0/g, ' ')}`);
    }
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, output);
  assert.ok(!readMounts().some((m) => m.mountPoint === mnt), 'unmounted');
  assert.deepEqual(fs.readdirSync(mnt), [], 'the mount point is left as it was');
  assertNoMounts(A);
});

test('lifecycle on encrypted disks: offline changes, apply, restore with metadata, rot repaired, clone with the same key', { skip }, (t) => {
  const s = setup(t);
  const A = s.disk('A');
  const B = s.disk('B');
  const A2 = s.disk('A2');
  const L = (rel: string) => path.join(s.lib, rel);
  for (let i = 0; i < 12; i++) write(L(`photos/${i % 3}/img-${i}.jpg`), crypto.randomBytes(20_000 + i * 777));
  write(L('music/song.flac'), crypto.randomBytes(150_000));
  fs.chmodSync(L('music/song.flac'), 0o640);
  write(L('scripts/run.sh'), '#!/bin/sh\necho hi\n');
  fs.chmodSync(L('scripts/run.sh'), 0o755);
  fs.linkSync(L('photos/0/img-0.jpg'), L('photos/same-as-img-0.jpg'));
  fs.symlinkSync('../music/song.flac', L('photos/song-link'));
  fs.utimesSync(L('photos/1/img-1.jpg'), new Date('2019-07-01T10:00:00.123Z'), new Date('2019-07-01T10:00:00.123Z'));
  const all = [A, B, A2];
  const step = (r: RunResult, what: string) => {
    expectOk(r, what);
    assertNoMounts(...all);
  };

  step(s.withKey(['backup', '--init', '--encrypt', '--label', 'A', '--dest', A, s.lib]), 'first backup onto A');
  checkThroughMount(A, s.keyFile, s.db);

  // A goes offsite; the library changes; B (also encrypted) takes the changes, A's are deferred.
  fs.renameSync(L('photos/0/img-3.jpg'), L('photos/0/img-3-renamed.jpg'));
  fs.rmSync(L('photos/1/img-4.jpg'));
  fs.writeFileSync(L('photos/2/img-5.jpg'), crypto.randomBytes(9_999));
  fs.linkSync(L('photos/0/img-6.jpg'), L('photos/img-6-again.jpg'));
  write(L('new/arrival.jpg'), crypto.randomBytes(33_333));
  step(s.withKey(['backup', '--init', '--encrypt', '--label', 'B', '--dest', B, '--clean', '--max-delete', '50', s.lib]), 'backup onto B');
  const pending = JSON.parse(s.run(['pending', '--json']).stdout) as unknown[];
  assert.ok(pending.length >= 3, `actions deferred for A: ${pending.length}`);
  checkThroughMount(B, s.keyFile, s.db);

  // A returns: its queue is applied through the mount.
  step(s.withKey(['apply', '--dest', A]), 'apply on A');
  assert.deepEqual(JSON.parse(s.run(['pending', '--json']).stdout), []);
  checkThroughMount(A, s.keyFile, s.db);

  // list --dest reads A's own catalog through a read-only mount.
  const listed = s.withKey(['list', '--dest', A, '--local', '--json']);
  step(listed, 'list --dest A');
  const listedPaths = (JSON.parse(listed.stdout) as Array<{ path: string }>).map((e) => e.path).sort();
  assert.deepEqual(listedPaths, rows(s.db, volumeOf(A).volume).map((r) => r.path).sort());

  // Restore from both disks gives the library back: content, mode, owner, mtime to the ns, hardlinks.
  const out = path.join(s.base, 'restored');
  step(s.withKey(['restore', '--dest', A, '--to', out, '*']), 'restore from A');
  step(s.withKey(['restore', '--dest', B, '--to', out, '*']), 'restore from B');
  const want = snapshotTree(s.lib);
  const got = snapshotTree(path.join(out, s.lib));
  assert.deepEqual([...got.entries].sort(), [...want.entries].sort());
  assert.deepEqual(got.linkGroups, want.linkGroups);

  // Rot on A (written through a mount by hand): found, repaired from parity, then clean.
  const rot = openByHand(A, s.keyFile, { rw: true });
  try {
    const victim = path.join(rot.dir, L('music/song.flac'));
    const st = fs.statSync(victim);
    const fd = fs.openSync(victim, 'r+');
    fs.writeSync(fd, Buffer.from('ROTROTROT'), 0, 9, 70_000);
    fs.closeSync(fd);
    fs.utimesSync(victim, st.atime, st.mtime);
  } finally {
    rot.close();
  }
  const found = s.withKey(['verify', '--dest', A, '--checksum']);
  assert.equal(found.status, 4, found.stderr);
  assertNoMounts(...all);
  step(s.withKey(['verify', '--dest', A, '--checksum', '--fix']), 'verify --fix on A');
  step(s.withKey(['verify', '--dest', A, '--checksum']), 'verify after the fix');
  checkThroughMount(A, s.keyFile, s.db);

  // A clone of an encrypted disk is encrypted, and opens with the same key.
  step(s.withKey(['clone', '--dest', A, '--to', A2, '--label', 'A-prime']), 'clone A to A2');
  assert.equal((volumeOf(A2) as unknown as { encrypted: boolean }).encrypted, true);
  assert.ok(
    rawDisk(A2).names.every((n) => ['.blaine', '.blaine/volume.json', '.blaine/cipher'].includes(n) || n.startsWith('.blaine/cipher/')),
    'the clone is encrypted too',
  );
  step(s.withKey(['verify', '--dest', A2, '--checksum']), 'verify A2');
  checkThroughMount(A2, s.keyFile, s.db);
});

test('wrong key, no key, --encrypt on a disk with data, missing gocryptfs: one line, documented status, nothing changed', { skip }, (t) => {
  const s = setup(t);
  const A = s.disk('A');
  write(path.join(s.lib, 'a.txt'), 'a');
  expectOk(s.withKey(['backup', '--init', '--encrypt', '--dest', A, s.lib]), 'backup');
  const before = rawDisk(A);
  const oneLine = (r: RunResult, status: number, message: RegExp) => {
    assert.equal(r.status, status, r.stderr);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.match(r.stderr.trimEnd(), message);
    assert.deepEqual(rawDisk(A), before, 'the disk is unchanged');
    assertNoMounts(A);
  };
  const wrongKey = path.join(s.base, 'wrong');
  fs.writeFileSync(wrongKey, 'not the key\n', { mode: 0o600 });
  for (const cmd of [['verify'], ['list', '--local'], ['apply'], ['restore', '--to', path.join(s.base, 'out'), '*']]) {
    oneLine(s.run([...cmd, '--dest', A, '--key-file', wrongKey]), 1, /^blaine: wrong key: it does not open this encrypted disk$/);
  }
  oneLine(s.run(['backup', '--dest', A, s.lib], { BLAINE_KEY: 'also wrong' }), 1, /wrong key/);
  oneLine(s.run(['verify', '--dest', A], { BLAINE_KEY: '' }), 2, /^blaine: the disk ".*" at .* is encrypted and no key was given: pass --key-file FILE or set BLAINE_KEY$/);
  oneLine(s.run(['verify', '--dest', A, '--key-file', path.join(s.base, 'absent')]), 2, /key file .* does not exist/);
  oneLine(s.run(['verify', '--dest', A, '--key-file', s.keyFile], { PATH: '/nonexistent' }), 1, /apt-get install gocryptfs fuse3/);

  // --encrypt: only with --init, only on an empty disk, only where gocryptfs is.
  const B = s.disk('B');
  write(path.join(B, 'family-videos', 'old.mp4'), 'plain data already on the disk');
  const bBefore = rawDisk(B);
  const refused = s.withKey(['backup', '--init', '--encrypt', '--dest', B, s.lib]);
  assert.equal(refused.status, 1, refused.stderr);
  assert.match(refused.stderr, /^blaine: .* already holds files \(family-videos\); an encrypted disk must start empty/);
  assert.equal(refused.stderr.trimEnd().split('\n').length, 1);
  assert.deepEqual(rawDisk(B), bBefore);
  const noInit = s.withKey(['backup', '--encrypt', '--dest', A, s.lib]);
  assert.equal(noInit.status, 2, noInit.stderr);
  assert.match(noInit.stderr, /--encrypt goes with --init/);
  const C = s.disk('C');
  const noTool = s.run(['backup', '--init', '--encrypt', '--no-parity', '--dest', C, '--key-file', s.keyFile, s.lib], { PATH: '/nonexistent' });
  assert.equal(noTool.status, 1, noTool.stderr);
  assert.match(noTool.stderr.trimEnd(), /^blaine: encrypted disks need gocryptfs and fusermount3 \(FUSE\), which are not installed; install them \(Debian: apt-get install gocryptfs fuse3\)$/);
  assert.deepEqual(fs.readdirSync(C), [], 'the new disk is untouched');
  // A plain disk beside encrypted ones stays plain, and needs no key.
  const D = s.disk('D');
  write(path.join(s.lib, 'b.txt'), 'b');
  expectOk(s.run(['backup', '--init', '--no-parity', '--dest', D, s.lib]), 'plain backup without a key');
  assert.equal(fs.readFileSync(path.join(D, s.lib, 'b.txt'), 'utf8'), 'b');
});

/** Starts a backup and signals it once it has catalogued some files; resolves with its exit status. */
function signalledBackup(
  args: string[],
  db: string,
  signals: NodeJS.Signals[],
  toGroup = false,
): Promise<{ status: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const known = fs.existsSync(db) ? rows(db).length : 0;
  return new Promise((resolve, reject) => {
    // toGroup: as Ctrl-C at a terminal, to every process of the run's process group.
    const child = spawn(process.execPath, [blaineBin, ...args], { stdio: ['ignore', 'ignore', 'pipe'], detached: toGroup });
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setInterval(() => {
      if (sent) return;
      try {
        // Once this run has catalogued files of its own, it is in the middle of its work.
        if (fs.existsSync(db) && rows(db).length > known) {
          sent = true;
          for (const sig of signals) {
            if (toGroup) process.kill(-child.pid!, sig);
            else child.kill(sig);
          }
        }
      } catch {
        // the catalog is being written; look again
      }
    }, 20);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      resolve({ status: code, signal, stderr });
    });
  });
}

test('SIGINT (also to the process group), SIGTERM, a second Ctrl-C and kill -9 in the middle of a backup leave no mount behind (kill -9: the next run removes it)', { skip }, async (t) => {
  const s = setup(t);
  const A = s.disk('A', '60m');
  let n = 0;
  const more = () => {
    for (let i = 0; i < 250; i++, n++) write(path.join(s.lib, `d${n % 10}`, `f${n}.bin`), crypto.randomBytes(20_000));
  };
  more();
  const args = ['backup', '--dest', A, '--db', s.db, '--key-file', s.keyFile, '--reserve', '0', '--jobs', '1', s.lib];
  const first = await signalledBackup(['backup', '--init', '--encrypt', ...args.slice(1)], s.db, ['SIGINT']);
  assert.equal(first.status, 130, first.stderr);
  assertNoMounts(A);
  for (const signals of [['SIGTERM'], ['SIGINT', 'SIGINT']] as NodeJS.Signals[][]) {
    more();
    const r = await signalledBackup(args, s.db, signals);
    assert.equal(r.status, 130, `${signals.join('+')}: ${r.stderr}`);
    assertNoMounts(A);
  }
  // Ctrl-C at a terminal reaches the whole process group: the file system must outlive it.
  more();
  const atTerminal = await signalledBackup(args, s.db, ['SIGINT'], true);
  assert.equal(atTerminal.status, 130, atTerminal.stderr);
  assert.match(atTerminal.stderr, /interrupted; everything written so far is catalogued/);
  assertNoMounts(A);
  // An interrupted run may leave its last files without parity; the next run makes it.
  checkThroughMount(A, s.keyFile, s.db, false);
  more();
  const killed = await signalledBackup(args, s.db, ['SIGKILL']);
  assert.equal(killed.signal, 'SIGKILL');
  assert.equal(mountsOf(volumeOf(A).copy).length, 1, 'kill -9 leaves the mount (nothing can run after it)');
  const again = s.withKey(['backup', '--dest', A, s.lib]);
  expectOk(again, 'the run after kill -9');
  assertNoMounts(A);
  checkThroughMount(A, s.keyFile, s.db);
});

/** Runs blaine on a pseudo-terminal (util-linux `script`), typing each answer once its question is shown. */
function onTerminal(args: string[], answers: Array<[RegExp, string]>): Promise<{ status: number | null; screen: string }> {
  return new Promise((resolve, reject) => {
    const command = [process.execPath, blaineBin, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let next = 0;
    const onData = (d: Buffer) => {
      screen += d.toString();
      const a = answers[next];
      if (a && a[0].test(screen)) {
        next++;
        child.stdin.write(`${a[1]}\n`);
        if (next === answers.length) child.stdin.end();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('exit', (code) => resolve({ status: code, screen }));
  });
}

test('on a terminal the key is asked for (twice for a new disk) and never shown', { skip: skip || (spawnSync('script', ['--version']).status !== 0 && 'needs util-linux script for a pseudo-terminal') }, async (t) => {
  const s = setup(t);
  const A = s.disk('A');
  write(path.join(s.lib, 'a.txt'), 'a');
  const typed = 'typed at the terminal';
  const made = await onTerminal(['backup', '--init', '--encrypt', '--reserve', '0', '--dest', A, '--db', s.db, s.lib], [
    [/key for the new encrypted disk at .*: /, typed],
    [/the same key again: /, typed],
  ]);
  assert.equal(made.status, 0, made.screen);
  assert.ok(!made.screen.includes(typed), `the key was shown: ${made.screen}`);
  assertNoMounts(A);
  const byKey = path.join(s.base, 'typed-key');
  fs.writeFileSync(byKey, typed, { mode: 0o600 });
  checkThroughMount(A, byKey, s.db);
  const checked = await onTerminal(['verify', '--dest', A, '--db', s.db], [[/key for the disk ".*" at .*: /, typed]]);
  assert.equal(checked.status, 0, checked.screen);
  assert.ok(!checked.screen.includes(typed), checked.screen);
  const differ = await onTerminal(['backup', '--init', '--encrypt', '--dest', s.disk('B'), '--db', s.db, s.lib], [
    [/key for the new encrypted disk/, 'one key'],
    [/the same key again: /, 'another key'],
  ]);
  assert.equal(differ.status, 2, differ.screen);
  assert.match(differ.screen, /the two keys typed differ; nothing was changed/);
});

test('rot in the ciphertext (gocryptfs then answers EIO for the block) is repaired from parity by restore and verify --fix', { skip }, (t) => {
  const s = setup(t);
  const A = s.disk('A');
  const victim = crypto.randomBytes(150_000);
  write(path.join(s.lib, 'film', 'scan-0001.tif'), victim);
  write(path.join(s.lib, 'film', 'notes.txt'), 'notes');
  expectOk(s.withKey(['backup', '--init', '--encrypt', '--dest', A, s.lib]), 'backup');
  // gocryptfs stores 4 KiB blocks of 4096 + 32 bytes behind an 18-byte header.
  const cipherSize = 18 + victim.length + Math.ceil(victim.length / 4096) * 32;
  const raw = rawDisk(A).files.filter((f) => f.bytes.length === cipherSize);
  assert.equal(raw.length, 1, 'the ciphertext of the victim is found by its size');
  const rawPath = path.join(A, raw[0]!.rel);
  const fd = fs.openSync(rawPath, 'r+');
  for (const at of [20_000, 100_000]) fs.writeSync(fd, Buffer.from('ROT'), 0, 3, at);
  fs.closeSync(fd);

  const out = path.join(s.base, 'restored');
  const restored = s.withKey(['restore', '--dest', A, '--to', out, '--json', '*']);
  expectOk(restored, 'restore');
  assert.equal(JSON.parse(restored.stdout).repaired, 1);
  assert.ok(fs.readFileSync(path.join(out, s.lib, 'film', 'scan-0001.tif')).equals(victim), 'restored bytes are the original ones');
  const found = s.withKey(['verify', '--dest', A, '--checksum']);
  assert.equal(found.status, 4, found.stderr);
  // Messages name the disk, not the private mount point that is gone once the run ends.
  assert.ok(found.stdout.includes(`[encrypted disk ${A}]${s.lib}/film/scan-0001.tif`), found.stdout);
  assert.ok(!(found.stdout + found.stderr).includes('/run/blaine'), found.stdout);
  expectOk(s.withKey(['verify', '--dest', A, '--checksum', '--fix']), 'verify --fix');
  expectOk(s.withKey(['verify', '--dest', A, '--checksum']), 'verify after the fix');
  checkThroughMount(A, s.keyFile, s.db);
  assertNoMounts(A);
});
