// Parity resumed for a file (it had none: the last run used --no-parity) must
// not be installed once the same run has replaced that file with other bytes.
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { assertDiskMatchesCatalog, blaine, rows, testEnv, write } from '../../test/helpers.js';
import { verifyParity } from '../parity/par2.js';

test('parity resumed for a file that the same run replaces is parity of the new bytes', async (t) => {
  const env = testEnv('blaine-parity-race-');
  t.after(env.cleanup);
  const files = [0, 1, 2, 3].map((i) => path.join(env.lib, `f${i}.bin`));
  for (const f of files) write(f, crypto.randomBytes(4_000_000));
  const args = ['backup', '--dest', env.disk, '--db', env.db, '--reserve', '0', env.lib];
  const first = blaine([...args, '--init', '--no-parity']);
  assert.equal(first.status, 0, first.stderr);
  for (const f of files) write(f, crypto.randomBytes(20_000));
  const second = blaine([...args, '--jobs', '4', '--parity', '10']); // the disk remembers --no-parity from --init
  assert.equal(second.status, 0, second.stderr);
  assertDiskMatchesCatalog(env.disk, env.db, { parity: true });
  for (const r of rows(env.db)) {
    const check = await verifyParity(env.disk, r.path.slice(1), r.parity_name!);
    assert.equal(check.state, 'ok', `${r.path}: its parity does not match its bytes`);
  }
});
