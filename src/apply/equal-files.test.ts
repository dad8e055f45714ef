/**
 * Many equal files. Storing N equal small files reads a bounded number of catalog rows per file
 * (reading every earlier name of the content would be N²/2 rows, an hour for 65,000 files),
 * counted here, never timed. A stored file that has all the names the file system allows (EMLINK;
 * ext4: 65,000) does not make its equal files skipped in every run: they get a link group of their own.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { assertDiskMatchesCatalog, blaine, isRoot, scratchDir, sha256, tempDir, unmount, writeUnder, collectWarnings } from '../../test/helpers.js';
import { Catalog } from '../catalog/catalog.js';
import { faultyFs, parseFaults } from '../fsx/fault.js';
import { realFs } from '../fsx/fsx.js';
import type { Operation } from '../plan/operation.js';
import type { FileRecord } from '../scan/record.js';
import { Executor } from './executor.js';

const VOLUME = 'v-1';

function recordOf(file: string): FileRecord {
  const st = fs.lstatSync(file, { bigint: true });
  return {
    path: file, kind: 'file', size: Number(st.size), mtimeSec: Number(st.mtimeNs / 1_000_000_000n), mtimeNsec: Number(st.mtimeNs % 1_000_000_000n),
    inode: String(st.ino), nlink: Number(st.nlink), mode: Number(st.mode), uid: Number(st.uid), gid: Number(st.gid),
  };
}

/**
 * The catalog with every row it hands out counted: arrays by their length, iterators by the rows
 * taken from them, single rows one each. What the executor reads, whatever method it reads it by.
 */
function counted(c: Catalog, tally: { rows: number }): Catalog {
  return new Proxy(c, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        const out = (v as (...a: unknown[]) => unknown).apply(target, args);
        if (Array.isArray(out)) tally.rows += out.length;
        else if (out !== null && typeof out === 'object' && typeof (out as Iterator<unknown>).next === 'function' && Symbol.iterator in out) {
          const it = out as IterableIterator<unknown>;
          return (function* () {
            for (const x of it) {
              tally.rows++;
              yield x;
            }
          })();
        } else if (out !== undefined && out !== null && typeof out === 'object') tally.rows++;
        return out;
      };
    },
  });
}

/** Files of equal content in a library folder, an empty disk folder and in-memory catalogs closed after the test. */
function equalFiles(t: test.TestContext, names: string[], content: string) {
  const dir = scratchDir(t);
  const lib = path.join(dir, 'lib');
  for (const n of names) writeUnder(lib, n, content);
  const root = path.join(dir, 'disk');
  fs.mkdirSync(path.join(root, '.blaine', 'tmp'), { recursive: true });
  const host = Catalog.memory();
  const disk = Catalog.memory();
  t.after(() => {
    host.close();
    disk.close();
  });
  return { lib, root, host, disk };
}

/** N equal new files, each copied with dedupe as a backup plans them; the rows the run read. */
async function storeEqualFiles(t: test.TestContext, n: number): Promise<{ rows: number; root: string; lib: string; disk: Catalog }> {
  const names = Array.from({ length: n }, (_, i) => `f${String(i).padStart(5, '0')}`);
  const { lib, root, host, disk } = equalFiles(t, names, 'placeholder\n');
  const tally = { rows: 0 };
  const ops: Operation[] = fs.readdirSync(lib).sort().map((f) => ({ type: 'copy', record: recordOf(path.join(lib, f)), why: 'added', dedupe: true }));
  const warnings: string[] = [];
  const ex = new Executor({ fs: realFs,
    root, volume: VOLUME, host: counted(host, tally), disk: counted(disk, tally), parity: null, parityPct: 0, reserve: 0,
    signal: new AbortController().signal, tell: collectWarnings(warnings),
  });
  const result = await ex.run(ops);
  assert.deepEqual(warnings, []);
  assert.equal(result.counts.added + result.counts.linked, n);
  return { rows: tally.rows, root, lib, disk };
}

test('equal small files: the catalog rows read grow linearly with their number', async (t) => {
  const small = await storeEqualFiles(t, 100);
  const large = await storeEqualFiles(t, 400);
  // one stored file, every other name a link to it
  const inodes = new Set(fs.readdirSync(path.join(large.root, large.lib)).map((f) => fs.statSync(path.join(large.root, large.lib, f)).ino));
  assert.equal(inodes.size, 1);
  assert.equal(large.disk.entriesOfVolume(VOLUME).length, 400);
  // linear, not quadratic: a quadratic read would make 4× the files cost 16× the rows (5,050 and 80,200)
  assert.ok(large.rows <= 4.5 * small.rows, `rows read: ${small.rows} for 100 files, ${large.rows} for 400`);
  assert.ok(large.rows <= 10 * 400, `${large.rows} rows read for 400 files`);
});

test('a link refused with EMLINK starts a new link group; planned links fall back to a copy of their own', async (t) => {
  const names = ['a', 'b', 'c', 'd', 'e'];
  const { lib, root, host, disk } = equalFiles(t, names, 'equal bytes\n');
  const run = async (ops: Operation[], faults: string) => {
    const warnings: string[] = [];
    const ex = new Executor({
      root, volume: VOLUME, host, disk, parity: null, parityPct: 0, reserve: 0, skipFailures: true,
      signal: new AbortController().signal, tell: collectWarnings(warnings), fs: faultyFs(realFs, parseFaults(faults)),
    });
    const result = await ex.run(ops);
    return { result, warnings };
  };
  // a is copied, b linked to it; the third link (c) is refused: c keeps its copy, d and e link to c
  const first = await run(names.map((n) => ({ type: 'copy', record: recordOf(path.join(lib, n)), why: 'added', dedupe: true })), 'link:2:EMLINK');
  assert.deepEqual(first.warnings, []);
  assert.deepEqual(first.result.skipped, []);
  const ino = (n: string) => fs.statSync(path.join(root, lib, n)).ino;
  assert.equal(ino('a'), ino('b'));
  assert.notEqual(ino('c'), ino('a'));
  assert.equal(ino('d'), ino('c'));
  assert.equal(ino('e'), ino('c'));
  // a link the planner asked for (content already stored) that is refused: a copy of its own
  writeUnder(lib, 'f', 'equal bytes\n');
  const stored = disk.get(VOLUME, path.join(lib, 'a'))!;
  const second = await run([{ type: 'link', record: recordOf(path.join(lib, 'f')), from: stored, why: 'linked' }], 'link:1:EMLINK');
  assert.deepEqual(second.result.skipped, [], 'not skipped: the disk gets every name');
  assert.deepEqual(second.warnings, []);
  assert.equal(fs.readFileSync(path.join(root, lib, 'f'), 'utf8'), 'equal bytes\n');
  assert.equal(disk.get(VOLUME, path.join(lib, 'f'))?.sha256, sha256('equal bytes\n'));
  assert.equal(disk.entriesOfVolume(VOLUME).length, 6);
});

test('on real ext4, equal files beyond a stored file\'s 65,000 names are stored, in every run; verify and restore stay exact', { skip: isRoot ? false : 'needs root to loop-mount an ext4 image' }, (t) => {
  const dir = tempDir('blaine-emlink-');
  const img = path.join(dir, 'disk.img');
  const disk = path.join(dir, 'disk');
  const lib = path.join(dir, 'lib');
  const db = path.join(dir, 'host', 'catalog.sqlite');
  fs.mkdirSync(disk);
  execFileSync('truncate', ['-s', '64M', img]);
  execFileSync('mkfs.ext4', ['-q', img]);
  execFileSync('mount', ['-o', 'loop', img, disk]);
  t.after(() => {
    unmount(disk);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  for (const n of ['a', 'b']) writeUnder(lib, `first/${n}`, 'placeholder\n');
  const backup = () => blaine(['backup', '--dest', disk, '--db', db, '--no-parity', '--reserve', '0', lib]);
  assert.equal(blaine(['backup', '--init', '--label', 'E', '--dest', disk, '--db', db, '--no-parity', '--reserve', '0', lib]).status, 0);
  // The stored file gets the rest of ext4's 65,000 names (outside the archive, removed below)
  const stored = path.join(disk, lib, 'first', 'a');
  const filler = path.join(disk, 'filler');
  fs.mkdirSync(filler);
  const have = fs.statSync(stored).nlink;
  for (let i = have; i < 65_000; i++) fs.linkSync(stored, path.join(filler, String(i)));
  assert.throws(() => fs.linkSync(stored, path.join(filler, 'one-more')), /EMLINK/);
  for (const n of ['x', 'y', 'z']) writeUnder(lib, `later/${n}`, 'placeholder\n');
  for (const round of [1, 2]) {
    const r = backup();
    assert.equal(r.status, 0, `round ${round}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /EMLINK|skipped/);
  }
  const onDisk = (rel: string) => fs.statSync(path.join(disk, lib, rel));
  assert.notEqual(onDisk('later/x').ino, onDisk('first/a').ino);
  assert.equal(onDisk('later/y').ino, onDisk('later/x').ino, 'the later files are one new link group');
  fs.rmSync(filler, { recursive: true });
  assertDiskMatchesCatalog(disk, db);
  const verify = blaine(['verify', '--dest', disk, '--db', db, '--checksum']);
  assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  const to = path.join(dir, 'restored');
  const restore = blaine(['restore', '--dest', disk, '--db', db, '--to', to, '*']);
  assert.equal(restore.status, 0, restore.stderr);
  for (const rel of ['first/a', 'first/b', 'later/x', 'later/y', 'later/z']) {
    assert.equal(fs.readFileSync(path.join(to, lib, rel), 'utf8'), 'placeholder\n', rel);
    assert.equal(fs.statSync(path.join(to, lib, rel)).mtimeMs, fs.statSync(path.join(lib, rel)).mtimeMs, `${rel}: mtime`);
  }
});
