/**
 * The host catalog lost (SPEC §8): rebuilt from one disk's snapshot, refined by
 * disks given later (newest wins, newer queued actions kept), and refused — one sentence, nothing
 * changed — by every command that would otherwise start an empty one. Real files, real disks
 * (folders), the real executable; the invariants compare catalogs row by row and a full restore
 * by content and metadata.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { backup, assertDiskMatchesCatalog, blaine, testEnv, write, type RunResult, expectOk } from '../../test/helpers.js';
import { dropHost, fidelity, HOST_FILES, hostState, treeState } from '../../test/recovery.js';

/** Every backup of these tests: no parity, removals applied (up to 100 files). */
const RUN_FLAGS = ['--no-parity', '--clean', '--max-delete', '100'];

const SCAN = { BLAINE_SCAN_THREADS: '1' };
const T0 = Date.parse('2021-03-04T05:06:07Z');

type Env = ReturnType<typeof testEnv> & { disk: string };


function run(env: Env, args: string[], extra: Record<string, string> = {}): RunResult {
  return blaine([...args, '--db', env.db], { env: { ...SCAN, ...extra } });
}

function newDisk(env: Env, name: string): string {
  const d = path.join(env.base, name);
  fs.mkdirSync(d);
  return d;
}

/** A library with modes, nanosecond mtimes, a hardlinked pair and a symlink. */
function library(lib: string): void {
  let i = 0;
  for (const n of ['a', 'b', 'c', 'd']) {
    const p = path.join(lib, 'photos', `${n}.jpg`);
    write(p, crypto.randomBytes(20_000 + 1000 * i));
    fs.chmodSync(p, i % 2 ? 0o640 : 0o604);
    setNs(p, BigInt(T0 + 1000 * i++) * 1_000_000n + 123_456_789n);
  }
  write(path.join(lib, 'music', 'song.flac'), crypto.randomBytes(30_000));
  fs.linkSync(path.join(lib, 'music', 'song.flac'), path.join(lib, 'music', 'same-song.flac'));
  fs.symlinkSync('../photos/a.jpg', path.join(lib, 'music', 'cover.jpg'));
}

/** An mtime to the nanosecond, through touch's --date (node's utimes keeps microseconds only). */
function setNs(p: string, ns: bigint): void {
  const s = ns / 1_000_000_000n;
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  execFileSync('touch', ['-h', '-d', `@${s}.${frac}`, p]);
}

/**
 * Two volumes: A holds the first library and goes offline, changed meanwhile (deferred rename,
 * delete, link); C takes what is new, gets a mirror copy C2, and C2 runs last (C is behind).
 */
function history(env: Env): { A: string; C: string; C2: string } {
  library(env.lib);
  const A = newDisk(env, 'A');
  expectOk(backup(env, [...RUN_FLAGS, '--init', '--label', 'A'], { disk: A, env: SCAN }), 'backup A');
  fs.renameSync(path.join(env.lib, 'photos', 'a.jpg'), path.join(env.lib, 'photos', 'a-renamed.jpg'));
  fs.rmSync(path.join(env.lib, 'photos', 'b.jpg'));
  fs.linkSync(path.join(env.lib, 'photos', 'c.jpg'), path.join(env.lib, 'photos', 'c-again.jpg'));
  write(path.join(env.lib, 'video', 'clip.mp4'), crypto.randomBytes(40_000));
  const C = newDisk(env, 'C');
  expectOk(backup(env, [...RUN_FLAGS, '--init', '--label', 'C'], { disk: C, env: SCAN }), 'backup C');
  const C2 = newDisk(env, 'C2');
  expectOk(run(env, ['clone', '--dest', C, '--to', C2, '--label', 'C2']), 'clone C');
  write(path.join(env.lib, 'video', 'clip2.mp4'), crypto.randomBytes(25_000));
  expectOk(backup(env, RUN_FLAGS, { disk: C2, env: SCAN }), 'backup C2');
  return { A, C, C2 };
}

/** Everything restored from the given disks equals the library, bit for bit and in its metadata. */
function assertFullRestore(env: Env, disks: string[]): void {
  const to = path.join(env.base, `restore-${crypto.randomUUID()}`);
  for (const d of disks) expectOk(run(env, ['restore', '--dest', d, '--to', to, '*']), `restore from ${d}`);
  const got = fidelity(path.join(to, env.lib.slice(1)));
  const want = fidelity(env.lib);
  assert.deepEqual(got.entries, want.entries, 'restored files differ from the library');
  assert.deepEqual(got.groups, want.groups, 'hardlink groups differ');
}

function assertOneSentence(r: RunResult, pattern: RegExp, what: string): void {
  assert.equal(r.status, 1, `${what}: exit ${r.status}\n${r.stdout}${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `${what}: one line, not\n${r.stderr}`);
  assert.match(lines[0]!, pattern, what);
  assert.doesNotMatch(r.stderr, /\n\s+at /, `${what}: a stack trace`);
}

let diagnostic: (msg: string) => void = () => {};

function withEnv(fn: (env: Env) => void) {
  return (t: test.TestContext) => {
    diagnostic = (msg) => t.diagnostic(msg);
    const env = testEnv('blaine-rebuild-') as Env;
    try {
      fn(env);
    } finally {
      env.cleanup();
    }
  };
}

test(
  'host catalog deleted after two volumes (one offline with deferred actions, one mirrored): rebuilt from one disk, identical; then backup, apply and a full restore work',
  withEnv((env) => {
    const { A, C, C2 } = history(env);
    const before = hostState(env.db);
    assert.ok((before.deferred as unknown[]).length >= 3, 'the history queued actions for A');
    dropHost(env.db);

    const hostDir = path.dirname(env.db);
    const hostBefore = fs.readdirSync(hostDir).sort();
    const diskBefore = treeState(C2);
    assertOneSentence(backup(env, RUN_FLAGS, { disk: C2, env: SCAN }), /no host catalog.*blaine rebuild-catalog --dest .*C2/, 'backup without a host catalog');
    assert.deepEqual(fs.readdirSync(hostDir).sort(), hostBefore, 'no host catalog (or anything else) was created');
    assert.deepEqual(treeState(C2), diskBefore, 'the disk is untouched');

    const r = expectOk(run(env, ['rebuild-catalog', '--dest', C2, '--json']), 'rebuild-catalog');
    assert.deepEqual(fs.readdirSync(hostDir).sort(), HOST_FILES, 'nothing but the host catalog and its lock left beside it');
    const out = JSON.parse(r.stdout) as { created: boolean; snapshot: boolean; volumes: number; pending: number };
    assert.equal(out.created, true);
    assert.equal(out.snapshot, true);
    assert.equal(out.volumes, 2);
    assert.equal(out.pending, (before.deferred as unknown[]).length);
    const after = hostState(env.db);
    assert.deepEqual(after.files, before.files, 'files, row by row');
    assert.deepEqual(after.deferred, before.deferred, 'pending actions, row by row');
    assert.deepEqual(after.volumes, before.volumes, 'volumes and their generations');
    assert.deepEqual(after.copies, before.copies, 'copies');
    assert.deepEqual(treeState(C2), diskBefore, 'rebuild-catalog only reads the disk');

    // A host catalog SQLite cannot open is moved aside, not deleted, and made again.
    const good = fs.readFileSync(env.db);
    fs.writeFileSync(env.db, Buffer.concat([Buffer.from('torn header'), good.subarray(11)]));
    const torn = expectOk(run(env, ['rebuild-catalog', '--dest', C2, '--json']), 'rebuild-catalog over a damaged host catalog');
    const aside = (JSON.parse(torn.stdout) as { setAside: string }).setAside;
    assert.match(fs.readFileSync(aside, 'latin1'), /^torn header/, 'the damaged catalog is kept aside');
    fs.rmSync(aside);
    assert.deepEqual(hostState(env.db), after, 'made again, the same');

    // Given again, the disk changes nothing: the host is in step with it.
    expectOk(run(env, ['rebuild-catalog', '--dest', C2]), 'rebuild-catalog again');
    assert.deepEqual(hostState(env.db), after);

    // Life goes on: a backup onto the mounted disk, the offline disk's actions, the twin's catch-up.
    write(path.join(env.lib, 'photos', 'e.jpg'), crypto.randomBytes(12_000));
    expectOk(backup(env, RUN_FLAGS, { disk: C2, env: SCAN }), 'backup after the rebuild');
    expectOk(run(env, ['apply', '--dest', A]), 'apply A');
    assert.deepEqual(hostState(env.db).deferred, [], 'every deferred action applied');
    expectOk(backup(env, RUN_FLAGS, { disk: C, env: SCAN }), 'backup C (catch-up)');
    assertDiskMatchesCatalog(A, env.db);
    assertDiskMatchesCatalog(C, env.db);
    assertDiskMatchesCatalog(C2, env.db);
    for (const d of [A, C, C2]) expectOk(run(env, ['verify', '--checksum', '--dest', d]), `verify ${d}`);
    assertFullRestore(env, [A, C2]);
    assertFullRestore(env, [A, C]);
  }),
);

test(
  'refinement: disks given later update their volume only when newer; host actions newer than the disk stay queued',
  withEnv((env) => {
    library(env.lib);
    const A = newDisk(env, 'A');
    expectOk(backup(env, [...RUN_FLAGS, '--init', '--label', 'A'], { disk: A, env: SCAN }), 'backup A');
    fs.renameSync(path.join(env.lib, 'photos', 'a.jpg'), path.join(env.lib, 'photos', 'a1.jpg'));
    const C = newDisk(env, 'C');
    expectOk(backup(env, [...RUN_FLAGS, '--init', '--label', 'C'], { disk: C, env: SCAN }), 'backup C: a rename deferred for A');
    const C0 = path.join(env.base, 'C-then');
    execFileSync('cp', ['-a', C, C0]);
    // A comes back, applies it, and takes two more backups: its own catalog and snapshot move ahead.
    expectOk(run(env, ['apply', '--dest', A]), 'apply A');
    write(path.join(env.lib, 'photos', 'new1.jpg'), crypto.randomBytes(9_000));
    expectOk(backup(env, RUN_FLAGS, { disk: A, env: SCAN }), 'backup A 1');
    write(path.join(env.lib, 'photos', 'new2.jpg'), crypto.randomBytes(9_000));
    expectOk(backup(env, RUN_FLAGS, { disk: A, env: SCAN }), 'backup A 2');
    const full = hostState(env.db);

    // The host is lost and rebuilt from an old copy of C: A is known as it was then, rename queued.
    dropHost(env.db);
    fs.rmSync(C, { recursive: true });
    fs.renameSync(C0, C);
    expectOk(run(env, ['rebuild-catalog', '--dest', C]), 'rebuild from the old C');
    assert.equal(hostState(env.db).deferred.length, 1, 'the old snapshot still queues the rename');
    // Meanwhile a change to a file on A is queued with the rebuilt catalog.
    fs.renameSync(path.join(env.lib, 'photos', 'c.jpg'), path.join(env.lib, 'photos', 'c1.jpg'));
    expectOk(backup(env, RUN_FLAGS, { disk: C, env: SCAN }), 'backup C: a rename of c.jpg deferred for A');
    const beforeA = hostState(env.db);
    const cRows = (s: ReturnType<typeof hostState>, v: string) => (s.files as Array<{ volume: string }>).filter((f) => f.volume === v);
    const volC = JSON.parse(fs.readFileSync(path.join(C, '.blaine', 'volume.json'), 'utf8')).volume as string;
    const volA = JSON.parse(fs.readFileSync(path.join(A, '.blaine', 'volume.json'), 'utf8')).volume as string;

    const r = expectOk(run(env, ['rebuild-catalog', '--dest', A, '--json']), 'refine from A');
    const changes = (JSON.parse(r.stdout) as { changes: Array<{ volume: string; taken: string; keptPending: number; droppedPending: number }> }).changes;
    const a = changes.find((c) => c.volume === volA && c.taken === 'newer');
    assert.ok(a, `A's volume taken from A: ${r.stdout}`);
    assert.equal(a.keptPending, 1, 'the rename queued after A was last written is kept');
    assert.equal(a.droppedPending, 1, 'the rename A had applied is dropped');
    assert.ok(!changes.some((c) => c.volume === volC && c.taken !== 'older' && c.taken !== 'in-step'), 'C is newer in the host: untouched');
    const afterA = hostState(env.db);
    assert.deepEqual(cRows(afterA, volC), cRows(beforeA, volC), "C's rows are untouched");
    const pathsA = new Set(cRows(afterA, volA).map((f) => (f as unknown as { path: string }).path));
    for (const n of ['a1.jpg', 'new1.jpg', 'new2.jpg', 'c1.jpg']) assert.ok(pathsA.has(path.join(env.lib, 'photos', n)), `A holds ${n}`);
    for (const n of ['a.jpg', 'c.jpg']) assert.ok(!pathsA.has(path.join(env.lib, 'photos', n)), `A no longer holds ${n}`);
    assert.deepEqual(
      (afterA.deferred as Array<{ action: string; path: string; target: string }>).map((d) => [d.action, path.basename(d.path), path.basename(d.target)]),
      [['RENAME', 'c.jpg', 'c1.jpg']],
    );
    // Rows of A equal what the full history had, but for the rename still queued.
    const fullA = (full.files as Array<{ volume: string; path: string }>).filter((f) => f.volume === volA && !f.path.endsWith('/c.jpg'));
    const nowA = (afterA.files as Array<{ volume: string; path: string }>).filter((f) => f.volume === volA && !f.path.endsWith('/c1.jpg'));
    assert.deepEqual(nowA, fullA, "A's rows as the newest disk knew them");

    // An older disk given again changes nothing.
    expectOk(run(env, ['rebuild-catalog', '--dest', C]), 'C again');
    assert.deepEqual(hostState(env.db).files, afterA.files);
    expectOk(run(env, ['apply', '--dest', A]), 'apply A');
    assertDiskMatchesCatalog(A, env.db);
    assertDiskMatchesCatalog(C, env.db);
    assertFullRestore(env, [A, C]);
  }),
);

test(
  'no host catalog, or one that does not know the disk: every command that would write it refuses in one sentence, nothing changed; readers of the disk work',
  withEnv((env) => {
    library(env.lib);
    expectOk(backup(env, [...RUN_FLAGS, '--init', '--label', 'A'], { disk: env.disk, env: SCAN }), 'backup --init');
    dropHost(env.db);
    const hostDir = path.dirname(env.db);
    const to = newDisk(env, 'clone-target');
    const restored = path.join(env.base, 'restored');
    const refusing: Array<[string, string[]]> = [
      ['backup', ['backup', '--dest', env.disk, '--reserve', '0', env.lib]],
      ['backup --dry-run', ['backup', '--dest', env.disk, '--dry-run', env.lib]],
      ['apply', ['apply', '--dest', env.disk]],
      ['verify', ['verify', '--dest', env.disk]],
      ['verify --fix', ['verify', '--dest', env.disk, '--fix']],
      ['clone', ['clone', '--dest', env.disk, '--to', to]],
      // A restore gives back the host catalog's view: without it, it says how to get it back.
      ['restore', ['restore', '--dest', env.disk, '--to', restored, '*']],
    ];
    const check = (pattern: RegExp, why: string) => {
      const disk = treeState(env.disk);
      // The lock file beside the host catalog is taken (and its label rewritten) before the disk is looked at.
      const hostNow = () => (fs.existsSync(hostDir) ? treeState(hostDir).filter((e) => !e.startsWith('/catalog.sqlite.lock ')) : []);
      const host = hostNow();
      for (const [what, args] of refusing) {
        assertOneSentence(run(env, args), pattern, `${what} ${why}`);
        assert.deepEqual(treeState(env.disk), disk, `${what} ${why}: the disk is untouched`);
        assert.deepEqual(hostNow(), host, `${what} ${why}: the host catalog's folder is untouched`);
        assert.deepEqual(fs.readdirSync(to), [], `${what} ${why}: the clone target is untouched`);
        assert.ok(!fs.existsSync(restored), `${what} ${why}: no restore target made`);
      }
    };
    check(/no host catalog at .*blaine rebuild-catalog --dest /, 'without a host catalog');
    // Readers that need only the disk's own catalog still work.
    expectOk(run(env, ['list', '--dest', env.disk, '--local']), 'list --dest --local');
    assert.ok(!fs.existsSync(env.db), 'readers made no host catalog');

    // A host catalog of another disk only: it does not know this one.
    const other = newDisk(env, 'other');
    expectOk(backup(env, [...RUN_FLAGS, '--init', '--label', 'other'], { disk: other, env: SCAN }), 'first use: --init with no host catalog');
    check(/does not know the volume "A".*blaine rebuild-catalog --dest /, 'with a host catalog that does not know the disk');

    expectOk(run(env, ['rebuild-catalog', '--dest', env.disk]), 'rebuild-catalog adds the volume');
    expectOk(run(env, ['restore', '--dest', env.disk, '--to', restored, '*']), 'restore once the volume is known');
    assert.deepEqual(fidelity(path.join(restored, env.lib.slice(1))).entries, fidelity(env.lib).entries);
    expectOk(backup(env, RUN_FLAGS, { disk: env.disk, env: SCAN }), 'backup after the volume was added');
    assertDiskMatchesCatalog(env.disk, env.db);
  }),
);

test(
  'rebuild-catalog killed after every step: the rerun ends with the same host catalog, no temporary file left',
  withEnv((env) => {
    const { C2 } = history(env);
    const good = hostState(env.db);
    const hostDir = path.dirname(env.db);
    const kinds = ['mkdir', 'readdir', 'stat', 'copyfile', 'open', 'fsync', 'close', 'unlink', 'rename'];
    const points: string[] = [];
    for (const kind of kinds) {
      for (let n = 1; n < 50; n++) {
        dropHost(env.db);
        const r = run(env, ['rebuild-catalog', '--dest', C2], { BLAINE_TEST_FAULTS: `${kind}:${n}:crash` });
        if (r.status === 0) break;
        assert.equal(r.status, -1, `${kind} ${n}: killed, not exited: ${r.stderr}`);
        points.push(`${kind}:${n}`);
        expectOk(run(env, ['rebuild-catalog', '--dest', C2]), `rerun after a crash at ${kind} ${n}`);
        assert.deepEqual(fs.readdirSync(hostDir).sort(), HOST_FILES, `after a crash at ${kind} ${n}: stray files`);
        assert.deepEqual(hostState(env.db), good, `after a crash at ${kind} ${n}: the host catalog`);
      }
    }
    assert.ok(points.length >= 8, `crash points: ${points.join(' ')}`);
    for (const k of ['copyfile', 'fsync', 'rename']) assert.ok(points.some((p) => p.startsWith(`${k}:`)), `a crash after ${k}`);
    diagnostic(`rebuild-catalog: ${points.length} crash points (${points.join(' ')})`);
  }),
);

test('rebuild-catalog of a folder that is no Blaine disk, or a disk with nothing archived: one sentence, exit 1', () => {
  const env = testEnv('blaine-rebuild-') as Env;
  try {
    const r = run(env, ['rebuild-catalog', '--dest', env.disk]);
    assertOneSentence(r, /not a Blaine disk/, 'not a Blaine disk');
    assert.ok(!fs.existsSync(path.dirname(env.db)), 'nothing made on the host');
    assert.equal(run(env, ['rebuild-catalog']).status, 2, 'no --dest is a usage error');
    // Only an identity: a disk whose first run never got as far as its catalogs.
    write(path.join(env.lib, 'x'), 'x');
    expectOk(run(env, ['backup', '--init', '--dest', env.disk, '--reserve', '0', '--no-parity', env.lib]), 'backup --init');
    dropHost(env.db);
    const bare = newDisk(env, 'bare');
    write(path.join(bare, '.blaine', 'volume.json'), fs.readFileSync(path.join(env.disk, '.blaine', 'volume.json')));
    assertOneSentence(run(env, ['rebuild-catalog', '--dest', bare]), /holds no catalog to rebuild from/, 'a disk with nothing archived');
    assert.ok(!fs.existsSync(env.db));
    // A snapshot that is not a database: said so, nothing made, the temporary copy gone.
    fs.writeFileSync(path.join(env.disk, '.blaine', 'host-catalog.sqlite'), 'not a database, some bytes of rot '.repeat(200));
    assertOneSentence(run(env, ['rebuild-catalog', '--dest', env.disk]), /its snapshot of the host catalog cannot be read \(.*\); rebuild from another disk/, 'a damaged snapshot');
    assert.ok(!fs.existsSync(env.db));
    assert.deepEqual(fs.readdirSync(path.dirname(env.db)).filter((n) => n !== 'catalog.sqlite.lock'), [], 'no temporary copy left');
  } finally {
    env.cleanup();
  }
});
