// Source faults (SPEC §5): a file written to while it is copied, a data path whose file
// system goes away in the middle of a run, and a host disk too full for the host catalog to grow.
// The first two run on the fault-injecting layer (src/fsx/fault.ts, no root needed); the last needs
// a real small tmpfs (root) under the host catalog.
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { backup, assertArchiveHolds, assertDiskMatchesCatalog, blaine, mountTmpfs, rows, sha256, testEnv, unmount, write } from '../../test/helpers.js';
import { ONE_SCAN_THREAD } from '../../test/crash.js';

/** Every backup of these tests: no parity, every action said. */
const RUN_FLAGS = ['--no-parity', '-v'];

type Env = ReturnType<typeof testEnv>;

function library(lib: string): void {
  for (let i = 0; i < 6; i++) write(path.join(lib, 'photos', `p${i}.jpg`), crypto.randomBytes(30_000 + i * 1000));
  // Above copy.ts's small-file size, so the pipelined (asynchronous) reads are the ones changed.
  write(path.join(lib, 'video', 'busy.mkv'), crypto.randomBytes(600_000));
}

for (const file of ['photos/p3.jpg', 'video/busy.mkv']) {
  test(`a file written to once while copied (${file}) is copied again, and catalogued with the SHA-256 of what is stored`, (t) => {
    const env = testEnv('blaine-srcfault-');
    t.after(env.cleanup);
    library(env.lib);
    const src = path.join(env.lib, file);
    const r = backup(env, [...RUN_FLAGS, '--init'], { env: ONE_SCAN_THREAD, faults: `read:1:change@${src}` });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /changed while it was copied; copying it again/);
    const row = rows(env.db).find((x) => x.path === src);
    assert.ok(row, `${src} is catalogued`);
    assert.equal(row.sha256, sha256(fs.readFileSync(src)), 'the SHA-256 of the file as it is now');
    assert.equal(row.size, fs.statSync(src).size);
    assertDiskMatchesCatalog(env.disk, env.db);
    assertArchiveHolds(env.lib, [env.disk]);
  });
}

test('a file that keeps changing while copied is skipped with a warning and exit 1, never catalogued; the next run stores it', (t) => {
  const env = testEnv('blaine-srcfault-');
  t.after(env.cleanup);
  library(env.lib);
  const src = path.join(env.lib, 'video', 'busy.mkv');
  const r = backup(env, [...RUN_FLAGS, '--init'], { env: ONE_SCAN_THREAD, faults: `read:1+:change@${src}` });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /warning: Cannot copy .*busy\.mkv: it changed while being copied .* twice; skipped/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.ok(!rows(env.db).some((x) => x.path === src), 'not catalogued');
  assertDiskMatchesCatalog(env.disk, env.db);
  assert.deepEqual(fs.readdirSync(path.join(env.disk, '.blaine', 'tmp')), [], 'no half copy left');
  const again = backup(env, RUN_FLAGS, { env: ONE_SCAN_THREAD });
  assert.equal(again.status, 0, again.stderr);
  assertDiskMatchesCatalog(env.disk, env.db);
  assertArchiveHolds(env.lib, [env.disk]);
});

/** Fills the file system holding `dir` up to `leave` bytes free (a filler file; remove it to free the space). */
function fillUp(dir: string, leave: number): string {
  const filler = path.join(dir, 'filler');
  const st = fs.statfsSync(dir);
  const free = st.bavail * st.bsize;
  if (free > leave) fs.writeFileSync(filler, Buffer.alloc(free - leave));
  return filler;
}

test('a host disk too full for the host catalog: one sentence, exit 1, nothing lost; with space the rerun converges', (t) => {
  const env = testEnv('blaine-hostfull-');
  const hostDir = path.dirname(env.db);
  const mounted = mountTmpfs(hostDir, '16m');
  t.after(() => {
    if (mounted) unmount(hostDir);
    env.cleanup();
  });
  if (!mounted) return t.skip('needs root to mount a small tmpfs for the host catalog');
  library(env.lib);
  const first = backup(env, [...RUN_FLAGS, '--init'], { env: ONE_SCAN_THREAD });
  assert.equal(first.status, 0, first.stderr);
  for (let i = 0; i < 3000; i++) write(path.join(env.lib, 'many', `d${i % 30}`, `a-rather-long-file-name-to-fill-catalog-pages-${i}.txt`), `file ${i}\n`);
  const filler = fillUp(hostDir, 96 << 10);
  const r = backup(env, RUN_FLAGS, { env: ONE_SCAN_THREAD });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('blaine:') || l.startsWith('error'));
  assert.doesNotMatch(r.stderr, /\n\s+at |internal error/, 'no stack trace, no internal error');
  assert.match(r.stderr, new RegExp(`the disk holding the host catalog \\(${hostDir}\\) is full`), errors.join('\n'));
  // No room at all: the first write to the host catalog, wherever it is, fails the same way.
  fs.rmSync(filler);
  const full = fillUp(hostDir, 0);
  const none = backup(env, RUN_FLAGS, { env: ONE_SCAN_THREAD });
  assert.equal(none.status, 1, none.stdout + none.stderr);
  assert.doesNotMatch(none.stderr, /\n\s+at |internal error/, 'no stack trace, no internal error');
  assert.match(none.stderr, /the disk holding the host catalog .* is full/);
  fs.rmSync(full);
  const again = backup(env, RUN_FLAGS, { env: ONE_SCAN_THREAD });
  assert.equal(again.status, 0, again.stderr);
  assertDiskMatchesCatalog(env.disk, env.db);
  assertArchiveHolds(env.lib, [env.disk]);
  const v = blaine(['verify', '--checksum', '--dest', env.disk, '--db', env.db]);
  assert.equal(v.status, 0, v.stdout + v.stderr);
});

for (const errno of ['ENOENT', 'EIO']) {
  test(`a data path whose file system goes away after the scan (every call ${errno}) loses nothing from the archive`, (t) => {
    const env = testEnv('blaine-srcfault-');
    t.after(env.cleanup);
    library(env.lib);
    const first = backup(env, [...RUN_FLAGS, '--init'], { env: ONE_SCAN_THREAD });
    assert.equal(first.status, 0, first.stderr);
    const before = new Map(rows(env.db).map((r) => [r.path, r.sha256]));
    // Replacements, new files and a rename: all of them need the data path after the scan.
    for (let i = 0; i < 3; i++) write(path.join(env.lib, 'photos', `p${i}.jpg`), crypto.randomBytes(31_000));
    write(path.join(env.lib, 'new', 'n.txt'), 'new\n');
    fs.renameSync(path.join(env.lib, 'photos', 'p5.jpg'), path.join(env.lib, 'photos', 'p5-renamed.jpg'));
    // From the second file opened on, the data path answers every call with the error, as an unmounted or dead disk does.
    const lib = `^${env.lib}/`;
    const r = backup(env, [...RUN_FLAGS, '--clean'], { env: ONE_SCAN_THREAD, faults: `open:2+:${errno}@${lib},stat:1+:${errno}@${lib},read:1+:${errno}@${lib},readdir:1+:${errno}@${lib}` });
    // Files gone (ENOENT) are simply gone (SPEC §5): hashing the replaced ones finds them so, and
    // the mass-delete guard keeps their archived copies (exit 1); unreadable ones (EIO) are skipped with a warning.
    assert.equal(r.status, 1, r.stdout + r.stderr);
    if (errno === 'ENOENT') assert.match(r.stderr, /nothing removed: the run would remove/);
    if (errno === 'EIO') assert.match(r.stderr, /warning: Cannot read .*p0\.jpg: i\/o error/);
    assert.doesNotMatch(r.stderr, /\n\s+at |internal error/, 'no stack trace');
    assertDiskMatchesCatalog(env.disk, env.db);
    const after = new Map(rows(env.db).map((x) => [x.path, x.sha256]));
    const p5 = path.join(env.lib, 'photos', 'p5.jpg');
    for (const [p, sum] of before) {
      // The rename is made on the disk from the catalog alone; everything else keeps at least what it had.
      const now = after.get(p === p5 ? path.join(env.lib, 'photos', 'p5-renamed.jpg') : p) ?? after.get(p);
      assert.ok(now !== undefined, `${p} was removed from the archive`);
      if (now !== sum) assert.equal(now, sha256(fs.readFileSync(p)), `${p}: catalogued with content it never had`);
    }
    const again = backup(env, [...RUN_FLAGS, '--clean'], { env: ONE_SCAN_THREAD });
    assert.equal(again.status, 0, again.stderr);
    assertDiskMatchesCatalog(env.disk, env.db);
    assertArchiveHolds(env.lib, [env.disk]);
  });
}
