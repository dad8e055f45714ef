// Each engine on the fault-injecting file-system layer (src/fsx/fault.ts), through bin/blaine as a
// user runs it: BLAINE_TEST_FAULTS breaks the child's disk at a chosen call. No root needed.
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { assertArchiveHolds, assertDiskMatchesCatalog, blaine, readTree, rows, testEnv, write } from '../../test/helpers.js';

const SCAN = { BLAINE_SCAN_THREADS: '1' };

function library(lib: string): void {
  for (let i = 0; i < 4; i++) write(path.join(lib, 'photos', `p${i}.jpg`), crypto.randomBytes(40_000 + i * 1000));
  write(path.join(lib, 'docs', 'note.txt'), 'a note\n');
}

function backup(env: ReturnType<typeof testEnv>, extra: string[] = [], faults?: string) {
  return blaine(['backup', '--dest', env.disk, '--db', env.db, '--reserve', '0', '--no-parity', ...extra, env.lib], {
    env: { ...SCAN, ...(faults ? { BLAINE_TEST_FAULTS: faults } : {}) },
  });
}

function tmpLeftovers(disk: string): string[] {
  const dir = path.join(disk, '.blaine', 'tmp');
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
}

test('backup: ENOSPC on the first write stops cleanly with exit 3, nothing half-written, and the next run goes on', (t) => {
  const env = testEnv('blaine-fault-');
  t.after(env.cleanup);
  library(env.lib);
  // volume.json's write (--init) goes through the fault layer too: one write later than before.
  const r = backup(env, ['--init'], 'write:4:ENOSPC');
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /the disk is full/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assertDiskMatchesCatalog(env.disk, env.db);
  const stored = rows(env.db).length;
  assert.ok(stored >= 1 && stored < 5, `some files were stored before the fault, not all (${stored})`);
  assert.deepEqual(tmpLeftovers(env.disk), []);
  const again = backup(env);
  assert.equal(again.status, 0, again.stderr);
  assertDiskMatchesCatalog(env.disk, env.db);
  assertArchiveHolds(env.lib, [env.disk]);
});

test('backup: EIO reading one source file skips it with a warning and exit 1; the others are archived', (t) => {
  const env = testEnv('blaine-fault-');
  t.after(env.cleanup);
  library(env.lib);
  const r = backup(env, ['--init'], 'read:1:EIO@p2.jpg');
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /warning: Cannot read .*p2\.jpg: i\/o error/);
  assert.match(r.stderr, /1 file\(s\) could not be read or written and were skipped/);
  assertDiskMatchesCatalog(env.disk, env.db);
  const paths = rows(env.db).map((x) => x.path);
  assert.equal(paths.length, 4);
  assert.ok(!paths.some((p) => p.endsWith('p2.jpg')));
  const again = backup(env);
  assert.equal(again.status, 0, again.stderr);
  assertArchiveHolds(env.lib, [env.disk]);
});

test('verify --checksum: EIO reading a stored file is reported as a problem (exit 4); the disk is left as it was', (t) => {
  const env = testEnv('blaine-fault-');
  t.after(env.cleanup);
  library(env.lib);
  assert.equal(backup(env, ['--init']).status, 0);
  const before = readTree(env.disk);
  const r = blaine(['verify', '--checksum', '--json', '--dest', env.disk, '--db', env.db], {
    env: { BLAINE_TEST_FAULTS: 'read:1:EIO@p1.jpg' },
  });
  assert.equal(r.status, 4, r.stderr);
  const problems = (JSON.parse(r.stdout) as { problems: Array<{ path: string; kind: string; detail: string }> }).problems;
  assert.equal(problems.length, 1);
  assert.match(problems[0]!.path, /p1\.jpg$/);
  assert.equal(problems[0]!.kind, 'unrepairable');
  assert.match(problems[0]!.detail, /cannot be read .*i\/o error/);
  assert.deepEqual(readTree(env.disk), before);
  assertDiskMatchesCatalog(env.disk, env.db);
  const clean = blaine(['verify', '--checksum', '--dest', env.disk, '--db', env.db]);
  assert.equal(clean.status, 0, clean.stderr);
});

test('restore: EIO reading the disk copy reports that file (exit 4) and restores the rest', (t) => {
  const env = testEnv('blaine-fault-');
  t.after(env.cleanup);
  library(env.lib);
  assert.equal(backup(env, ['--init']).status, 0);
  const to = path.join(env.base, 'out');
  const r = blaine(['restore', '--dest', env.disk, '--db', env.db, '--to', to, '**'], { env: { BLAINE_TEST_FAULTS: 'read:1:EIO@p0.jpg' } });
  assert.equal(r.status, 4, r.stderr);
  assert.match(r.stderr, /p0\.jpg: the disk's copy cannot be read .*no parity/);
  const got = readTree(path.join(to, env.lib.slice(1)), { skipBlaine: false });
  const want = readTree(env.lib, { skipBlaine: false });
  want.delete('photos/p0.jpg');
  const strip = (m: Map<string, { sha1?: string }>) => [...m].map(([p, e]) => [p, e.sha1]).sort();
  assert.deepEqual(strip(got), strip(want));
  assertDiskMatchesCatalog(env.disk, env.db);
});

/** A library on disk A, cloned to B, then a rename archived on A: B is one rename behind. */
function mirrorBehind(t: test.TestContext) {
  const env = testEnv('blaine-fault-');
  t.after(env.cleanup);
  library(env.lib);
  assert.equal(backup(env, ['--init']).status, 0);
  const B = path.join(env.base, 'B');
  fs.mkdirSync(B);
  const c = blaine(['clone', '--dest', env.disk, '--to', B, '--db', env.db]);
  assert.equal(c.status, 0, c.stderr);
  fs.renameSync(path.join(env.lib, 'photos', 'p1.jpg'), path.join(env.lib, 'photos', 'renamed.jpg'));
  assert.equal(backup(env).status, 0);
  return { env, B };
}

/** A plain apply after the fault brings B to the volume's state. */
function applyCompletes(env: ReturnType<typeof testEnv>, B: string): void {
  const again = blaine(['apply', '--dest', B, '--db', env.db]);
  assert.equal(again.status, 0, again.stderr);
  assertDiskMatchesCatalog(B, env.db, { hostMayHaveMore: true });
  assertArchiveHolds(env.lib, [B]);
}

test('mirror catch-up (apply): EIO on the rename fails with one sentence (exit 1); the next apply completes it', (t) => {
  const { env, B } = mirrorBehind(t);
  const r = blaine(['apply', '--dest', B, '--db', env.db], { env: { BLAINE_TEST_FAULTS: 'rename:1:EIO' } });
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.ok(fs.existsSync(path.join(B, env.lib.slice(1), 'photos', 'p1.jpg')), 'nothing moved');
  applyCompletes(env, B);
});

test('mirror catch-up (apply): a crash right after the rename (SIGKILL) is recovered by the next run', (t) => {
  const { env, B } = mirrorBehind(t);
  const r = blaine(['apply', '--dest', B, '--db', env.db], { env: { BLAINE_TEST_FAULTS: 'rename:1:crash' } });
  assert.equal(r.status, -1, `killed, not exited: ${r.stderr}`);
  assert.ok(fs.existsSync(path.join(B, env.lib.slice(1), 'photos', 'renamed.jpg')), 'the rename happened before the crash');
  applyCompletes(env, B);
});

test('clone: ENOSPC on a write stops with exit 3 and leaves no volume.json, so the copy is never taken for a usable one', (t) => {
  const env = testEnv('blaine-fault-');
  t.after(env.cleanup);
  library(env.lib);
  assert.equal(backup(env, ['--init']).status, 0);
  const B = path.join(env.base, 'B');
  fs.mkdirSync(B);
  const r = blaine(['clone', '--dest', env.disk, '--to', B, '--db', env.db], { env: { BLAINE_TEST_FAULTS: 'write:2:ENOSPC' } });
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /too small; the copy is incomplete/);
  assert.ok(!fs.existsSync(path.join(B, '.blaine', 'volume.json')));
  assert.equal(rows(env.db).length, 5, 'the host catalog is untouched');
  assertDiskMatchesCatalog(env.disk, env.db);
});
