import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { listTree, tempDir } from '../../test/parity-fixtures.js';
import { linkParity, moveParity, parityDir, parityFiles, parityStemRel, plainParityFs, removeParity, matchParityToRow } from './paths.js';

/** Writes fake parity files (content = name) below the parity tree. */
function put(disk: string, ...names: string[]): void {
  for (const n of names) {
    const p = path.join(parityDir(disk), n);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, n);
  }
}

test('parityDir is .blaine/parity below the disk root', () => {
  assert.equal(parityDir('/media/disk1'), '/media/disk1/.blaine/parity');
});

test('parityFiles finds exactly one set: index first, no neighbours with a shared prefix', () => {
  const disk = tempDir();
  put(disk, 'm/a.par2', 'm/a.vol+.par2', 'm/ab.par2', 'm/ab.vol+.par2', 'm/a.par2.par2', 'm/a.par2.vol+.par2', 'm/a.b.par2', 'm/a.vol00+26.par2', 'm/A.par2');
  const rel = (fs_: string[]): string[] => fs_.map((f) => path.relative(parityDir(disk), f));
  assert.deepEqual(rel(parityFiles(disk, 'm/a')), ['m/a.par2', 'm/a.vol+.par2']);
  assert.deepEqual(rel(parityFiles(disk, 'm/a.par2')), ['m/a.par2.par2', 'm/a.par2.vol+.par2']);
  assert.deepEqual(rel(parityFiles(disk, 'm/ab')), ['m/ab.par2', 'm/ab.vol+.par2']);
  assert.deepEqual(rel(parityFiles(disk, 'm/a.b')), ['m/a.b.par2']);
  assert.deepEqual(parityFiles(disk, 'm/none'), []);
  assert.deepEqual(parityFiles(disk, 'nodir/x'), []);
  // Only files: a data directory named d.par2 has a parity directory of that name.
  fs.mkdirSync(path.join(parityDir(disk), 'm/d.par2'));
  assert.deepEqual(parityFiles(disk, 'm/d'), []);
});

test('paths that would leave the parity tree are refused', () => {
  const disk = tempDir();
  for (const bad of ['', '/etc/passwd', '../x', 'a/../../x', '.', 'a/']) {
    assert.throws(() => parityFiles(disk, bad), TypeError, JSON.stringify(bad));
  }
});

test('moveParity moves the set, replaces an old set at the target and prunes empty directories', () => {
  const disk = tempDir();
  put(disk, 'old/dir/f.par2', 'old/dir/f.vol+.par2', 'new/g.par2', 'new/g.vol+.par2');
  moveParity(disk, 'old/dir/f', 'new/g');
  assert.deepEqual(listTree(parityDir(disk)), ['new/', 'new/g.par2', 'new/g.vol+.par2']);
  assert.equal(fs.readFileSync(path.join(parityDir(disk), 'new/g.vol+.par2'), 'utf8'), 'old/dir/f.vol+.par2');
  assert.equal(fs.readFileSync(path.join(parityDir(disk), 'new/g.par2'), 'utf8'), 'old/dir/f.par2');
  assert.ok(fs.existsSync(parityDir(disk)), 'the parity tree itself stays');
  // Into a directory that does not exist yet, and a name that is a prefix of the old one.
  moveParity(disk, 'new/g', 'x/y/z/g2');
  moveParity(disk, 'x/y/z/g2', 'x/y/z/g');
  assert.deepEqual(listTree(parityDir(disk)), ['x/', 'x/y/', 'x/y/z/', 'x/y/z/g.par2', 'x/y/z/g.vol+.par2']);
  // No parity at the source: a stale set at the target still goes.
  put(disk, 'stale.par2', 'stale.vol+.par2');
  moveParity(disk, 'nothing/here', 'stale');
  assert.deepEqual(parityFiles(disk, 'stale'), []);
  moveParity(disk, 'x/y/z/g', 'x/y/z/g');
  assert.equal(parityFiles(disk, 'x/y/z/g').length, 2, 'moving onto itself changes nothing');
});

test('moveParity between names whose sets overlap (x.vol+ -> x) keeps the moving set', () => {
  const disk = tempDir();
  put(disk, 'd/x.vol+.par2', 'd/x.vol+.vol+.par2');
  moveParity(disk, 'd/x.vol+', 'd/x');
  assert.deepEqual(listTree(parityDir(disk)), ['d/', 'd/x.par2', 'd/x.vol+.par2']);
  assert.equal(fs.readFileSync(path.join(parityDir(disk), 'd/x.par2'), 'utf8'), 'd/x.vol+.par2');
  assert.equal(fs.readFileSync(path.join(parityDir(disk), 'd/x.vol+.par2'), 'utf8'), 'd/x.vol+.vol+.par2');
});

test('linkParity hardlinks the set; removeParity removes one name and prunes only what is empty', () => {
  const disk = tempDir();
  put(disk, 'a/b/f.jpg.par2', 'a/b/f.jpg.vol+.par2', 'a/keep.par2');
  linkParity(disk, 'a/b/f.jpg', 'c/f.jpg');
  const linked = parityFiles(disk, 'c/f.jpg');
  assert.equal(linked.length, 2);
  for (const f of linked) assert.equal(fs.statSync(f).nlink, 2);
  assert.equal(fs.statSync(linked[0]!).ino, fs.statSync(parityFiles(disk, 'a/b/f.jpg')[0]!).ino);
  removeParity(disk, 'a/b/f.jpg');
  assert.deepEqual(listTree(parityDir(disk)), ['a/', 'a/keep.par2', 'c/', 'c/f.jpg.par2', 'c/f.jpg.vol+.par2']);
  removeParity(disk, 'c/f.jpg');
  assert.deepEqual(listTree(parityDir(disk)), ['a/', 'a/keep.par2']);
  removeParity(disk, 'never/was');
  assert.deepEqual(listTree(parityDir(disk)), ['a/', 'a/keep.par2']);
});

test('a name too long to take a suffix gets a shortened stem that every parity step uses', () => {
  const disk = tempDir();
  const long = `m/${'é'.repeat(127)}z`; // 255 bytes
  const other = `m/${'é'.repeat(127)}y`;
  const stem = parityStemRel(long);
  assert.notEqual(stem, long);
  assert.equal(parityStemRel(long), stem, 'the same name always gives the same stem');
  assert.notEqual(parityStemRel(other), stem, 'names with one start get different stems');
  assert.ok(Buffer.byteLength(path.basename(stem)) + '.vol+.par2.linking'.length <= 255);
  assert.equal(parityStemRel('m/short'), 'm/short');
  put(disk, `${stem}.par2`, `${stem}.vol+.par2`);
  assert.deepEqual(parityFiles(disk, long), [`${stem}.par2`, `${stem}.vol+.par2`].map((n) => path.join(parityDir(disk), n)));
  linkParity(disk, long, other);
  assert.equal(parityFiles(disk, other).length, 2);
  moveParity(disk, other, 'm/now-short');
  assert.equal(parityFiles(disk, 'm/now-short').length, 2);
  assert.deepEqual(parityFiles(disk, other), []);
  assert.equal(matchParityToRow(disk, long, undefined), true, 'a set the row does not name goes');
  assert.deepEqual(parityFiles(disk, long), []);
});

test('removeParity of a file whose parity folder was never made tries no rmdir, and still prunes empty folders above', () => {
  const disk = tempDir();
  // A removed file that never had parity: nothing below .blaine/parity exists for it.
  const rmdirs: string[] = [];
  const lstats: string[] = [];
  const counting = {
    ...plainParityFs,
    rmdirSync: ((p: fs.PathLike) => (rmdirs.push(String(p)), fs.rmdirSync(p))) as typeof fs.rmdirSync,
    lstatSync: ((p: fs.PathLike, o?: fs.StatOptions) => (lstats.push(String(p)), fs.lstatSync(p, o))) as typeof fs.lstatSync,
  };
  removeParity(disk, 'lib/photos/2024/june/a.jpg', counting);
  assert.deepEqual(rmdirs, []);
  // Its own folder, then the first one down from the parity tree's root: not a look per level.
  assert.ok(lstats.length <= 2, lstats.join(' '));
  // An empty folder left above the missing one (a set removed earlier) still goes; a folder with another set stays.
  put(disk, 'keep/x.par2');
  fs.mkdirSync(path.join(parityDir(disk), 'keep/old/empty'), { recursive: true });
  removeParity(disk, 'keep/old/empty/gone/b.jpg', counting);
  assert.deepEqual(listTree(parityDir(disk)), ['keep/', 'keep/x.par2']);
});
