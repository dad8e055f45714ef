import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { assertArchiveHolds, assertDiskMatchesCatalog, blaine, summaryOf, tempDir, volumeOf, write, scratchDir, mirrorEnv } from '../../test/helpers.js';

function hostGeneration(db: string, volume: string): number {
  const h = new Database(db, { readonly: true });
  try {
    return (h.prepare('SELECT generation FROM volumes WHERE uuid = ?').get(volume) as { generation: number }).generation;
  } finally {
    h.close();
  }
}

function diskGeneration(disk: string): number {
  const d = new Database(path.join(disk, '.blaine', 'catalog.sqlite'), { readonly: true });
  try {
    return Number((d.prepare("SELECT value FROM meta WHERE key = 'generation'").get() as { value: string }).value);
  } finally {
    d.close();
  }
}

/**
 * The weekly swap of a mirror: B takes a week of changes (renames, a move into a new folder, deletes,
 * a changed file, new files, a new duplicate) and then a run that changes nothing; B2 comes back
 * behind by exactly B's changing run, catches up by moving what was renamed rather than copying it,
 * and copies only the new content. A no-change run on either copy leaves the other in step.
 */
test('mirror catch-up: renames, deletes and new files since the copy left; no-change runs do not put the twin behind', (t) => {
  const { base, lib, db, B, B2 } = mirrorEnv(t, 'blaine-catchup-');
  const L = (rel: string) => path.join(lib, rel);
  for (let i = 0; i < 24; i++) write(L(`d${i % 3}/f${i}`), `content ${i} `.repeat(50 + i));
  const run = (disk: string) => {
    const r = blaine(['backup', '--dest', disk, '--db', db, '--reserve', '0', '--no-parity', '--clean', '--json', lib]);
    assert.equal(r.status, 0, r.stderr);
    return { s: summaryOf(r), stderr: r.stderr };
  };
  assert.equal(blaine(['backup', '--init', '--label', 'B', '--dest', B, '--db', db, '--reserve', '0', '--no-parity', lib]).status, 0);
  assert.equal(blaine(['clone', '--dest', B, '--to', B2, '--db', db]).status, 0);
  const volume = volumeOf(B).volume;
  const onB2 = (rel: string) => path.join(B2, lib.slice(1), rel);

  // A run that changes nothing keeps the generation: the twin stays in step and is not caught up.
  const gen0 = hostGeneration(db, volume);
  assert.equal(run(B).s.unchanged, 24);
  assert.equal(hostGeneration(db, volume), gen0, 'a no-change run bumped the generation');
  const inStep = run(B2);
  assert.equal(inStep.s.unchanged, 24);
  assert.doesNotMatch(inStep.stderr, /brought .* up to date/);
  assert.equal(diskGeneration(B2), gen0);

  // A week on B.
  const renamedIno = fs.statSync(onB2('d0/f0')).ino;
  fs.renameSync(L('d0/f0'), L('d0/f0.renamed'));
  fs.mkdirSync(L('new-dir'));
  fs.renameSync(L('d1/f1'), L('new-dir/f1'));
  fs.renameSync(L('d2/f2'), L('d2/f2.tmp')); // a swap
  fs.renameSync(L('d2/f5'), L('d2/f2'));
  fs.renameSync(L('d2/f2.tmp'), L('d2/f5'));
  fs.rmSync(L('d0/f3'));
  fs.rmSync(L('d1/f4'));
  fs.writeFileSync(L('d0/f6'), 'changed content '.repeat(40));
  let newBytes = 'changed content '.repeat(40).length;
  for (let i = 0; i < 4; i++) {
    const body = `brand new ${i} `.repeat(30 + i);
    write(L(`new-dir/n${i}`), body);
    newBytes += body.length;
  }
  fs.copyFileSync(L('d1/f7'), L('new-dir/dup-of-f7'));
  const moved = run(B).s;
  assert.equal(moved.renamed, 4);
  assert.equal(moved.removed, 2);
  const gen1 = hostGeneration(db, volume);
  assert.ok(gen1 > gen0);
  assert.equal(run(B).s.unchanged, 24 - 2 + 4 + 1);
  assert.equal(hostGeneration(db, volume), gen1, 'the no-change run after the week bumped the generation');

  // B2 comes back: behind by B's one changing run.
  assert.ok(diskGeneration(B2) < gen1);
  const back = run(B2);
  assert.match(back.stderr, /brought .* up to date/);
  assert.equal(back.s.bytesCopied, newBytes, 'only new content is copied; renamed and duplicated content is moved or linked');
  assert.equal(fs.statSync(onB2('d0/f0.renamed')).ino, renamedIno, 'a renamed file was copied instead of moved');
  assert.equal(fs.existsSync(onB2('d0/f3')), false);
  // Against B's copy, not the library: times set to the nanosecond are checked by the fidelity tests.
  const onB = (rel: string) => path.join(B, lib.slice(1), rel);
  assert.equal(fs.statSync(onB2('d0/f0.renamed'), { bigint: true }).mtimeNs, fs.statSync(onB('d0/f0.renamed'), { bigint: true }).mtimeNs);
  assertDiskMatchesCatalog(B2, db);
  assertArchiveHolds(lib, [B2]);
  assert.equal(diskGeneration(B2), hostGeneration(db, volume));

  // B2's run changed B2 only: B, which holds the volume's state, must not be taken as behind.
  const again = run(B2);
  assert.equal(again.s.bytesCopied, 0);
  const bAgain = run(B);
  assert.doesNotMatch(bAgain.stderr, /brought .* up to date/);
  assert.equal(bAgain.s.unchanged, 27);
  assertDiskMatchesCatalog(B, db);
  assertArchiveHolds(lib, [B]);

  // `apply` catches B2 up without a backup; that too leaves B in step.
  fs.renameSync(L('d1/f7'), L('d1/f7.renamed'));
  assert.equal(run(B).s.renamed, 1);
  const gen2 = hostGeneration(db, volume);
  const ap = blaine(['apply', '--dest', B2, '--db', db]);
  assert.equal(ap.status, 0, ap.stderr);
  assert.equal(hostGeneration(db, volume), gen2, 'apply bumped the generation');
  assert.equal(diskGeneration(B2), gen2);
  assertDiskMatchesCatalog(B2, db);
  assert.doesNotMatch(run(B).stderr, /brought .* up to date/);
});
