/** describeError: every failure a user can cause ends in its own sentence and exit status; anything else is an internal error. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { CatalogError } from '../catalog/catalog.js';
import { DiskError } from '../archive/volume.js';
import { LockError } from '../archive/lock.js';
import { BackupRefused } from '../backup/preflight.js';
import { CryptError } from '../crypt/tools.js';
import { BlaineError } from '../error.js';
import { CopyError } from '../fsx/copy-error.js';
import { ExclusionError } from '../scan/exclude.js';
import { ConfigError } from './config.js';
import { CloneError } from '../mirror/clone.js';
import { ForgetError } from '../forget/forget.js';
import { RetireError } from '../forget/retire.js';
import { RebuildError } from '../recover/rebuild.js';
import { RestoreTargetError } from '../restore/restore.js';
import { describeError, EXIT, UsageError, UserError } from './exit.js';

test('each error class carries its exit status; the sentence is the message', () => {
  const cases: Array<[BlaineError, number]> = [
    [new UserError('a'), EXIT.error],
    [new UserError('a', EXIT.damage), EXIT.damage],
    [new UsageError('a'), EXIT.usage],
    [new ConfigError('a'), EXIT.usage],
    [new ExclusionError('a'), EXIT.usage],
    [new BackupRefused('a', true), EXIT.usage],
    [new BackupRefused('a', false), EXIT.error],
    [new CryptError('a', 'NO_KEY'), EXIT.usage],
    [new CryptError('a', 'BAD_KEY' as never), EXIT.error],
    [new CopyError('a', 'ENOSPC', '/x'), EXIT.diskFull],
    [new CopyError('a', 'EIO' as never, '/x'), EXIT.error],
    [new CatalogError('a'), EXIT.error],
    [new DiskError('a', 'NOT_BLAINE' as never), EXIT.error],
    [new LockError('a'), EXIT.error],
    [new CloneError('a'), EXIT.error],
    [new ForgetError('a'), EXIT.error],
    [new RetireError('a'), EXIT.error],
    [new RebuildError('a'), EXIT.error],
  ];
  for (const [err, status] of cases) {
    assert.ok(err instanceof BlaineError, err.constructor.name);
    assert.deepEqual(describeError(err), { code: status, message: 'a' }, err.constructor.name);
  }
});

test('a failure to write the restore target says that what was restored before it stays', () => {
  assert.deepEqual(describeError(new RestoreTargetError('cannot write /t/x: i/o error')), {
    code: EXIT.error,
    message: 'cannot write /t/x: i/o error; the files restored before it are in place',
  });
});

test('errors of Node and SQLite get a sentence too; anything else is an internal error', () => {
  const enoent = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT', path: '/lib/x' });
  assert.deepEqual(describeError(enoent), { code: EXIT.error, message: '/lib/x does not exist' });
  const full = Object.assign(new Error('database or disk is full'), { name: 'SqliteError', code: 'SQLITE_FULL' });
  assert.equal(describeError(full).code, EXIT.diskFull);
  assert.match(describeError(new TypeError('oops')).message, /^internal error: oops/);
});
