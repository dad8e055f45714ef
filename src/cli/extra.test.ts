// SPEC §8: Blaine never deletes a file it cannot prove it wrote.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { backup, assertDiskMatchesCatalog, blaine, testEnv, write } from '../../test/helpers.js';

function verifyFix(env: ReturnType<typeof testEnv>, extra: string[] = []) {
  return blaine(['verify', '--fix', '--dest', env.disk, '--db', env.db, ...extra]);
}

test('--init refuses a disk that holds files; with --force it keeps them, and verify --fix leaves them alone', (t) => {
  const env = testEnv('blaine-extra-');
  t.after(env.cleanup);
  for (let i = 0; i < 5; i++) write(path.join(env.lib, `f${i}.txt`), `file ${i}\n`);
  write(path.join(env.disk, 'mine', 'letter.txt'), 'my own file\n');
  fs.mkdirSync(path.join(env.disk, 'lost+found'));
  const refused = backup(env, ['--no-parity', '--init']);
  assert.equal(refused.status, 1, refused.stderr);
  assert.match(refused.stderr, /already holds files \(mine\); use an empty disk, or pass --force/);
  assert.ok(!fs.existsSync(path.join(env.disk, '.blaine', 'volume.json')), 'nothing was made');
  const forced = backup(env, ['--no-parity', '--init', '--force']);
  assert.equal(forced.status, 0, forced.stderr);
  const v = verifyFix(env);
  assert.equal(v.status, 0, v.stdout + v.stderr);
  assert.equal(fs.readFileSync(path.join(env.disk, 'mine', 'letter.txt'), 'utf8'), 'my own file\n');
  assert.doesNotMatch(v.stdout + v.stderr, /letter\.txt/);
});

test('verify --fix moves unknown files to .blaine/quarantine; --drop-extra deletes them, under the mass-delete guard', (t) => {
  const env = testEnv('blaine-extra-');
  t.after(env.cleanup);
  for (let i = 0; i < 10; i++) write(path.join(env.lib, `f${i}.txt`), `file ${i}\n`);
  assert.equal(backup(env, ['--no-parity', '--init']).status, 0);
  const stray = path.join(env.disk, env.lib.slice(1), 'newer.txt');
  write(stray, 'archived by a run whose catalog was rolled back\n');
  const q = verifyFix(env);
  assert.equal(q.status, 0, q.stdout + q.stderr);
  assert.match(q.stdout, /extra .*newer\.txt: .*moved to .*\.blaine\/quarantine/);
  assert.ok(!fs.existsSync(stray));
  assert.equal(fs.readFileSync(path.join(env.disk, '.blaine', 'quarantine', env.lib.slice(1), 'newer.txt'), 'utf8'), 'archived by a run whose catalog was rolled back\n');
  assertDiskMatchesCatalog(env.disk, env.db);

  // Two unknown files of ten catalogued: 20% is over the default 10%.
  for (const n of ['x1.txt', 'x2.txt']) write(path.join(env.disk, env.lib.slice(1), n), n);
  const held = verifyFix(env, ['--drop-extra']);
  assert.equal(held.status, 4, held.stdout + held.stderr);
  assert.match(held.stdout, /not deleted: --drop-extra would delete 2 files, more than 10% of the 10 catalogued/);
  for (const n of ['x1.txt', 'x2.txt']) assert.ok(fs.existsSync(path.join(env.disk, env.lib.slice(1), n)));
  const dropped = verifyFix(env, ['--drop-extra', '--max-delete', '20']);
  assert.equal(dropped.status, 0, dropped.stdout + dropped.stderr);
  for (const n of ['x1.txt', 'x2.txt']) assert.ok(!fs.existsSync(path.join(env.disk, env.lib.slice(1), n)));
  assert.ok(!fs.existsSync(path.join(env.disk, '.blaine', 'quarantine', env.lib.slice(1), 'x1.txt')), 'deleted, not quarantined');
  assertDiskMatchesCatalog(env.disk, env.db);
});
