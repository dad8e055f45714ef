// The archive's own files (journal, volume.json, catalog snapshots, rotated catalogs) and the
// mtime setter, on the fault-injecting file-system layer: no root needed.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { faultyFs, parseFaults } from '../fsx/fault.js';
import { realFs } from '../fsx/fsx.js';
import { CopyError, setTimes } from '../fsx/copy.js';
import { Catalog } from '../catalog/catalog.js';
import { isTempName } from '../fsx/temp.js';
import { Journal, journalPath, recoverJournal } from './journal.js';
import { cleanupTemp, initVolume, readVolume, writeVolume } from './volume.js';
import { blaineDir, oldCatalogsDir, volumeFile } from './layout.js';
import { rotateOldCatalogs } from './session.js';
import { snapshotDatabases } from '../catalog/snapshot.js';
import { scratchDir, writeUnder } from '../../test/helpers.js';

function journalLines(root: string): unknown[] {
  return fs
    .readFileSync(journalPath(root), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as unknown);
}

test('journal: a write that fails leaves nothing counted; the next one still starts with the batch header', (t) => {
  const root = scratchDir(t);
  fs.mkdirSync(blaineDir(root), { recursive: true });
  const faulty = faultyFs(realFs, parseFaults('write:1:EIO@journal'));
  const journal = new Journal(root, faulty);
  assert.throws(
    () => journal.intend([{ op: 'write', path: '/lib/a' }]),
    (err) => err instanceof CopyError && err.code === 'TARGET' && err.message === `Cannot write ${journalPath(root)}: i/o error.`,
  );
  assert.equal(faulty.log.fired.length, 1);
  journal.intend([{ op: 'write', path: '/lib/b' }]);
  const lines = journalLines(root);
  assert.equal(lines.length, 2, 'the header and the one step that was journalled');
  assert.equal((lines[0] as { batch: string }).batch, journal.batch);
  assert.deepEqual(lines[1], { op: 'write', path: '/lib/b' });
  journal.close();
});

test('journal: a step written after a failed one is found by recovery (no torn line hides it)', (t) => {
  const root = scratchDir(t);
  fs.mkdirSync(blaineDir(root), { recursive: true });
  const catalog = Catalog.memory();
  t.after(() => catalog.close());
  const faulty = faultyFs(realFs, parseFaults('fsync:2:EIO@journal'));
  const journal = new Journal(root, faulty);
  journal.intend([{ op: 'write', path: '/lib/a' }]);
  // The second write reaches the file but its fsync fails: it must not stay in the journal.
  assert.throws(() => journal.intend([{ op: 'write', path: '/lib/never-made' }]), (err) => err instanceof CopyError && err.code === 'TARGET');
  // A file was made for the third step; the crash comes before the commit.
  writeUnder(root, 'lib/c', 'made after the failure');
  journal.intend([{ op: 'write', path: '/lib/c' }]);
  journal.close();
  assert.deepEqual(
    journalLines(root).slice(1),
    [{ op: 'write', path: '/lib/a' }, { op: 'write', path: '/lib/c' }],
  );
  const report = recoverJournal(root, catalog, 'vol', realFs);
  assert.ok(report);
  assert.equal(report.reconciled, 1, 'the uncatalogued file of the third step is removed');
  assert.ok(!fs.existsSync(path.join(root, 'lib/c')));
  assert.ok(!fs.existsSync(journalPath(root)));
});

test('volume.json: ENOSPC while writing it is a disk-full CopyError; the old file stays and no temporary file is left', (t) => {
  const disk = scratchDir(t);
  const info = initVolume(disk, 'A', undefined, realFs);
  for (const fault of ['write:1:ENOSPC', 'fsync:1:ENOSPC', 'rename:1:EIO']) {
    const faulty = faultyFs(realFs, parseFaults(`${fault}@volume.json`));
    assert.throws(
      () => writeVolume(disk, { ...info, label: 'B' }, faulty),
      (err) => {
        assert.ok(err instanceof CopyError, String(err));
        assert.equal(err.code, fault.endsWith('ENOSPC') ? 'ENOSPC' : 'TARGET');
        assert.match(err.message, fault.endsWith('ENOSPC') ? /^The disk is full: there is no room left to write .*volume\.json\.$/ : /^Cannot write .*volume\.json: i\/o error\.$/);
        return true;
      },
    );
    assert.equal(faulty.log.fired.length, 1, fault);
    assert.equal(readVolume(disk, realFs).label, 'A', `${fault}: the old identity stays`);
    assert.deepEqual(fs.readdirSync(blaineDir(disk)).filter(isTempName), [], `${fault}: no temporary file left`);
  }
});

test('init: volume.json that cannot be written leaves an uninitialised disk that a second init makes whole', (t) => {
  const disk = scratchDir(t);
  const faulty = faultyFs(realFs, parseFaults('write:1:ENOSPC@volume.json'));
  assert.throws(() => initVolume(disk, 'A', {}, faulty), (err) => err instanceof CopyError && err.code === 'ENOSPC');
  assert.ok(!fs.existsSync(volumeFile(disk)));
  assert.equal(initVolume(disk, 'A', undefined, realFs).label, 'A');
});

test('catalog snapshot: a failed rename leaves no temporary file; a crash leftover in .blaine/old is cleaned up', async (t) => {
  const root = scratchDir(t);
  fs.mkdirSync(blaineDir(root), { recursive: true });
  initVolume(root, 'A', undefined, realFs);
  const catalog = Catalog.open(path.join(blaineDir(root), 'catalog.sqlite'), { create: true });
  t.after(() => catalog.close());
  const faulty = faultyFs(realFs, parseFaults('rename:1:EIO@/old/'));
  await assert.rejects(rotateOldCatalogs(root, catalog, 5, faulty), (err) => err instanceof CopyError && /^Cannot write .*\/old\/catalog-.*\.sqlite: i\/o error\.$/.test(err.message));
  assert.deepEqual(fs.readdirSync(oldCatalogsDir(root)), []);
  // What a crash between the copy and the rename leaves:
  writeUnder(oldCatalogsDir(root), '.catalog-x.sqlite.blaine-tmp-1-1', 'partial');
  assert.equal(cleanupTemp(root, undefined, realFs), 1);
  assert.deepEqual(fs.readdirSync(oldCatalogsDir(root)), []);
  await rotateOldCatalogs(root, catalog, 5, faulty);
  assert.equal(fs.readdirSync(oldCatalogsDir(root)).length, 1);
});

test('mtime setter: EIO is a CopyError naming the file, and its path-only fault hits that file alone', (t) => {
  const dir = scratchDir(t);
  const a = writeUnder(dir, 'a', 'a');
  const b = writeUnder(dir, 'b', 'b');
  const faulty = faultyFs(realFs, parseFaults(`utimes:1:EIO@${b}`));
  setTimes(a, 1_000_000_000, 123_456_789, faulty);
  assert.throws(
    () => setTimes(b, 1_000_000_000, 5, faulty),
    (err) => err instanceof CopyError && err.code === 'TARGET' && err.message === `Cannot write ${b}: i/o error.`,
  );
  const st = fs.statSync(a, { bigint: true });
  assert.equal(st.mtimeNs, 1_000_000_000_123_456_789n);
  setTimes(b, 1_000_000_000, 5, faulty);
  assert.equal(fs.statSync(b, { bigint: true }).mtimeNs, 1_000_000_000_000_000_005n);
});

test('catalog snapshots made side by side: one failed copy leaves neither snapshot nor temporary file; then both are whole', async (t) => {
  const dir = scratchDir(t);
  const open = (name: string, rows: number) => {
    const cat = Catalog.open(path.join(dir, `${name}.sqlite`), { create: true });
    t.after(() => cat.close());
    cat.transaction(() => {
      for (let i = 0; i < rows; i++) cat.setMeta(`k${i}`, `${name}-${i}`);
    });
    return cat;
  };
  const host = open('host', 300);
  const disk = open('disk', 200);
  const out = path.join(dir, 'out');
  fs.mkdirSync(out);
  const jobs = () => [disk.snapshotJob(path.join(out, 'old-catalog.sqlite')), host.snapshotJob(path.join(out, 'host-catalog.sqlite'))];
  const faulty = faultyFs(realFs, parseFaults('copyfile:2:EIO'));
  await assert.rejects(snapshotDatabases(jobs(), faulty), (err) => err instanceof CopyError && /host-catalog\.sqlite: i\/o error\.$/.test(err.message));
  assert.deepEqual(fs.readdirSync(out), []);
  await snapshotDatabases(jobs(), faulty);
  assert.deepEqual(fs.readdirSync(out).sort(), ['host-catalog.sqlite', 'old-catalog.sqlite']);
  for (const [name, rows] of [['host', 300], ['old', 200]] as const) {
    const copy = Catalog.open(path.join(out, `${name === 'old' ? 'old' : 'host'}-catalog.sqlite`), { readonly: true });
    assert.equal(copy.getMeta(`k${rows - 1}`), `${name === 'old' ? 'disk' : 'host'}-${rows - 1}`);
    assert.equal(copy.getMeta(`k${rows}`), undefined);
    copy.close();
  }
});
