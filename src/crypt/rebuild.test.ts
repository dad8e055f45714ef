/**
 * Encrypted disks and a lost host catalog: rebuild-catalog reads the snapshot through a
 * read-only gocryptfs mount and always removes it, a wrong key changes nothing; and the free-space
 * check counts gocryptfs's overhead, so a disk fills up before a copy, never in the middle of one.
 * Real gocryptfs on small real disks (tmpfs); skipped with the reason where that is not possible.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { assertNoMounts, blaine, isRoot, mountTmpfs, tempDir, volumeOf, write, type RunResult, expectOk, encryptedTestEnv } from '../../test/helpers.js';
import { dropHost, fidelity, HOST_FILES, hostState } from '../../test/recovery.js';
import { initCipher, mountCipher } from './gocryptfs.js';
import { cipherBytes } from './overhead.js';
import { cryptUnavailable, fastScrypt } from './testing.js';

fastScrypt();
const fuse = cryptUnavailable();
const skip = !isRoot ? 'needs root for tmpfs disks' : fuse;
const KEY = 'rebuild me from the offsite disk 7';

const setup = (t: { after: (fn: () => void) => void }) => encryptedTestEnv(t, 'blaine-crypt-rebuild-', KEY, { env: { BLAINE_SCAN_THREADS: '1' } });


function oneLine(r: RunResult, status: number, pattern: RegExp, what: string): void {
  assert.equal(r.status, status, `${what}: exit ${r.status}\n${r.stderr}`);
  assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: one line:\n${r.stderr}`);
  assert.match(r.stderr, pattern, what);
}

test('rebuild-catalog from an encrypted disk: identical host catalog, no mount left, a wrong key changes nothing; then apply and restore', { skip }, (t) => {
  const s = setup(t);
  const A = s.disk('A');
  const C = s.disk('C');
  write(path.join(s.lib, 'album', 'one.jpg'), crypto.randomBytes(30_000));
  write(path.join(s.lib, 'album', 'two.jpg'), crypto.randomBytes(20_000));
  fs.chmodSync(path.join(s.lib, 'album', 'two.jpg'), 0o640);
  fs.linkSync(path.join(s.lib, 'album', 'one.jpg'), path.join(s.lib, 'one-again.jpg'));
  fs.symlinkSync('album/two.jpg', path.join(s.lib, 'two-link'));
  expectOk(s.withKey(['backup', '--init', '--encrypt', '--label', 'A', '--dest', A, s.lib]), 'backup A');
  fs.renameSync(path.join(s.lib, 'album', 'two.jpg'), path.join(s.lib, 'album', 'two-renamed.jpg'));
  fs.rmSync(path.join(s.lib, 'two-link'));
  fs.symlinkSync('album/two-renamed.jpg', path.join(s.lib, 'two-link'));
  write(path.join(s.lib, 'album', 'three.jpg'), crypto.randomBytes(15_000));
  expectOk(s.withKey(['backup', '--init', '--encrypt', '--label', 'C', '--dest', C, '--clean', s.lib]), 'backup C: A gets deferred actions');
  const before = hostState(s.db);
  assert.ok(before.deferred.length > 0, 'actions are queued for A');
  dropHost(s.db);
  const hostDir = path.dirname(s.db);

  oneLine(s.withKey(['backup', '--dest', C, s.lib]), 1, /no host catalog.*blaine rebuild-catalog --dest/, 'backup without a host catalog');
  oneLine(s.withKey(['restore', '--dest', C, '--to', path.join(s.base, 'r0'), '*']), 1, /no host catalog.*`blaine rebuild-catalog --dest \S+ --key-file KEYFILE`/, 'restore without a host catalog');
  assert.ok(!fs.existsSync(path.join(s.base, 'r0')), 'the refused restore made nothing');
  assertNoMounts(A, C);
  const wrongKey = path.join(s.base, 'wrong-key');
  fs.writeFileSync(wrongKey, 'not the key\n', { mode: 0o600 });
  oneLine(s.run(['rebuild-catalog', '--dest', C, '--key-file', wrongKey]), 1, /^blaine: wrong key/, 'rebuild-catalog with a wrong key');
  oneLine(s.run(['rebuild-catalog', '--dest', C], { BLAINE_KEY: '' }), 2, /encrypted and no key was given/, 'rebuild-catalog without a key');
  assertNoMounts(C);
  assert.ok(!fs.existsSync(s.db), 'no host catalog made');
  assert.deepEqual(fs.readdirSync(hostDir).filter((n) => n !== 'catalog.sqlite.lock'), [], 'nothing left beside it');

  expectOk(s.withKey(['rebuild-catalog', '--dest', C]), 'rebuild-catalog');
  assertNoMounts(A, C);
  assert.deepEqual(fs.readdirSync(hostDir).sort(), HOST_FILES);
  const after = hostState(s.db);
  assert.deepEqual(after.files, before.files, 'files, row by row');
  assert.deepEqual(after.deferred, before.deferred, 'pending actions, row by row');
  assert.deepEqual(after.volumes, before.volumes);
  assert.deepEqual(after.copies, before.copies);
  // The offline disk given too: older than the host for its volume, it changes nothing.
  expectOk(s.withKey(['rebuild-catalog', '--dest', A]), 'rebuild-catalog from the older disk');
  assertNoMounts(A, C);
  assert.deepEqual(hostState(s.db), after, 'an older disk changes nothing');

  // Before any apply: A still holds two.jpg under its old name; read-only mounts, always removed.
  const early = path.join(s.base, 'restored-early');
  for (const d of [A, C]) expectOk(s.withKey(['restore', '--dest', d, '--to', early, '*']), `restore from ${d} before apply`);
  assertNoMounts(A, C);
  const now = fidelity(s.lib);
  assert.deepEqual(fidelity(path.join(early, s.lib.slice(1))), now, 'restored before apply: the library as the host catalog knows it');

  expectOk(s.withKey(['apply', '--dest', A]), 'apply A');
  write(path.join(s.lib, 'album', 'four.jpg'), crypto.randomBytes(5_000));
  expectOk(s.withKey(['backup', '--dest', C, s.lib]), 'backup C');
  assertNoMounts(A, C);
  const to = path.join(s.base, 'restored');
  for (const d of [A, C]) expectOk(s.withKey(['restore', '--dest', d, '--to', to, '*']), `restore from ${d}`);
  assertNoMounts(A, C);
  const got = fidelity(path.join(to, s.lib.slice(1)));
  const want = fidelity(s.lib);
  assert.deepEqual(got.entries, want.entries, 'restored files differ from the library');
  assert.deepEqual(got.groups, want.groups, 'hardlink groups differ');
});

test('cipherBytes is what gocryptfs really writes, for every size class', { skip: fuse }, (t) => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'blaine-overhead-'));
  t.after(() => fs.rmSync(base, { recursive: true, force: true }));
  const cipher = path.join(base, 'c');
  initCipher(cipher, KEY);
  const mount = mountCipher(cipher, KEY, { tag: 'overhead-test' });
  const sizes = [0, 1, 17, 4095, 4096, 4097, 8192, 12_293, 100_000, 1 << 20, (1 << 20) + 1];
  try {
    sizes.forEach((n, i) => fs.writeFileSync(path.join(mount.mountPoint, `f${i}`), crypto.randomBytes(n)));
  } finally {
    mount.unmount();
  }
  const written = fs
    .readdirSync(cipher)
    .filter((n) => !n.startsWith('gocryptfs.'))
    .map((n) => fs.statSync(path.join(cipher, n)).size)
    .sort((a, b) => a - b);
  assert.deepEqual(written, sizes.map(cipherBytes).sort((a, b) => a - b));
});

test('an encrypted disk fills up before a copy, with gocryptfs overhead counted, never in the middle of one', { skip }, (t) => {
  const s = setup(t);
  // Below 256 MB free, no longer catalog log is allowed for, so the run's own headroom stays near 1 MiB.
  const D = s.disk('D', '240m');
  write(path.join(s.lib, 'small.txt'), 'the first file');
  expectOk(s.withKey(['backup', '--init', '--encrypt', '--no-parity', '--dest', D, s.lib]), 'backup --init');
  const st = fs.statfsSync(D);
  const free = st.bavail * st.bsize;
  // Fits by its plain size with 1.5 MiB to spare; its ~0.78% overhead (about 1.8 MiB) does not.
  const size = Math.floor((free - 1.5 * 2 ** 20) / 4096) * 4096;
  assert.ok(cipherBytes(size) - size > 1.7 * 2 ** 20, 'the test file is large enough for the overhead to matter');
  const big = path.join(s.lib, 'big.bin');
  const fd = fs.openSync(big, 'w');
  const chunk = crypto.randomBytes(1 << 20);
  for (let done = 0; done < size; done += chunk.length) fs.writeSync(fd, chunk, 0, Math.min(chunk.length, size - done));
  fs.closeSync(fd);

  const r = s.withKey(['backup', '--dest', D, '--no-parity', '--json', s.lib]);
  assert.equal(r.status, 3, `disk full: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, /needs [\d.]+ [KMGT]?B with parity and reserve, [\d.]+ [KMGT]?B free \([\d.]+ [KMGT]?B short\)/, 'stopped by the free-space check');
  assert.doesNotMatch(r.stderr, /while copying/, 'the disk did not run out during the copy');
  assertNoMounts(D);
  const after = fs.statfsSync(D);
  assert.ok(Math.abs(after.bavail * after.bsize - free) < 2 ** 20, 'nothing of the large file was written');
});
