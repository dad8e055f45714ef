/** The words for what the engines return as data: a full disk, and the executor's events. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { diskFullText } from './backup-report.js';
import { applyEventText } from './apply-events.js';

test('a full disk in words: what the space rule refused, with the shortfall, or where a write met it', () => {
  assert.equal(
    diskFullText({ reason: 'disk-full', refused: { path: '/lib/a.bin', parityOnly: false, need: 3_000_000, free: 1_000_000 } }),
    'the disk is full: /lib/a.bin needs 3.0 MB with parity and reserve, 1.0 MB free (2.0 MB short)',
  );
  assert.match(diskFullText({ reason: 'disk-full', refused: { path: '/lib/a.bin', parityOnly: true, need: 2_000_000, free: 0 } }), /^the disk is full: the parity of \/lib\/a\.bin needs .* with the reserve, 0 B free/);
  assert.equal(diskFullText({ reason: 'disk-full', writing: 'copy', path: '/lib/b' }), 'the disk is full (while copying /lib/b)');
  assert.equal(diskFullText({ reason: 'disk-full', writing: 'file', path: '/lib/b' }), 'the disk is full (while writing /lib/b)');
  assert.equal(diskFullText({ reason: 'disk-full', writing: 'parity', path: '/lib/b' }), 'the disk is full (while writing parity for /lib/b)');
  assert.equal(diskFullText({ reason: 'disk-full', writing: 'journal', path: null }), 'the disk is full (while writing its journal)');
  assert.equal(diskFullText({ reason: 'disk-full', writing: null, path: null }), 'the disk is full');
});

test("the executor's events in words: what was done is detail, what went wrong a warning", () => {
  assert.deepEqual(applyEventText({ type: 'added', path: '/lib/a', replaced: true }), { warning: false, text: 'replaced /lib/a' });
  assert.deepEqual(applyEventText({ type: 'linked', path: '/lib/b', to: '/lib/a', gathered: true }), {
    warning: false,
    text: 'linked /lib/b to /lib/a (equal content, mode and owner)',
  });
  assert.deepEqual(applyEventText({ type: 'source-skipped', path: '/lib/c', error: '/lib/c changed while it was read.', changedTwice: true }), {
    warning: true,
    text: '/lib/c changed while it was read twice; skipped, the next backup tries again',
  });
  assert.deepEqual(applyEventText({ type: 'missing-on-disk', path: '/lib/d', then: { copy: '/lib/e' } }), {
    warning: true,
    text: '/lib/d is catalogued but missing on the disk; copying /lib/e instead of linking',
  });
  assert.deepEqual(applyEventText({ type: 'write-skipped', path: '/lib/f', error: 'EIO: i/o error.' }), {
    warning: true,
    text: 'cannot write /lib/f on the disk (EIO: i/o error); skipped, the archive keeps what it had',
  });
});
