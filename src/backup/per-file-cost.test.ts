/**
 * A first backup of N small files must cost in proportion to N (issue 21: 25,000 files took 24 s
 * where rsync took 2.5 s, 50,000 more than four times that). No clock here: a statement that runs
 * once per file (or per folder) and reads its rows along a whole table or a whole volume makes
 * the run quadratic, so every statement whose run count grows with the library must find its rows
 * through an index, and the statements run per file must stay a constant number.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { scratchDir, writeUnder } from '../../test/helpers.js';
import { Catalog } from '../catalog/catalog.js';
import { queryPlan, rawConnection, tallyStatements } from '../catalog/testing.js';
import { realFs, type Fsx } from '../fsx/fsx.js';
import { nativeAddon } from '../fsx/addon.js';
import { Progress } from '../progress/progress.js';
import { runBackup } from './run.js';

const PER_FOLDER = 10;

/**
 * `files` files of one size (so that every copy looks for a stored twin of its content, as a real
 * library's many equal sizes make it) and different bytes, PER_FOLDER to a folder.
 */
function library(root: string, files: number): void {
  for (let i = 0; i < files; i++) {
    writeUnder(root, `d${String(Math.floor(i / PER_FOLDER)).padStart(4, '0')}/f${String(i).padStart(5, '0')}.txt`, `file ${String(i).padStart(8, '0')}\n`);
  }
}

/** A first backup of `files` files with parity; every statement it ran, counted, and the host catalog. */
async function firstBackup(
  t: { after: (fn: () => void) => void },
  files: number,
  layer: (disk: string) => Fsx = () => realFs,
): Promise<{ counts: Map<string, number>; host: string }> {
  const dir = scratchDir(t, 'blaine-per-file-');
  const lib = path.join(dir, 'lib');
  const disk = path.join(dir, 'disk');
  const host = path.join(dir, 'host.sqlite');
  library(lib, files);
  fs.mkdirSync(disk);
  const tally = tallyStatements();
  try {
    const outcome = await runBackup(
      {
        disk: { dest: disk, db: host, init: true, label: 'COST', encrypt: false, key: undefined },
        scan: { roots: [lib], filter: undefined, threads: 1 },
        plan: { matchMode: 'inode', clean: false, maxDeletePct: 10, force: false },
        parity: { pct: 10, slices: 256, memory: undefined, jobs: 1, command: undefined },
        reserve: 0,
        dryRun: false,
        started: Date.now(),
        signal: new AbortController().signal,
        fs: layer(disk),
      },
      { event: () => {}, progress: new Progress() },
    );
    assert.equal(outcome.stopped, null);
    assert.equal(outcome.summary?.added, files, JSON.stringify(outcome.summary));
  } finally {
    tally.stop();
  }
  return { counts: tally.counts(), host };
}

/** Steps of a plan that read every row of a table that grows with the library, or every row of one volume. */
function wholeReads(plan: string[]): string[] {
  const small = /^SCAN (volumes|volume_ids|v|copies|meta|runs|forgotten_volumes|\(subquery-\d+\)|CONSTANT ROW)\b/;
  return plan.filter((step) => (/^SCAN /.test(step) && !small.test(step)) || /USING PRIMARY KEY \(vid=\?\)$/.test(step));
}

test('a first backup runs a constant number of statements per file, each finding its rows by an index', async (t) => {
  const N = 120;
  const small = await firstBackup(t, N);
  const large = await firstBackup(t, 2 * N);

  const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  // Linear: twice the files, at most twice the statements (plus what a run costs once).
  const fixed = 2 * total(small.counts) - total(large.counts);
  assert.ok(fixed >= 0, `statements: ${total(small.counts)} for ${N} files, ${total(large.counts)} for ${2 * N}: more than twice`);

  // The statements that run more often with more files: per file or per folder.
  const growing = [...large.counts].filter(([sql, n]) => n > (small.counts.get(sql) ?? 0)).map(([sql]) => sql);
  assert.ok(growing.length > 0);
  const cat = Catalog.open(large.host);
  try {
    const raw = rawConnection(cat);
    const scans = growing.flatMap((sql) => wholeReads(queryPlan(raw, sql)).map((step) => `${step}  <=  ${sql.replace(/\s+/g, ' ').replace(/^SELECT .*? FROM /, 'SELECT … FROM ')}`));
    assert.deepEqual(scans, [], 'statements run per file or per folder that read a whole table or volume');
  } finally {
    cat.close();
  }
});

/** The real layer, counting the calls that ask about a file's path below `under` (lstat, stat, exists), by method. */
function askingCounter(under: string): { fs: Fsx; asked: Map<string, number> } {
  const asked = new Map<string, number>();
  // The library's files (not its folders, which the folder writer looks at once each).
  const isFile = (p: unknown) => typeof p === 'string' && p.startsWith(under + '/') && p.endsWith('.txt');
  const counted = (name: 'lstatSync' | 'statSync' | 'existsSync') =>
    ((...args: unknown[]) => {
      if (isFile(args[0])) asked.set(name, (asked.get(name) ?? 0) + 1);
      return (realFs[name] as (...a: unknown[]) => unknown)(...args);
    }) as never;
  const fs: Fsx = { ...realFs, lstatSync: counted('lstatSync'), statSync: counted('statSync'), existsSync: counted('existsSync') };
  return { fs, asked };
}

test('a first backup does not look at the disk path of each file it writes before writing it', async (t) => {
  // An lstat of every new path (is an empty former folder there?) cost a first backup of 200,000
  // small files as much time on the executor's thread as its renames: the folder is looked for
  // only when the rename finds one (EISDIR).
  const N = 120;
  let counter: ReturnType<typeof askingCounter> | undefined;
  await firstBackup(t, N, (disk) => (counter = askingCounter(disk)).fs);
  const asked = [...counter!.asked.values()].reduce((a, b) => a + b, 0);
  assert.ok(asked < N / 4, `the disk was asked about paths ${asked} times for ${N} new files: ${JSON.stringify([...counter!.asked])}`);
});

test("a first backup's executor thread renames hardly any new file: the copying thread puts each copy at its name", { skip: nativeAddon() === null && 'the addon is not built' }, async (t) => {
  // The rename of every small copy from .blaine/tmp to its name was a fifth of the executor
  // thread's time at 200,000 files; the copying thread does it now, for steps already journalled.
  const N = 300;
  let renames = 0;
  const layer = (disk: string): Fsx => ({
    ...realFs,
    renameSync: ((from: string, to: string) => {
      if (typeof to === 'string' && to.startsWith(disk + '/') && to.endsWith('.txt')) renames++;
      return realFs.renameSync(from, to);
    }) as never,
  });
  await firstBackup(t, N, layer);
  assert.ok(renames < N / 10, `the executor renamed ${renames} of ${N} new files into place`);
});

test('a backup lists each folder of the library once: the folder rows come from the file scan', { skip: nativeAddon() === null && 'the addon is not built' }, async (t) => {
  // A second walk of the library's folders (dirs/scan.ts scanDirs: a listing and an lstat of each)
  // cost a tenth of a no-change run. It is the fallback only where the scan did not record them.
  const addon = nativeAddon()!;
  const subdirs = addon.subdirs;
  let listed = 0;
  addon.subdirs = (dir: string) => {
    listed++;
    return subdirs.call(addon, dir);
  };
  try {
    await firstBackup(t, 60);
  } finally {
    addon.subdirs = subdirs;
  }
  assert.equal(listed, 0, 'folders listed a second time');
});

test('a first backup looks for a stored twin in the catalog only for content the volume may already hold', async (t) => {
  // Every copy asked the catalog for a stored file of its content (and for migrated SHA-1 rows of
  // its size): two queries a file on the executor's thread that find nothing on a new volume,
  // whose contents are all this run's own (apply/content-filter.ts).
  const N = 120;
  const { counts } = await firstBackup(t, N);
  const twinQueries = [...counts].filter(([sql]) => /\(e\.mode & 4095\) = \?/.test(sql)).reduce((n, [, c]) => n + c, 0);
  assert.ok(twinQueries < N / 10, `${twinQueries} stored-twin queries for ${N} files of new content`);
});

test("a backup's folders cost two looks at the disk each and their rows one read per catalog", async (t) => {
  // The folder writer's finish looked at each folder twice more and asked each catalog for each
  // folder's row: at a million files (10,000 folders) 40,000 lookups in a no-change run.
  const N = 800;
  const folders = N / PER_FOLDER;
  let looks = 0;
  const layer = (disk: string): Fsx => ({
    ...realFs,
    lstatSync: ((p: string, o?: unknown) => {
      if (typeof p === 'string' && p.startsWith(disk + '/') && /\/d\d{4}$/.test(p)) looks++;
      return (realFs.lstatSync as (p: string, o?: unknown) => unknown)(p, o);
    }) as never,
  });
  const { counts } = await firstBackup(t, N, layer);
  assert.ok(looks <= 2 * folders, `${looks} lstat calls for ${folders} folders`);
  const folderLookups = [...counts].filter(([sql]) => /e\.path = .* AND kind = 2/.test(sql)).reduce((n, [, c]) => n + c, 0);
  assert.ok(folderLookups < folders, `${folderLookups} lookups of one folder's rows for ${folders} folders`);
});
