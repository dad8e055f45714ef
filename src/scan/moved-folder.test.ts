/**
 * A folder renamed while the data path is scanned is never taken as deleted
 * (SPEC §5). A rename inside a directory that is being read can hide the entry under both names;
 * a directory that changed after the listing its part was cut from may hold names no part has.
 * Either way the directory is listed again, or its part counts as not scanned. Hooks in the
 * scanner's file-system layer (and planParts run by hand) make each case happen every time (the
 * failure looked for: the folder's files simply absent from a complete scan).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { planParts } from './background.js';
import { scanRoot, scanRootPacked, unpack, type ScanFs } from './scanner.js';
import { nativeAddon } from '../fsx/addon.js';
import { scratchDir, writeUnder } from '../../test/helpers.js';

/** A library whose folder `batch` (three files) sorts between other entries. */
function library(root: string): void {
  writeUnder(root, 'a.txt', 'a');
  for (const n of ['1', '2', '3']) writeUnder(root, `batch/${n}.jpg`, n);
  writeUnder(root, 'z/inner.txt', 'z');
}

const names = (root: string, paths: string[]) => paths.map((p) => path.relative(root, p)).sort();

test('a folder renamed while its parent is read, missed under both names, is found under its new name', (t) => {
  const root = scratchDir(t, 'blaine-moved-');
  library(root);
  let hooked = false;
  const hook: ScanFs = {
    statSync: (p) => fs.statSync(p),
    readdirSync: (p, o) => {
      const list = fs.readdirSync(p, o);
      if (p !== root || hooked) return list;
      // readdir passed `batch` before the rename and the new name's slot after it: neither is seen
      hooked = true;
      fs.renameSync(path.join(root, 'batch'), path.join(root, 'batch-2024'));
      return list.filter((d) => d.name !== 'batch');
    },
    lstatSync: (p, o) => fs.lstatSync(p, o),
    readlinkSync: (p, o) => fs.readlinkSync(p, o),
  };
  const scan = scanRoot(root, { fs: hook });
  assert.ok(hooked);
  assert.equal(scan.complete, true);
  assert.deepEqual(names(root, scan.records.map((r) => r.path)), ['a.txt', 'batch-2024/1.jpg', 'batch-2024/2.jpg', 'batch-2024/3.jpg', 'z/inner.txt']);
});

test('a folder renamed between its parent\'s listing and its own opening: the scan is incomplete, nothing below it is gone', (t) => {
  const root = scratchDir(t, 'blaine-moved-');
  library(root);
  const hook: ScanFs = {
    statSync: (p) => fs.statSync(p),
    readdirSync: (p, o) => {
      if (p === path.join(root, 'batch')) fs.renameSync(p, path.join(root, 'batch-2024'));
      return fs.readdirSync(p, o);
    },
    lstatSync: (p, o) => fs.lstatSync(p, o),
    readlinkSync: (p, o) => fs.readlinkSync(p, o),
  };
  const scan = scanRoot(root, { fs: hook });
  assert.equal(scan.complete, false, 'batch could not be read: its files are kept, not removed');
  assert.ok(scan.skipped.some((s) => s.path === path.join(root, 'batch')));
});

test('a folder renamed after the scan was cut into parts: the part that lists it counts as not scanned', { skip: nativeAddon() ? false : 'the native walk is not built' }, (t) => {
  for (const native of [true, false]) {
    const root = scratchDir(t, 'blaine-moved-');
    for (let i = 0; i < 6; i++) writeUnder(root, `d${i}/f.txt`, String(i));
    library(root);
    const parts = planParts(root, undefined, 4);
    assert.ok(parts.length > 1, 'the root is cut into parts');
    // an import tool renames its batch folder now, before any thread lists it again
    fs.renameSync(path.join(root, 'batch'), path.join(root, 'zz-batch'));
    const scans = parts.map((part) => unpack(scanRootPacked(root, { part, native })));
    const seen = names(root, scans.flatMap((s) => s.records.map((r) => r.path)));
    const complete = scans.every((s) => s.complete);
    if (complete) assert.ok(seen.includes('zz-batch/1.jpg'), `${native ? 'C' : 'JS'} walk: a complete scan must have found the folder: ${seen.join(' ')}`);
    else assert.ok(scans.some((s) => s.skipped.some((k) => /kept changing/.test(k.message))), 'and it says why');
    assert.equal(complete, false, `${native ? 'C' : 'JS'} walk: the parts' names are stale`);
  }
});
