// Rows migrated from an older catalog (content known by SHA-1): restore and verify --checksum
// check them by their SHA-1 until their content is read, and verify then records their SHA-256; a new
// file is linked to one only after its bytes compare equal.
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { backup, blaine, fileSha, rot, scratchDir, summaryOf, testEnv, write } from '../../test/helpers.js';
import { downgradeTo5 } from '../catalog/testing.js';

test('migrated rows: restore checks them by SHA-1, verify --checksum finds rot by it and records the SHA-256 of the sound ones', (t) => {
  const env = testEnv('blaine-migrated-');
  t.after(env.cleanup);
  const names = ['a.bin', 'b.bin', 'c.bin'];
  for (const n of names) write(path.join(env.lib, n), crypto.randomBytes(5000));
  assert.equal(backup(env, ['--init', '--label', 'M', '--no-parity']).status, 0);
  const sha1Of = (p: string) => crypto.createHash('sha1').update(fs.readFileSync(p)).digest('hex');
  for (const file of [env.db, path.join(env.disk, '.blaine', 'catalog.sqlite')]) {
    const raw = new Database(file);
    downgradeTo5(raw, sha1Of);
    raw.close();
  }
  const stored = (n: string) => path.join(env.disk, env.lib.slice(1), n);
  rot(stored('c.bin'), 100);
  const listed = () =>
    (JSON.parse(blaine(['list', '--db', env.db, '--json']).stdout) as Array<{ path: string; sha256: string | null; sha1?: string }>).map((e) => [
      path.basename(e.path), e.sha256, e.sha1,
    ]);
  assert.deepEqual(listed(), names.map((n) => [n, null, sha1Of(path.join(env.lib, n))]));

  // Restore: the sound ones come back checked (no "unchecked" warning), the rotten one is refused.
  const to = scratchDir(t, 'blaine-migrated-restore-');
  const r = blaine(['restore', '--dest', env.disk, '--db', env.db, '--to', to, `${env.lib}/*`]);
  assert.equal(r.status, 4, r.stdout + r.stderr);
  assert.doesNotMatch(r.stderr, /unchecked/);
  assert.match(r.stdout + r.stderr, /c\.bin.*SHA-1/);
  for (const n of ['a.bin', 'b.bin']) assert.equal(fileSha(path.join(to, env.lib.slice(1), n)), fileSha(path.join(env.lib, n)));
  assert.equal(fs.existsSync(path.join(to, env.lib.slice(1), 'c.bin')), false);

  // A new file with a migrated row's bytes is linked to it only once the bytes compare equal (which
  // also gives that row its SHA-256); one of the same size with other bytes is stored on its own.
  fs.copyFileSync(path.join(env.lib, 'a.bin'), path.join(env.lib, 'd.bin'));
  write(path.join(env.lib, 'e.bin'), crypto.randomBytes(5000));
  const b = backup(env, ['--json']);
  assert.equal(b.status, 0, b.stderr);
  assert.equal(summaryOf(b).linked, 1);
  assert.equal(summaryOf(b).added, 1);
  assert.equal(fs.statSync(stored('d.bin')).ino, fs.statSync(stored('a.bin')).ino);
  assert.equal(fileSha(stored('e.bin')), fileSha(path.join(env.lib, 'e.bin')));
  assert.ok(![stored('a.bin'), stored('b.bin'), stored('c.bin')].some((f) => fs.statSync(f).ino === fs.statSync(stored('e.bin')).ino));
  names.push('d.bin', 'e.bin');

  const v = blaine(['verify', '--dest', env.disk, '--db', env.db, '--checksum', '--json']);
  assert.equal(v.status, 4, v.stdout + v.stderr);
  const report = summaryOf(v) as unknown as { checked: number; problems: Array<{ path: string; kind: string; detail: string }> };
  assert.equal(report.checked, 5);
  // (rot() puts the mtime back to the microsecond only: an mtime problem may come with it)
  assert.deepEqual([...new Set(report.problems.map((p) => path.basename(p.path)))], ['c.bin']);
  assert.ok(report.problems.some((p) => /SHA-1 differs/.test(p.detail)), JSON.stringify(report.problems));
  // The sound ones are now known by SHA-256, in both catalogs; the rotten one keeps its SHA-1.
  assert.deepEqual(listed(), [
    ['a.bin', fileSha(path.join(env.lib, 'a.bin')), undefined],
    ['b.bin', fileSha(path.join(env.lib, 'b.bin')), undefined],
    ['c.bin', null, sha1Of(path.join(env.lib, 'c.bin'))],
    ['d.bin', fileSha(path.join(env.lib, 'a.bin')), undefined],
    ['e.bin', fileSha(path.join(env.lib, 'e.bin')), undefined],
  ]);
  const local = JSON.parse(blaine(['list', '--dest', env.disk, '--json']).stdout) as Array<{ sha256: string | null }>;
  assert.deepEqual(local.map((e) => e.sha256), [
    fileSha(path.join(env.lib, 'a.bin')), fileSha(path.join(env.lib, 'b.bin')), null, fileSha(path.join(env.lib, 'a.bin')), fileSha(path.join(env.lib, 'e.bin')),
  ]);
});
