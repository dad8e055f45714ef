import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { scratchDir } from '../../test/helpers.js';
import { CryptError, initCipher, mountCipher, mountsOf, readMounts, removeStaleMounts, requireTools } from './gocryptfs.js';
import { obtainKey } from './key.js';
import { hardLink, realFs, type Fsx } from '../fsx/fsx.js';
import { startWriteback, syncDisk } from '../fsx/durable.js';
import { fsAddon } from '../fsx/addon.js';
import { cryptUnavailable, deadPid, fastScrypt } from './testing.js';

fastScrypt();
const skip = cryptUnavailable();

/** A new gocryptfs cipher directory with `key`, in a scratch folder removed when the test ends. */
function newCipher(t: { after: (fn: () => void) => void }, key: string): { dir: string; cipher: string } {
  const dir = scratchDir(t);
  const cipher = path.join(dir, 'cipher');
  initCipher(cipher, key);
  return { dir, cipher };
}

function expectCryptError(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CryptError, `a CryptError, not ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

test('a key comes from the key file (one trailing newline dropped), else BLAINE_KEY, else nowhere without a terminal', (t) => {
  const dir = scratchDir(t);
  const file = path.join(dir, 'key');
  fs.writeFileSync(file, 'correct horse battery\n');
  assert.equal(obtainKey({ keyFile: file, env: 'from env', interactive: false, purpose: 'disk' }), 'correct horse battery');
  assert.equal(obtainKey({ env: 'from env', interactive: false, purpose: 'disk' }), 'from env');
  expectCryptError(() => obtainKey({ interactive: false, purpose: 'the disk "A"' }), 'NO_KEY', /the disk "A" is encrypted and no key was given: pass --key-file FILE or set BLAINE_KEY/);
  fs.writeFileSync(file, '\n');
  expectCryptError(() => obtainKey({ keyFile: file, interactive: false, purpose: 'disk' }), 'NO_KEY', /is empty/);
  fs.writeFileSync(file, 'two\nlines\n');
  expectCryptError(() => obtainKey({ keyFile: file, interactive: false, purpose: 'disk' }), 'NO_KEY', /single line/);
  expectCryptError(() => obtainKey({ keyFile: path.join(dir, 'none'), interactive: false, purpose: 'disk' }), 'NO_KEY', /does not exist/);
});

test('mountinfo fields are read with their octal escapes undone', () => {
  // Whatever is mounted here, every entry has a mount point and a type; the root is among them.
  const mounts = readMounts();
  assert.ok(mounts.some((m) => m.mountPoint === '/'), 'the root file system is listed');
  for (const m of mounts) assert.doesNotMatch(m.mountPoint, /\\[0-7]{3}/);
});

test('missing gocryptfs or fusermount is one sentence naming the Debian packages', () => {
  const saved = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    expectCryptError(() => requireTools(), 'NO_TOOL', /^encrypted disks need gocryptfs and fusermount3 \(FUSE\), which are not installed; install them \(Debian: apt-get install gocryptfs fuse3\)$/);
  } finally {
    process.env.PATH = saved;
  }
});

test('init, mount read-write, unmount; read-only refuses writes; the cipher directory shows no name or byte', { skip }, (t) => {
  const { cipher } = newCipher(t, 'a key with spaces');
  const rw = mountCipher(cipher, 'a key with spaces', { tag: 'test-rw' });
  try {
    assert.equal(mountsOf('test-rw').length, 1);
    fs.mkdirSync(path.join(rw.mountPoint, 'holiday-photos'));
    fs.writeFileSync(path.join(rw.mountPoint, 'holiday-photos', 'beach.jpg'), 'PLAINTEXT-MARKER-0123456789');
  } finally {
    rw.unmount();
  }
  assert.equal(mountsOf('test-rw').length, 0, 'unmounted');
  assert.ok(!fs.existsSync(rw.mountPoint), 'the private mount point is removed');
  rw.unmount();
  const raw: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      raw.push(e.name);
      if (e.isDirectory()) walk(path.join(d, e.name));
      else assert.ok(!fs.readFileSync(path.join(d, e.name)).includes('PLAINTEXT-MARKER'), `${e.name} holds clear text`);
    }
  };
  walk(cipher);
  assert.ok(!raw.some((n) => /holiday|beach/.test(n)), raw.join(' '));

  const ro = mountCipher(cipher, 'a key with spaces', { tag: 'test-ro', readonly: true });
  try {
    assert.equal(fs.readFileSync(path.join(ro.mountPoint, 'holiday-photos', 'beach.jpg'), 'utf8'), 'PLAINTEXT-MARKER-0123456789');
    assert.throws(() => fs.writeFileSync(path.join(ro.mountPoint, 'x'), 'y'), { code: 'EROFS' });
  } finally {
    ro.unmount();
  }
  expectCryptError(() => mountCipher(cipher, 'not the key', { tag: 'test-wrong' }), 'WRONG_KEY', /^wrong key/);
  assert.equal(mountsOf('test-wrong').length, 0);
});

test('a flush of a read-write mount (syncDisk before a catalog commit) syncs the file system holding the ciphertext too, and a big copy starts its write-back; of a read-only mount, only the mount', { skip }, (t) => {
  // syncfs of the FUSE mount returns at once and writes none of gocryptfs's ciphertext back.
  const { cipher } = newCipher(t, 'k');
  const cipherDev = fs.statSync(cipher).dev;
  let devs: number[] = [];
  const recording: Fsx = {
    ...realFs,
    syncfs(target: string) {
      devs.push(fs.statSync(target).dev);
      return realFs.syncfs(target);
    },
  };
  const rw = mountCipher(cipher, 'k', { tag: 'test-sync' });
  let fuseDev: number;
  try {
    fuseDev = fs.statSync(rw.mountPoint).dev;
    assert.notEqual(fuseDev, cipherDev);
    fs.mkdirSync(path.join(rw.mountPoint, 'films'));
    fs.writeFileSync(path.join(rw.mountPoint, 'films', 'reel.mkv'), Buffer.alloc(1 << 20, 7));
    // The copies' head start (copy-ahead.ts, after each big copy): the file system under the mount.
    assert.equal(startWriteback(path.join(rw.mountPoint, 'films')), path.resolve(cipher));
    syncDisk(rw.mountPoint, recording);
    syncDisk(path.join(rw.mountPoint, 'films'), recording);
  } finally {
    rw.unmount();
  }
  assert.deepEqual(devs, [fuseDev, cipherDev, fuseDev, cipherDev]);
  assert.equal(fsAddon()?.syncfsRunning?.(), false, 'the unmount waited for the write-back that held the disk open');
  assert.equal(startWriteback(cipher), null, 'a plain directory: its copies start their own write-back');

  devs = [];
  const ro = mountCipher(cipher, 'k', { tag: 'test-sync-ro', readonly: true });
  try {
    syncDisk(ro.mountPoint, recording);
    assert.deepEqual(devs, [fs.statSync(ro.mountPoint).dev]);
    assert.equal(startWriteback(ro.mountPoint), null);
  } finally {
    ro.unmount();
  }
});

test('a mount left by a process that is gone is removed by the next mount of the same tag', { skip }, (t) => {
  const { dir, cipher } = newCipher(t, 'k');
  const left = path.join(dir, 'left');
  fs.mkdirSync(left);
  // As a killed Blaine leaves it: gocryptfs still serving, its owner's pid gone.
  const gone = deadPid();
  const r = spawnSync('gocryptfs', ['-q', '-fsname', `blaine:test-stale:${gone}`, cipher, left], { input: 'k\n' });
  assert.equal(r.status, 0, String(r.stderr));
  assert.deepEqual(mountsOf('test-stale'), [{ mountPoint: left, pid: gone }]);
  const again = mountCipher(cipher, 'k', { tag: 'test-stale' });
  try {
    assert.deepEqual(mountsOf('test-stale').map((m) => m.pid), [process.pid], 'only the new mount');
  } finally {
    again.unmount();
  }
  assert.equal(removeStaleMounts('test-stale'), 0);
  assert.equal(readMounts().filter((m) => m.mountPoint === left).length, 0);
});

test('a new hard link on a gocryptfs mount reports the plain size at once (gocryptfs 2.3 reports the cipher size)', { skip }, (t) => {
  const { cipher } = newCipher(t, 'k');
  const m = mountCipher(cipher, 'k', { tag: 'test-link' });
  try {
    const a = path.join(m.mountPoint, 'a');
    fs.writeFileSync(a, Buffer.alloc(150_000, 7));
    for (let i = 0; i < 5; i++) {
      hardLink(a, path.join(m.mountPoint, `b${i}`));
      assert.equal(fs.statSync(path.join(m.mountPoint, `b${i}`)).size, 150_000);
      assert.equal(fs.statSync(a).size, 150_000);
    }
  } finally {
    m.unmount();
  }
});
