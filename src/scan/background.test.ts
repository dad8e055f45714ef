import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { planParts, scanInBackground } from './background.js';
import { ExclusionFilter } from './exclude.js';
import type { ScanChunk } from './record.js';
import { pathRange } from '../catalog/range.js';
import { scanRoot, unpack } from './scanner.js';
import { comparePaths } from '../fsx/paths.js';
import { scratchDir, writeUnder } from '../../test/helpers.js';
import { dirScanFromFiles, scanDirs } from '../dirs/scan.js';
import { nativeAddon } from '../fsx/addon.js';



/** Few top-level directories (so the split opens them up), files between them, links, a FIFO, exclusions. */
function tree(root: string): void {
  writeUnder(root, '0-first.txt', 'a');
  for (let i = 0; i < 40; i++) writeUnder(root, `media/${i % 3 ? 'photos' : 'music'}/set${i % 5}/f${i}.bin`, String(i));
  writeUnder(root, 'media/readme', 'between subtrees');
  writeUnder(root, 'media/photos/cache/skip', 'excluded');
  writeUnder(root, 'media/photos/a b/x', 'space');
  writeUnder(root, 'media/photos-2/y', 'sorts after photos/');
  writeUnder(root, 'z-last.txt', 'z');
  fs.symlinkSync('z-last.txt', path.join(root, 'link'));
  fs.linkSync(path.join(root, 'z-last.txt'), path.join(root, 'media', 'hard'));
  execFileSync('mkfifo', [path.join(root, 'media', 'fifo')]);
}

const filter = new ExclusionFilter([{ kind: 'exclude', pattern: 'cache/' }]);

test('parts tile the root range, each a run of one directory', (t) => {
  const root = scratchDir(t, 'blaine-bg-');
  tree(root);
  const parts = planParts(root, filter, 8);
  assert.ok(parts.length > 1, 'the tree is split');
  const [lo, hi] = pathRange(root);
  assert.equal(parts[0]!.lo, lo);
  assert.equal(parts.at(-1)!.hi, hi);
  for (let i = 1; i < parts.length; i++) {
    assert.equal(parts[i]!.lo, parts[i - 1]!.hi);
    assert.ok(comparePaths(parts[i - 1]!.lo, parts[i]!.lo) < 0);
  }
  for (const p of parts) for (const n of p.names ?? []) assert.ok(fs.lstatSync(path.join(p.dir, n)), `${n} is an entry of ${p.dir}`);
  assert.ok(!parts.some((p) => p.names?.includes('cache')), 'an excluded directory is no part');
});

test('a scan in several threads finds exactly what one walk finds', async (t) => {
  const root = scratchDir(t, 'blaine-bg-');
  tree(root);
  const one = scanRoot(root, { filter });
  for (const threads of [1, 2, 3]) {
    const [s] = await scanInBackground([root], filter, undefined, { threads }).result;
    assert.deepEqual(unpack(s!), one, `${threads} thread(s)`);
  }
  assert.deepEqual(one.skipped, [{ path: path.join(root, 'media', 'fifo'), reason: 'special', message: 'is a FIFO' }]);
});

test('chunks handed to a consumer are not kept; missing and unreadable data paths are told apart', async (t) => {
  const root = scratchDir(t, 'blaine-bg-');
  tree(root);
  const got: ScanChunk[] = [];
  const bg = scanInBackground([root, path.join(root, 'nope')], undefined, undefined, { threads: 2 });
  bg.onChunk((r, c) => {
    assert.equal(r, root);
    got.push(c);
  });
  const [s, missing] = await bg.result;
  assert.deepEqual(s!.chunks, []);
  assert.equal(got.reduce((n, c) => n + c.count, 0), scanRoot(root).records.length);
  assert.deepEqual([missing!.exists, missing!.complete, missing!.chunks], [false, false, []]);
});

test('names that are not UTF-8 near the top (a file and a folder) are scanned in parts by their bytes, as one thread scans them', async (t) => {
  const root = scratchDir(t, 'blaine-bg-');
  tree(root);
  fs.writeFileSync(Buffer.concat([Buffer.from(root + '/media/bad-'), Buffer.from([0xff]), Buffer.from('.txt')]), 'x');
  fs.mkdirSync(Buffer.concat([Buffer.from(root + '/dir-'), Buffer.from([0xe9])]));
  fs.writeFileSync(Buffer.concat([Buffer.from(root + '/dir-'), Buffer.from([0xe9]), Buffer.from('/inside')]), 'y');
  const [s] = await scanInBackground([root], undefined, undefined, { threads: 2 }).result;
  assert.deepEqual(unpack(s!), scanRoot(root));
  assert.ok(!s!.skipped.some((k) => k.reason === 'unreadable'), JSON.stringify(s!.skipped));
  const paths = unpack(s!).records.map((r) => r.path);
  assert.ok(paths.includes(`${root}/media/bad-\udcff.txt`) && paths.includes(`${root}/dir-\udce9/inside`), paths.join('\n'));
});

test("the scan's own walk records the library's folders as the folder walk finds them, in one thread or several", { skip: nativeAddon() === null && 'the addon is not built' }, async (t) => {
  // Folders come from the file scan's walk (native/scan.c onDirs): each folder is listed once a run.
  const root = scratchDir(t, 'blaine-bg-');
  tree(root);
  fs.mkdirSync(path.join(root, 'media', 'empty'));
  fs.mkdirSync(Buffer.concat([Buffer.from(root + '/media/dir-'), Buffer.from([0xe9])]));
  fs.symlinkSync(path.join(root, 'media'), path.join(root, 'media-link'));
  fs.chmodSync(path.join(root, 'media', 'music'), 0o750);
  const walked = scanDirs(root, filter);
  assert.ok(walked.dirs.some((d) => d.path.endsWith('/media/dir-\udce9')) && !walked.dirs.some((d) => d.path.includes('cache')));
  for (const threads of [1, 2, 3]) {
    const [s] = await scanInBackground([root], filter, undefined, { threads }).result;
    if (threads > 1) assert.ok((s!.openedFolders ?? []).length > 0, 'the split opened folders up');
    assert.deepEqual(dirScanFromFiles(s!), walked, `${threads} thread(s)`);
  }
  const [missing] = await scanInBackground([path.join(root, 'nope')], undefined).result;
  assert.deepEqual(dirScanFromFiles(missing!), { root: path.join(root, 'nope'), dirs: [], complete: false });
});
