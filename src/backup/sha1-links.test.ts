/**
 * SHA-1 collisions (SPEC §3): two different files with one SHA-1 and size must stay two files.
 * The public pairs (SHAttered PDFs, SHA-mbles binaries) come from ../shared/fixtures; the catalogs
 * an older Blaine (schema 4, the last release, content known by SHA-1) wrote for them are test/fixtures/sha1-linked,
 * made by scripts/make-sha1-fixtures.mjs.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { backup, blaine, fileSha, repoRoot, scratchDir, summaryOf, testEnv, assertDiskMatchesCatalog } from '../../test/helpers.js';

const pairs = path.join(repoRoot, '..', 'shared', 'fixtures', 'sha1-collisions');
const fixture = path.join(repoRoot, 'test', 'fixtures', 'sha1-linked');
const names = ['sha-mbles-1.bin', 'sha-mbles-2.bin', 'shattered-1.pdf', 'shattered-2.pdf'];
const skip = fs.existsSync(path.join(pairs, 'shattered-2.pdf')) ? false : `the SHA-1 collision pairs are not at ${pairs}`;

/** The library's four files, each with its own bytes, stored on the disk as four different inodes. */
function assertStoredApart(env: { lib: string; disk: string }): void {
  const inodes = new Set<number>();
  for (const n of names) {
    const stored = path.join(env.disk, env.lib.slice(1), n);
    assert.equal(fileSha(stored), fileSha(path.join(env.lib, n)), `${n} on the disk holds its own bytes`);
    inodes.add(fs.statSync(stored).ino);
  }
  assert.equal(inodes.size, 4, 'four files stored, not one per pair');
}

/** A full restore gives back four different files, byte for byte the library's; verify --checksum is clean. */
function assertRestoresApart(t: { after: (fn: () => void) => void }, env: { lib: string; disk: string; db: string }): void {
  const v = blaine(['verify', '--dest', env.disk, '--db', env.db, '--checksum', '--json']);
  assert.equal(v.status, 0, v.stdout + v.stderr);
  assert.deepEqual(summaryOf(v).problems, []);
  const to = scratchDir(t, 'blaine-sha1-restore-');
  const r = blaine(['restore', '--dest', env.disk, '--db', env.db, '--to', to, `${env.lib}/*`]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const got = names.map((n) => fs.readFileSync(path.join(to, env.lib.slice(1), n)));
  names.forEach((n, i) => assert.ok(got[i]!.equals(fs.readFileSync(path.join(env.lib, n))), `${n} restored with its own bytes`));
  assert.ok(!got[0]!.equals(got[1]!) && !got[2]!.equals(got[3]!), 'each pair comes back as two different files');
}

test('files with one SHA-1 and size but different bytes are stored, listed and restored as different files', { skip }, (t) => {
  const env = testEnv('blaine-sha1-');
  t.after(env.cleanup);
  for (const n of names) fs.copyFileSync(path.join(pairs, n), path.join(env.lib, n));
  const r = backup(env, ['--init', '--label', 'A', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const s = summaryOf(r);
  assert.equal(s.added, 4);
  assert.equal(s.linked, 0);
  assertStoredApart(env);
  const listed = JSON.parse(blaine(['list', '--db', env.db, '--json']).stdout) as Array<{ path: string; sha256: string; sha1?: string }>;
  assert.deepEqual(
    listed.map((e) => [path.basename(e.path), e.sha256, e.sha1]),
    names.map((n) => [n, fileSha(path.join(env.lib, n)), undefined]),
  );
  assertRestoresApart(t, env);
});

test('a pair an older catalog stored as one file by its SHA-1: the next backup reads it, says so and stores the second file on its own', { skip }, (t) => {
  const env = testEnv('blaine-sha1-old-');
  t.after(env.cleanup);
  const made = JSON.parse(fs.readFileSync(path.join(fixture, 'library.json'), 'utf8')) as {
    lib: string; times: Record<string, number>; holds: Record<string, string>;
  };
  // The library as it was, and the disk as the older Blaine left it: each second file a hardlink
  // to its pair's first, and catalogs of schema 4 that list all four by their one SHA-1.
  const onDisk = (n: string) => path.join(env.disk, env.lib.slice(1), n);
  fs.mkdirSync(path.dirname(onDisk('x')), { recursive: true });
  for (const n of names) {
    fs.copyFileSync(path.join(pairs, n), path.join(env.lib, n));
    fs.chmodSync(path.join(env.lib, n), 0o644);
    fs.utimesSync(path.join(env.lib, n), made.times[n]!, made.times[n]!);
  }
  for (const n of names) {
    if (made.holds[n] === n) {
      fs.copyFileSync(path.join(env.lib, n), onDisk(n));
      fs.utimesSync(onDisk(n), made.times[n]!, made.times[n]!);
    }
  }
  for (const n of names) if (made.holds[n] !== n) fs.linkSync(onDisk(made.holds[n]!), onDisk(n));
  fs.mkdirSync(path.join(env.disk, '.blaine'));
  fs.copyFileSync(path.join(fixture, 'volume.json'), path.join(env.disk, '.blaine', 'volume.json'));
  fs.mkdirSync(path.dirname(env.db), { recursive: true });
  for (const [from, to] of [['host.sqlite', env.db], ['disk.sqlite', path.join(env.disk, '.blaine', 'catalog.sqlite')]] as const) {
    fs.copyFileSync(path.join(fixture, from), to);
    const d = new Database(to);
    assert.equal(d.pragma('user_version', { simple: true }), 4, `${from} is of schema 4`);
    d.prepare('UPDATE files SET path = ? || substr(path, ?)').run(env.lib, made.lib.length + 1);
    d.close();
  }

  // Migrated rows have only their SHA-1 until their content is read (SPEC §4).
  const before = JSON.parse(blaine(['list', '--db', env.db, '--json']).stdout) as Array<{ path: string; sha256: string | null; sha1?: string }>;
  assert.deepEqual(before.map((e) => [path.basename(e.path), e.sha256, typeof e.sha1]), names.map((n) => [n, null, 'string']));
  assert.equal(new Set(before.map((e) => e.sha1)).size, 2, 'each pair has one SHA-1');
  // verify --checksum reads the disk alone: it checks the migrated rows by SHA-1 but cannot tell a
  // pair's bytes apart by it, so it leaves their SHA-256 to the backup, which reads the library too.
  const v = blaine(['verify', '--dest', env.disk, '--db', env.db, '--checksum', '--json']);
  assert.equal(v.status, 0, v.stdout + v.stderr);
  assert.equal(summaryOf(v).checked, 4);
  const verified = JSON.parse(blaine(['list', '--db', env.db, '--json']).stdout) as Array<{ sha256: string | null }>;
  assert.deepEqual(verified.map((e) => e.sha256), [null, null, null, null]);

  const r = backup(env, []);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const said = (r.stdout + r.stderr).split('\n').filter((l) => /SHA-1 collision/.test(l));
  assert.deepEqual(
    said.map((l) => names.find((n) => l.includes(n))),
    names.filter((n) => made.holds[n] !== n),
    'the backup names each file that was stored under its pair\'s bytes',
  );
  assertStoredApart(env);
  assertDiskMatchesCatalog(env.disk, env.db);
  const after = JSON.parse(blaine(['list', '--db', env.db, '--json']).stdout) as Array<{ path: string; sha256: string | null; sha1?: string }>;
  assert.deepEqual(after.map((e) => [path.basename(e.path), e.sha256, e.sha1]), names.map((n) => [n, fileSha(path.join(env.lib, n)), undefined]));
  assertRestoresApart(t, env);
  // Nothing is left to do: the next backup changes nothing.
  const again = backup(env, ['--json']);
  assert.equal(again.status, 0, again.stderr);
  assert.equal(summaryOf(again).unchanged, 4);
});
