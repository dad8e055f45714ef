/**
 * The weekly swap's catch-up must cost a constant number of catalog statements and disk calls per
 * changed file, and no more than it needs (issue 21: a million files in <= 5 s). No clock here: a
 * catalog query per content the catch-up touches, or three looks at each name it moved, showed up
 * as ~0.2 s of a 200,000-file swap's main thread (~1 s at a million) and is counted instead.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { assertDiskMatchesCatalog, assertRestoresLibrary, blaine, expectOk, mirrorEnv, write } from '../../test/helpers.js';
import { tallyStatements } from '../catalog/testing.js';
import { realFs, type Fsx } from '../fsx/fsx.js';
import { beginWrite, finishWrite, openDiskSession } from '../archive/session.js';
import { prepareFoldersFromHost } from '../dirs/sync.js';
import { catchUp, noCopyContext } from './catchup.js';

const FILES = 240;
const RENAMED = 48;
const DELETED = 24;
const ADDED = 30;

const rel = (i: number) => `d${String(i % 12).padStart(2, '0')}/f${String(i).padStart(4, '0')}.dat`;

/** Counts the calls of the disk layer on the stored files' paths under `disk`, by method. */
function countingFs(disk: string): { fs: Fsx; calls: Map<string, number>; folderLooks: number; folderMakes: number } {
  const calls = new Map<string, number>();
  const onStoredFile = (p: unknown) => typeof p === 'string' && p.startsWith(disk + '/') && p.endsWith('.dat');
  const onFolder = (p: unknown) => typeof p === 'string' && p.startsWith(disk + '/') && !p.endsWith('.dat') && !p.includes('/.blaine');
  const layer: Record<string, unknown> = { ...realFs };
  const counted = { fs: layer as unknown as Fsx, calls, folderLooks: 0, folderMakes: 0 };
  for (const name of ['lstatSync', 'statSync', 'existsSync', 'rmSync', 'unlinkSync', 'mkdirSync'] as const) {
    const real = realFs[name] as (...a: unknown[]) => unknown;
    layer[name] = (...args: unknown[]) => {
      if (onStoredFile(args[0])) calls.set(name, (calls.get(name) ?? 0) + 1);
      else if (name === 'lstatSync' && onFolder(args[0])) counted.folderLooks++;
      else if (name === 'mkdirSync' && onFolder(args[0])) counted.folderMakes++;
      return real(...args);
    };
  }
  return counted;
}

test("a copy that comes back behind is caught up with one content read and one look at each name it touched", async (t) => {
  const { base, lib, db, B, B2 } = mirrorEnv(t, 'blaine-catchup-cost-');
  for (let i = 0; i < FILES; i++) write(path.join(lib, rel(i)), `stored file ${i} `.repeat(1 + (i % 9)));
  const backup = (disk: string) => expectOk(blaine(['backup', '--dest', disk, '--db', db, '--reserve', '0', '--no-parity', '--clean', '--max-delete', '100', lib]), `backup onto ${disk}`);
  expectOk(blaine(['backup', '--init', '--label', 'COST', '--dest', B, '--db', db, '--reserve', '0', '--no-parity', lib]), 'first backup');
  expectOk(blaine(['clone', '--dest', B, '--to', B2, '--db', db]), 'clone');

  // A week on B: renames (in place and into another folder), deletes, new files.
  for (let i = 0; i < RENAMED; i++) fs.renameSync(path.join(lib, rel(i)), path.join(lib, rel(i + 1)).replace(/f(\d+)\.dat$/, `renamed-$1-${i}.dat`));
  for (let i = RENAMED; i < RENAMED + DELETED; i++) fs.rmSync(path.join(lib, rel(i)));
  for (let i = 0; i < ADDED; i++) write(path.join(lib, `d${String(i % 12).padStart(2, '0')}/new-${i}.dat`), `new content ${i} `.repeat(3 + i));
  // A folder made private (files are moved into it: it is narrowed first) and a new one.
  fs.chmodSync(path.join(lib, 'd03'), 0o700);
  fs.mkdirSync(path.join(lib, 'new-folder'), { mode: 0o750 });
  fs.renameSync(path.join(lib, rel(FILES - 1)), path.join(lib, 'new-folder/moved.dat'));
  backup(B);

  // B2 comes back and is caught up (as `blaine apply` does it, in process), through a layer that
  // counts what it asks of its disk; its backup then copies the new files.
  const counting = countingFs(B2);
  const tally = tallyStatements();
  try {
    const session = openDiskSession({ dest: B2, db, key: undefined, fs: counting.fs });
    try {
      assert.equal(session.sync, 'behind');
      beginWrite(session);
      const before = counting.folderLooks;
      prepareFoldersFromHost({ root: session.root, volume: session.info.volume, disk: session.disk, host: session.host, fs: counting.fs, warn: assert.fail });
      // Only the folders whose mode or owner the copy's catalog does not already record are looked at.
      assert.ok(counting.folderLooks - before <= 4, `${counting.folderLooks - before} looks at the disk's folders before the catch-up (12 folders, 2 changed)`);
      const makes = counting.folderMakes;
      const r = await catchUp(session, noCopyContext(session, { signal: new AbortController().signal, tell: () => {}, fs: counting.fs }));
      // Files are moved into folders that are there: none is made (or asked for) per move.
      assert.ok(counting.folderMakes - makes <= 2, `${counting.folderMakes - makes} mkdir calls for ${RENAMED + 1} moves into existing folders`);
      assert.equal(r.stopped, null);
      assert.equal(r.lacking.length, ADDED, 'the new files are left to the backup');
      await finishWrite(session, 'apply', 'ok', {}, true, false);
    } finally {
      session.close();
    }
  } finally {
    tally.stop();
  }
  backup(B2);

  // What users keep: the copy holds its catalog exactly, and a restore from it alone gives the library back.
  assertDiskMatchesCatalog(B2, db);
  assertRestoresLibrary(lib, [B2], db, path.join(base, 'restored'));

  // A moved name is looked at once when its content's names are sorted (was three times), a deleted
  // one not at all before it is unlinked (rmSync looked first).
  const looks = (counting.calls.get('lstatSync') ?? 0) + (counting.calls.get('statSync') ?? 0) + (counting.calls.get('existsSync') ?? 0);
  assert.equal(counting.calls.get('rmSync') ?? 0, 0, `rmSync on stored files: ${JSON.stringify([...counting.calls])}`);
  const moved = RENAMED + 1;
  assert.ok(looks <= 2 * moved, `${looks} looks at stored files for ${moved} renamed, ${DELETED} deleted, ${ADDED} new: ${JSON.stringify([...counting.calls])}`);

  // Where else the copy holds a content (for links) and which names a content has (to put them on
  // the right inodes) were one catalog query per content: now a few reads for the whole catch-up.
  const touched = moved + DELETED + ADDED;
  const byContent = [...tally.counts()].filter(([sql]) => /WHERE e\.size = \? AND substr\(e\.sha256/.test(sql)).reduce((n, [, c]) => n + c, 0);
  assert.ok(byContent < touched / 8, `${byContent} catalog queries by content for ${touched} changed files`);

  // The copy's row of each changed path (and of each file it may lack) is read within one read
  // transaction, not each in a transaction of its own (a lock taken and dropped per statement).
  // What is left: the executor journals a run of moves, each looked up, before its batch begins.
  const rowLookups = [...tally.alone()].filter(([sql]) => /e\.path = .*AND kind != 2$/.test(sql.trim())).reduce((n, [, c]) => n + c, 0);
  assert.ok(rowLookups <= moved + 2, `${rowLookups} single-row lookups outside a transaction for ${touched} changed files (${moved} moved)`);
});
