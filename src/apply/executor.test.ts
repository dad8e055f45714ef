import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { scratchDir, sha256, writeUnder, collectWarnings } from '../../test/helpers.js';
import { Catalog } from '../catalog/catalog.js';
import type { CatalogEntry } from '../catalog/entry.js';
import { FEED_FROM, ParityPool } from '../parity/pool.js';
import { verifyParity } from '../parity/par2.js';
import { faultyFs, parseFaults } from '../fsx/fault.js';
import { realFs, type Fsx } from '../fsx/fsx.js';
import type { Operation } from '../plan/operation.js';
import type { FileRecord } from '../scan/record.js';
import { Executor, type ExecutorContext } from './executor.js';
import { rawConnection } from '../catalog/testing.js';

const VOLUME = 'v-1';

/** A host and a disk catalog in memory, closed after the test. */
function memoryCatalogs(t: { after: (fn: () => void) => void }): { host: Catalog; disk: Catalog } {
  const host = Catalog.memory();
  const disk = Catalog.memory();
  t.after(() => {
    host.close();
    disk.close();
  });
  return { host, disk };
}

/** Files anywhere below dir (copies made ahead wait in folders of .blaine/tmp). */
function filesBelow(dir: string): number {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((n) => fs.statSync(path.join(dir, n)).isFile()).length;
}

/** Copies made ahead: waiting under temporary names in tmp, or already at their new names below root (copy-ahead.ts). */
function madeAhead(tmp: string, root: string, newNames: string[]): number {
  return filesBelow(tmp) + newNames.filter((f) => fs.existsSync(path.join(root, f.slice(1)))).length;
}

function recordOf(file: string): FileRecord {
  const st = fs.lstatSync(file, { bigint: true });
  return {
    path: file,
    kind: 'file',
    size: Number(st.size),
    mtimeSec: Number(st.mtimeNs / 1_000_000_000n),
    mtimeNsec: Number(st.mtimeNs % 1_000_000_000n),
    inode: String(st.ino),
    nlink: Number(st.nlink),
    mode: Number(st.mode),
    uid: Number(st.uid),
    gid: Number(st.gid),
  };
}

/** Two new files to copy onto an empty disk, run on the given fault specification. */
async function copyTwo(t: test.TestContext, faults: string) {
  const dir = scratchDir(t);
  const a = writeUnder(dir, 'lib/a.bin', crypto.randomBytes(70_000));
  const b = writeUnder(dir, 'lib/b.bin', crypto.randomBytes(90_000));
  const root = path.join(dir, 'disk');
  fs.mkdirSync(path.join(root, '.blaine', 'tmp'), { recursive: true });
  const { host, disk } = memoryCatalogs(t);
  const warnings: string[] = [];
  const ops: Operation[] = [a, b].map((f) => ({ type: 'copy', record: recordOf(f), why: 'added' }));
  const ex = new Executor({
    root,
    volume: VOLUME,
    host,
    disk,
    parity: null,
    parityPct: 0,
    reserve: 0,
    signal: new AbortController().signal,
    tell: collectWarnings(warnings),
    fs: faultyFs(realFs, parseFaults(faults)),
  });
  const result = await ex.run(ops);
  const onDisk = (f: string) => path.join(root, f);
  return { a, b, root, host, disk, warnings, result, onDisk };
}

test('executor: ENOSPC while copying the second file stops the run as disk-full with the first one catalogued in both catalogs', async (t) => {
  const { a, b, root, host, disk, result, onDisk } = await copyTwo(t, `write:1:ENOSPC@b.bin`);
  assert.equal(result.stopped?.reason, 'disk-full');
  assert.equal(result.counts.added, 1);
  for (const cat of [disk, host]) assert.deepEqual(cat.entriesOfVolume(VOLUME).map((e) => [e.path, e.sha256]), [[a, sha256(fs.readFileSync(a))]]);
  assert.ok(fs.existsSync(onDisk(a)));
  assert.ok(!fs.existsSync(onDisk(b)));
  assert.deepEqual(fs.readdirSync(path.join(root, '.blaine', 'tmp')), []);
});

test('executor: EIO reading one source file skips it with a warning; the other is copied and catalogued', async (t) => {
  const { a, b, disk, result, warnings, onDisk } = await copyTwo(t, `read:1:EIO@a.bin`);
  assert.equal(result.stopped, null);
  assert.deepEqual(result.skipped.map((s) => s.path), [a]);
  assert.match(warnings.join('\n'), /Cannot read .*a\.bin: i\/o error/);
  assert.deepEqual(disk.entriesOfVolume(VOLUME).map((e) => e.path), [b]);
  assert.ok(!fs.existsSync(onDisk(a)));
  assert.equal(sha256(fs.readFileSync(onDisk(b))), sha256(fs.readFileSync(b)));
});

/** Executes ops on a disk whose catalogs already hold `stored` (entries made from the given files). */
async function runOn(root: string, stored: FileRecord[], sha: (p: string) => string, ops: Operation[]) {
  const host = Catalog.memory();
  const disk = Catalog.memory();
  for (const r of stored) {
    const e = { ...r, volume: VOLUME, sha256: sha(r.path), linkTarget: null, parityName: null, verifiedAt: null, mode: r.mode & 0o7777 };
    host.put(e as never);
    disk.put(e as never);
  }
  const warnings: string[] = [];
  const result = await plainExecutor(root, host, disk, warnings).run(ops);
  return { host, disk, warnings, result };
}

function plainExecutor(root: string, host: Catalog, disk: Catalog, warnings: string[]): Executor {
  return executorOn(root, host, disk, { tell: collectWarnings(warnings) });
}

/** An executor on `root`: no parity, no reserve, never interrupted, any warning fails the test; `more` overrides. */
function executorOn(root: string, host: Catalog, disk: Catalog, more: Partial<ExecutorContext> = {}): Executor {
  return new Executor({
    root, volume: VOLUME, host, disk, parity: null, parityPct: 0, reserve: 0,
    signal: new AbortController().signal, tell: collectWarnings('fail'), fs: realFs,
    ...more,
  });
}

test('executor: a link whose destination already is a name of the same file leaves no temporary name beside it', async (t) => {
  const dir = scratchDir(t);
  const root = path.join(dir, 'disk');
  const a = writeUnder(root, 'lib/a.bin', crypto.randomBytes(5_000));
  const b = path.join(root, 'lib', 'b.bin');
  fs.linkSync(a, b);
  fs.mkdirSync(path.join(root, '.blaine'));
  const rec = (p: string) => ({ ...recordOf(p), path: p.slice(root.length) });
  const digest = sha256(fs.readFileSync(a));
  const from = { ...rec(a), volume: VOLUME, sha256: digest, linkTarget: null, parityName: null, verifiedAt: null };
  const { host, disk, warnings } = await runOn(root, [rec(a)], () => digest, [
    { type: 'link', record: rec(b), from: from as never, why: 'linked' },
  ]);
  t.after(() => {
    host.close();
    disk.close();
  });
  assert.deepEqual(warnings, []);
  assert.deepEqual(fs.readdirSync(path.join(root, 'lib')).sort(), ['a.bin', 'b.bin']);
  assert.equal(fs.statSync(a).ino, fs.statSync(b).ino);
});

test('executor: a dangling symlink that a killed run already moved keeps its catalog row', async (t) => {
  const dir = scratchDir(t);
  const root = path.join(dir, 'disk');
  fs.mkdirSync(path.join(root, 'lib'), { recursive: true });
  fs.mkdirSync(path.join(root, '.blaine'));
  const moved = path.join(root, 'lib', 'new-link');
  fs.symlinkSync('nowhere', moved);
  const st = fs.lstatSync(moved, { bigint: true });
  const old = {
    path: '/lib/old-link', kind: 'symlink' as const, size: Number(st.size), mtimeSec: Number(st.mtimeNs / 1_000_000_000n),
    mtimeNsec: Number(st.mtimeNs % 1_000_000_000n), inode: null, nlink: 1, mode: 0o777, uid: Number(st.uid), gid: Number(st.gid),
  };
  const { host, disk } = memoryCatalogs(t);
  const entry = { ...old, volume: VOLUME, sha256: null, linkTarget: 'nowhere', parityName: null, verifiedAt: null };
  host.put(entry as never);
  disk.put(entry as never);
  const warnings: string[] = [];
  await plainExecutor(root, host, disk, warnings).run([{ type: 'rename', from: entry as never, to: '/lib/new-link', record: null }]);
  assert.deepEqual(warnings, []);
  assert.deepEqual(disk.entriesOfVolume(VOLUME).map((e) => [e.path, e.linkTarget]), [['/lib/new-link', 'nowhere']]);
});

test('executor: copies are journalled many to one fsync, and what a commit empties from the journal is written again', async (t) => {
  const dir = scratchDir(t);
  const files = ['a', 'b', 'c', 'd', 'e'].map((n) => writeUnder(dir, `lib/${n}.bin`, crypto.randomBytes(3_000)));
  const root = path.join(dir, 'disk');
  fs.mkdirSync(path.join(root, '.blaine', 'tmp'), { recursive: true });
  const { host, disk } = memoryCatalogs(t);
  const fsx = faultyFs(realFs, []);
  const journal = path.join(root, '.blaine', 'journal');
  const journalled: string[][] = [];
  const ex: Executor = new Executor({
    root, volume: VOLUME, host, disk, parity: null, parityPct: 0, reserve: 0,
    signal: new AbortController().signal, tell: collectWarnings('fail'), fs: fsx,
    progress: (done) => {
      // What a crash right after this operation would find in the journal.
      journalled.push(fs.existsSync(journal) ? fs.readFileSync(journal, 'utf8').split('\n').filter((l) => l.includes('"op"')).map((l) => path.basename(JSON.parse(l).path)) : []);
      if (done === 2) ex.commit();
    },
  });
  const result = await ex.run(files.map((f) => ({ type: 'copy', record: recordOf(f), why: 'added' })));
  assert.equal(result.counts.added, 5);
  const all = ['a.bin', 'b.bin', 'c.bin', 'd.bin', 'e.bin'];
  assert.deepEqual(journalled, [all, all, all.slice(2), all.slice(2), all.slice(2)]);
  // One fsync for the first batch's journal and one for the second's.
  assert.equal(fsx.log.calls.fsync, 2);
  assert.ok(!fs.existsSync(journal));
  assert.deepEqual(disk.entriesOfVolume(VOLUME).map((e) => path.basename(e.path)), all);
});

test('executor: a backup applied a chunk at a time has the copies of every chunk made ahead, not only the first', async (t) => {
  const dir = scratchDir(t);
  const first = ['a', 'b', 'c'].map((n) => writeUnder(dir, `lib/${n}.bin`, crypto.randomBytes(2_000)));
  const second = ['d', 'e', 'f', 'g', 'h'].map((n) => writeUnder(dir, `lib/${n}.bin`, crypto.randomBytes(2_000)));
  const root = path.join(dir, 'disk');
  const tmp = path.join(root, '.blaine', 'tmp');
  fs.mkdirSync(tmp, { recursive: true });
  const { host, disk } = memoryCatalogs(t);
  // Copies made ahead wait under temporary names or at their names: after the first copy of a chunk, the rest of it.
  const waiting: number[] = [];
  let rest: string[] = [];
  const ex = executorOn(root, host, disk, {
    fs: faultyFs(realFs, []),
    progress: (done) => {
      if (done === 1) waiting.push(madeAhead(tmp, root, rest));
    },
  });
  const copies = (files: string[]): Operation[] => files.map((f) => ({ type: 'copy', record: recordOf(f), why: 'added' }));
  rest = first.slice(1);
  await ex.run(copies(first), { more: true });
  rest = second.slice(1);
  const result = await ex.run(copies(second));
  assert.deepEqual(waiting, [2, 4]);
  // One executor for the whole run: its counts add up over the chunks.
  assert.equal(result.counts.added, 8);
  assert.deepEqual(fs.readdirSync(tmp), []);
  assert.deepEqual(disk.entriesOfVolume(VOLUME).map((e) => path.basename(e.path)), ['a.bin', 'b.bin', 'c.bin', 'd.bin', 'e.bin', 'f.bin', 'g.bin', 'h.bin']);
});

test('executor: copies are made ahead past links, and a copy that replaces a stored file is made ahead too', async (t) => {
  const dir = scratchDir(t);
  const content = crypto.randomBytes(2_000);
  const [a, twin, b, c] = ['a', 'twin', 'b', 'c'].map((n) => writeUnder(dir, `lib/${n}.bin`, n === 'twin' ? content : n === 'a' ? content : crypto.randomBytes(2_000)));
  const root = path.join(dir, 'disk');
  const tmp = path.join(root, '.blaine', 'tmp');
  fs.mkdirSync(tmp, { recursive: true });
  // c is stored already, with other content: its copy replaces it.
  writeUnder(root, c!.slice(1), 'old content');
  const { host, disk } = memoryCatalogs(t);
  const oldC = { ...recordOf(c!), size: 11 };
  const stored = { volume: VOLUME, path: c!, kind: 'file' as const, size: 11, mtimeSec: oldC.mtimeSec, mtimeNsec: oldC.mtimeNsec, inode: '1', sha256: sha256('old content'), mode: oldC.mode, uid: oldC.uid, gid: oldC.gid, linkTarget: null, parityName: null, verifiedAt: null };
  host.put(stored);
  disk.put(stored);
  const waiting: number[] = [];
  const ex = executorOn(root, host, disk, {
    fs: faultyFs(realFs, []),
    progress: (done) => {
      if (done === 1) waiting.push(madeAhead(tmp, root, [b!]));
    },
  });
  const fromA = { ...stored, path: a!, size: 2_000, sha256: sha256(content), inode: '2' };
  const ops: Operation[] = [
    { type: 'copy', record: recordOf(a!), why: 'added' },
    { type: 'link', record: recordOf(twin!), from: fromA, why: 'linked' },
    { type: 'copy', record: recordOf(b!), why: 'added' },
    { type: 'copy', record: recordOf(c!), replaces: stored, why: 'modified' },
  ];
  const result = await ex.run(ops);
  // After the first copy: b's and c's, made ahead past the link.
  assert.deepEqual(waiting, [2]);
  assert.deepEqual([result.counts.added, result.counts.linked, result.counts.modified], [2, 1, 1]);
  assert.deepEqual(fs.readdirSync(tmp), []);
  for (const f of [a!, twin!, b!, c!]) assert.deepEqual(fs.readFileSync(path.join(root, f.slice(1))), fs.readFileSync(f));
  assert.equal(fs.statSync(path.join(root, a!.slice(1))).ino, fs.statSync(path.join(root, twin!.slice(1))).ino);
});

test('executor: a part of a backup that more parts follow leaves its small batch open; the last part commits it', async (t) => {
  const dir = scratchDir(t);
  const files = ['a', 'b', 'c'].map((n) => writeUnder(dir, `lib/${n}.bin`, crypto.randomBytes(1_000)));
  const root = path.join(dir, 'disk');
  fs.mkdirSync(path.join(root, '.blaine', 'tmp'), { recursive: true });
  const { host, disk } = memoryCatalogs(t);
  const ex = executorOn(root, host, disk);
  const copy = (f: string): Operation => ({ type: 'copy', record: recordOf(f), why: 'added' });
  await ex.run([copy(files[0]!), copy(files[1]!)], { more: true });
  assert.ok(host.inTransaction && disk.inTransaction);
  // Journalled still: a crash here is undone from the journal, as in any batch.
  assert.ok(fs.existsSync(path.join(root, '.blaine', 'journal')));
  await ex.run([copy(files[2]!)]);
  assert.ok(!host.inTransaction && !disk.inTransaction);
  assert.ok(!fs.existsSync(path.join(root, '.blaine', 'journal')));
  assert.deepEqual(disk.entriesOfVolume(VOLUME).map((e) => path.basename(e.path)), ['a.bin', 'b.bin', 'c.bin']);
});

/** The disk's row for a file stored at `file` (its content already on the disk). */
function storedEntry(file: string, content: Buffer | string): CatalogEntry {
  const r = recordOf(file);
  return { volume: VOLUME, path: file, kind: 'file', size: r.size, mtimeSec: r.mtimeSec, mtimeNsec: r.mtimeNsec, inode: r.inode, sha256: sha256(content), mode: r.mode, uid: r.uid, gid: r.gid, linkTarget: null, parityName: null, verifiedAt: null };
}

test('executor: interrupted mid-swap, the swap is finished past the skipped copy, each move journalled before it is made, progress counted right', async (t) => {
  const dir = scratchDir(t);
  const root = path.join(dir, 'disk');
  const [x, y] = [crypto.randomBytes(3_000), crypto.randomBytes(4_000)];
  // The library swapped a and b; the disk holds them as they were.
  const a = writeUnder(dir, 'lib/a.bin', y);
  const b = writeUnder(dir, 'lib/b.bin', x);
  const c = writeUnder(dir, 'lib/c.bin', crypto.randomBytes(1_000));
  writeUnder(root, a.slice(1), x);
  writeUnder(root, b.slice(1), y);
  fs.mkdirSync(path.join(root, '.blaine', 'tmp'), { recursive: true });
  const { host, disk } = memoryCatalogs(t);
  const [storedA, storedB] = [storedEntry(a, x), storedEntry(b, y)];
  for (const e of [storedA, storedB]) {
    host.put(e);
    disk.put(e);
  }
  const parking = '/.blaine/tmp/swap-a.bin';
  const parked = { ...storedA, path: parking };
  const ops: Operation[] = [
    { type: 'rename', from: storedA, to: parking, record: null },
    { type: 'copy', record: recordOf(c), why: 'added' },
    { type: 'rename', from: storedB, to: a, record: recordOf(a) },
    { type: 'rename', from: parked, to: b, record: recordOf(b) },
  ];
  const interrupt = new AbortController();
  const progress: number[] = [];
  const journalled: string[][] = [];
  const journal = path.join(root, '.blaine', 'journal');
  const ex = executorOn(root, host, disk, {
    signal: interrupt.signal,
    progress: (done) => {
      progress.push(done);
      // The moves made so far, as the journal names them (what a crash now would be undone from).
      const steps = fs.existsSync(journal) ? fs.readFileSync(journal, 'utf8').trim().split('\n').slice(1).map((l) => JSON.parse(l) as { op: string; to?: string }) : [];
      journalled.push(steps.filter((s) => s.op === 'rename').map((s) => s.to!));
      if (done === 1) interrupt.abort();
    },
  });
  const result = await ex.run(ops);
  assert.equal(result.stopped?.reason, 'interrupted');
  // The copy was left out; both moves of the swap were made, each journalled by the time it was made.
  assert.deepEqual(progress, [1, 3, 4]);
  assert.deepEqual(journalled.at(1), [parking, a, b]);
  assert.deepEqual(fs.readFileSync(path.join(root, a.slice(1))), y);
  assert.deepEqual(fs.readFileSync(path.join(root, b.slice(1))), x);
  assert.ok(!fs.existsSync(path.join(root, c.slice(1))));
  for (const cat of [disk, host]) assert.deepEqual(cat.entriesOfVolume(VOLUME).map((e) => [e.path, e.sha256]), [[a, sha256(y)], [b, sha256(x)]]);
});

test('executor: the host catalog refusing the row of a finished parity set fails the run with that error, not an unhandled rejection', async (t) => {
  const dir = scratchDir(t);
  const root = path.join(dir, 'disk');
  fs.mkdirSync(path.join(root, '.blaine', 'tmp'), { recursive: true });
  const file = writeUnder(dir, 'lib/a.bin', crypto.randomBytes(200_000));
  const { host, disk } = memoryCatalogs(t);
  const pool = new ParityPool({ jobs: 1, pct: 10 });
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  process.on('unhandledRejection', onUnhandled);
  t.after(() => process.off('unhandledRejection', onUnhandled));
  const ex = executorOn(root, host, disk, {
    parity: pool,
    parityPct: 10,
    // Once the copy is committed, the host catalog takes no more writes (as SQLite on a full disk).
    progress: () => rawConnection(host).exec(`CREATE TEMP TRIGGER full BEFORE UPDATE ON entries BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END;
      CREATE TEMP TRIGGER full_insert BEFORE INSERT ON entries BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END;`),
  });
  await assert.rejects(ex.run([{ type: 'copy', record: recordOf(file), why: 'added' }]), /database or disk is full/);
  // Let any stray rejection surface before looking.
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(unhandled, []);
  // The copy itself was committed before the parity finished: the archive holds it.
  assert.deepEqual(disk.entriesOfVolume(VOLUME).map((e) => [e.path, e.sha256]), [[file, sha256(fs.readFileSync(file))]]);
  assert.deepEqual(fs.readFileSync(path.join(root, file.slice(1))), fs.readFileSync(file));
});

/** A layer whose native copies are counted: how many ran at most at once. */
function overlapCounting(base: Fsx): Fsx & { most: number } {
  const layer = { ...base, most: 0 };
  let now = 0;
  const copy = base.copyFd!;
  layer.copyFd = async (job, faults) => {
    layer.most = Math.max(layer.most, ++now);
    try {
      return await copy(job, faults);
    } finally {
      now--;
    }
  };
  return layer;
}

test('executor: big files are copied two at once, each feeding its own set, and every set verifies', { skip: realFs.copyFd ? false : 'the native addon is not built' }, async (t) => {
  const dir = scratchDir(t);
  const root = path.join(dir, 'disk');
  fs.mkdirSync(path.join(root, '.blaine', 'tmp'), { recursive: true });
  const files = ['a', 'b', 'c', 'd'].map((n, i) => writeUnder(dir, `lib/${n}.bin`, crypto.randomBytes(FEED_FROM + i * 70_001)));
  const small = writeUnder(dir, 'lib/small.bin', crypto.randomBytes(5_000));
  const { host, disk } = memoryCatalogs(t);
  const layer = overlapCounting(faultyFs(realFs, []));
  const pool = new ParityPool({ jobs: 2, pct: 10, feeders: true });
  const ex = executorOn(root, host, disk, { parity: pool, parityPct: 10, fs: layer });
  const ops: Operation[] = [files[0]!, small, ...files.slice(1)].map((f) => ({ type: 'copy', record: recordOf(f), why: 'added' }));
  const result = await ex.run(ops);
  assert.equal(result.counts.added, 5);
  assert.equal(layer.most, 2, 'two big copies at once, never more');
  assert.deepEqual(fs.readdirSync(path.join(root, '.blaine', 'tmp')), []);
  for (const f of files) {
    const rel = f.slice(1);
    assert.deepEqual(fs.readFileSync(path.join(root, rel)), fs.readFileSync(f));
    const row = disk.entriesOfVolume(VOLUME).find((e) => e.path === f)!;
    assert.equal(row.sha256, sha256(fs.readFileSync(f)));
    assert.deepEqual(await verifyParity(root, rel, row.parityName!), { state: 'ok' }, rel);
  }
});

test('executor: a full disk while big files are copied ahead stops the run; the copies and sets made ahead are dropped, nothing is left', { skip: realFs.copyFd ? false : 'the native addon is not built' }, async (t) => {
  const dir = scratchDir(t);
  const root = path.join(dir, 'disk');
  fs.mkdirSync(path.join(root, '.blaine', 'tmp'), { recursive: true });
  const files = ['a', 'b', 'c'].map((n) => writeUnder(dir, `lib/${n}.bin`, crypto.randomBytes(FEED_FROM + 1_000)));
  const { host, disk } = memoryCatalogs(t);
  // The third write of b: b's copy fails while c's, made ahead beside it, goes on.
  const pool = new ParityPool({ jobs: 2, pct: 10, feeders: true });
  const ex = executorOn(root, host, disk, { parity: pool, parityPct: 10, fs: faultyFs(realFs, parseFaults('write:3:ENOSPC@b.bin')) });
  const result = await ex.run(files.map((f) => ({ type: 'copy', record: recordOf(f), why: 'added' })));
  assert.equal(result.stopped?.reason, 'disk-full');
  assert.deepEqual(disk.entriesOfVolume(VOLUME).map((e) => e.path), [files[0]]);
  assert.deepEqual(fs.readdirSync(path.join(root, '.blaine', 'tmp')), [], 'no copy made ahead is left');
  assert.ok(!fs.existsSync(path.join(root, files[1]!.slice(1))) && !fs.existsSync(path.join(root, files[2]!.slice(1))));
  // The pool holds no slot for a set that will never be made: it drains.
  await pool.drain();
  assert.equal(pool.active + pool.queued, 0);
});

test('executor: copies the copying thread put in place and the run never reached are removed when it stops; every name on the disk has its row', async (t) => {
  const dir = scratchDir(t);
  const files = Array.from({ length: 12 }, (_, i) => writeUnder(dir, `lib/f${String(i).padStart(2, '0')}.bin`, crypto.randomBytes(1_000 + i)));
  const root = path.join(dir, 'disk');
  const tmp = path.join(root, '.blaine', 'tmp');
  fs.mkdirSync(tmp, { recursive: true });
  const { host, disk } = memoryCatalogs(t);
  const stop = new AbortController();
  let placedEarly = 0;
  const ex = executorOn(root, host, disk, {
    signal: stop.signal,
    tell: () => {},
    progress: (done) => {
      // The copies after the first were made ahead, and put at their names (their steps are journalled).
      if (done === 1) {
        placedEarly = files.slice(1).filter((f) => fs.existsSync(path.join(root, f.slice(1)))).length;
        stop.abort();
      }
    },
  });
  const result = await ex.run(files.map((f) => ({ type: 'copy', record: recordOf(f), why: 'added' })));
  assert.equal(result.stopped?.reason, 'interrupted');
  assert.ok(placedEarly > 0, 'no copy was put in place ahead of the executor');
  const catalogued = disk.entriesOfVolume(VOLUME).map((e) => e.path);
  assert.deepEqual(catalogued, [files[0]!]);
  const onDisk = files.filter((f) => fs.existsSync(path.join(root, f.slice(1))));
  assert.deepEqual(onDisk, catalogued, 'names on the disk without a row');
  assert.equal(filesBelow(tmp), 0);
});

test('executor: a batch that falls due while copies stand at their names unrecorded is committed only once every such copy has its row', async (t) => {
  const dir = scratchDir(t);
  const files = Array.from({ length: 400 }, (_, i) => writeUnder(dir, `lib/d${i % 4}/f${String(i).padStart(3, '0')}.bin`, crypto.randomBytes(50 + i)));
  const root = path.join(dir, 'disk');
  fs.mkdirSync(path.join(root, '.blaine', 'tmp'), { recursive: true });
  const { host, disk } = memoryCatalogs(t);
  // The batch's clock: ten seconds make a batch due (batch.ts BATCH_MS).
  t.mock.timers.enable({ apis: ['Date'], now: 1_700_000_000_000 });
  const unrecordedAtCommit: string[][] = [];
  let commits = 0;
  const commit = disk.commitTransaction.bind(disk);
  disk.commitTransaction = () => {
    // What the commit makes final: every name on the disk must be among its rows (a commit ends the journal that names the rest).
    const rows = new Set(disk.entriesOfVolume(VOLUME).map((e) => e.path));
    unrecordedAtCommit.push(files.filter((f) => fs.existsSync(path.join(root, f.slice(1))) && !rows.has(f)));
    commits++;
    commit();
  };
  const ex = executorOn(root, host, disk, {
    progress: (done) => {
      if (done % 50 === 1) t.mock.timers.tick(11_000);
    },
  });
  const result = await ex.run(files.map((f) => ({ type: 'copy', record: recordOf(f), why: 'added' })));
  assert.equal(result.counts.added, files.length);
  assert.ok(commits > 2, `${commits} commits: the batch never fell due mid-run`);
  assert.deepEqual(unrecordedAtCommit.filter((u) => u.length > 0), []);
  assert.deepEqual(disk.entriesOfVolume(VOLUME).length, files.length);
});
