import test from 'node:test';
import { nameToBytes } from '../fsx/name-bytes.js';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stamp } from '../catalog/stamp.js';
import { ExclusionFilter } from './exclude.js';
import { nativeAddon } from '../fsx/addon.js';
import type { PackedScan } from './record.js';
import { chunkPaths, scanRootPacked, unpack, type PackedScanOptions } from './scanner.js';
import { comparePaths } from '../fsx/paths.js';
import { scanDirs } from '../dirs/scan.js';
import { readableCheckout, scratchDir, writeUnder } from '../../test/helpers.js';

const built = nativeAddon() !== null;
const skipNative = !built && 'the native scanner is not built (npm run build)';



/** Both scanners over the same tree: they must agree on everything, chunk by chunk. */
function both(root: string, opts: PackedScanOptions = {}): { native: PackedScan; node: PackedScan } {
  return { native: scanRootPacked(root, opts), node: scanRootPacked(root, { ...opts, native: false }) };
}

/** A tree with every kind of entry the scanner meets, and names that test its byte order. */
function awkwardTree(root: string): void {
  writeUnder(root, 'a.txt', 'hello');
  writeUnder(root, 'empty');
  writeUnder(root, 'a b/x', 'spaces');
  writeUnder(root, 'a-b', 'dash');
  writeUnder(root, 'a/x', 'slash order');
  writeUnder(root, 'a0', 'zero');
  writeUnder(root, "it's \"quoted\"\nnewline", 'q');
  writeUnder(root, 'x.par2', 'not parity');
  writeUnder(root, 'é/ü/ñ.txt', 'accents');
  writeUnder(root, '\u{1F600}smile', 'astral');
  writeUnder(root, '\uE000private', 'private use: sorts before the astral name by bytes, after it by UTF-16');
  writeUnder(root, '\uFFFDreplacement', 'a real U+FFFD');
  writeUnder(root, 'deep/1/2/3/4/5/6/7/f', 'deep');
  fs.linkSync(path.join(root, 'a.txt'), path.join(root, 'deep', 'hardlink'));
  fs.symlinkSync('a.txt', path.join(root, 'rel-link'));
  fs.symlinkSync('/etc/hostname', path.join(root, 'abs-link'));
  fs.symlinkSync('nowhere', path.join(root, 'dangling'));
  fs.mkdirSync(path.join(root, 'empty-dir'));
  fs.symlinkSync('empty-dir', path.join(root, 'dir-link'));
  execFileSync('mkfifo', [path.join(root, 'fifo')]);
  // Node's utimes takes a negative time for "now": touch can set one before 1970.
  execFileSync('touch', ['-h', '-d', '1969-12-31 00:00:00.75 UTC', path.join(root, 'a0')]);
  const big = fs.openSync(path.join(root, 'sparse'), 'w');
  fs.ftruncateSync(big, 5 * 1024 ** 3);
  fs.closeSync(big);
}

test('the native scanner is built (npm ci builds it; CI must use it)', { skip: process.env.BLAINE_NO_NATIVE ? 'BLAINE_NO_NATIVE is set' : false }, () => {
  assert.ok(built, 'native/build/Release/blaine_native.node is missing or does not load');
});

test('native and node:fs scans agree on every record, stamp, skip and chunk', { skip: skipNative }, (t) => {
  const root = scratchDir(t, 'blaine-native-');
  awkwardTree(root);
  const { native, node } = both(root, { chunkSize: 4 });
  assert.deepEqual(native, node);
  const all = unpack(native);
  assert.deepEqual(
    all.records.map((r) => path.relative(root, r.path)).filter((p) => p.startsWith('a')),
    ['a b/x', 'a-b', 'a.txt', 'a/x', 'a0', 'abs-link'],
  );
  for (let i = 1; i < all.records.length; i++) assert.ok(comparePaths(all.records[i - 1]!.path, all.records[i]!.path) < 0);
  assert.deepEqual(all.skipped, [{ path: path.join(root, 'fifo'), reason: 'special', message: 'is a FIFO' }]);
  // each chunk's text holds exactly its records with the stamps stamp.ts makes of them
  let k = 0;
  for (const c of native.chunks) {
    const recs = all.records.slice(k, k + c.count);
    k += c.count;
    assert.equal(c.text, recs.map((r) => `${r.path}\0${stamp(r.kind, r.size, r.mtimeSec, r.mtimeNsec, r.inode, r.mode, r.uid, r.gid, r.linkTarget)}`).join('\0'));
    assert.deepEqual(chunkPaths(c), recs.map((r) => r.path));
    for (const r of recs) assert.ok(comparePaths(r.path, c.lo) >= 0 && comparePaths(r.path, c.hi) < 0);
  }
  assert.equal(k, all.records.length);
  const sparse = all.records.find((r) => r.path.endsWith('sparse'))!;
  assert.equal(sparse.size, 5 * 1024 ** 3);
  const a0 = all.records.find((r) => r.path.endsWith('a0'))!;
  assert.deepEqual([a0.mtimeSec, a0.mtimeNsec], [-86400, 750_000_000]);
});

test('native and node:fs scans agree with a filter that prunes directories and drops files', { skip: skipNative }, (t) => {
  const root = scratchDir(t, 'blaine-native-');
  awkwardTree(root);
  writeUnder(root, 'cache/big/x', 'pruned');
  writeUnder(root, 'sub/cache/y', 'pruned');
  writeUnder(root, 'sub/keep.tmp', 'included');
  const filter = new ExclusionFilter([
    { kind: 'include', pattern: '/sub/keep.tmp' },
    { kind: 'exclude', pattern: '*.tmp' },
    { kind: 'exclude', pattern: 'cache/' },
    { kind: 'exclude', pattern: 'fifo' },
  ]);
  const asked: string[] = [];
  const spy = Object.assign(Object.create(filter) as ExclusionFilter, {
    excludesDir: (rel: string) => (asked.push(`dir ${rel}`), filter.excludesDir(rel)),
    excludesFile: (rel: string) => (asked.push(`file ${rel}`), filter.excludesFile(rel)),
    empty: false,
  });
  const { native, node } = both(root, { filter: spy });
  assert.deepEqual(native, node);
  const rels = unpack(native).records.map((r) => path.relative(root, r.path));
  assert.ok(rels.includes('sub/keep.tmp'));
  assert.ok(!rels.some((r) => r.includes('cache')));
  assert.ok(!asked.some((a) => a.includes('cache/')), 'nothing below an excluded directory is looked at');
  assert.deepEqual(native.skipped, []);
});

test('names that are not UTF-8 come out alike, by their bytes, in byte order, with symlink targets', { skip: skipNative }, (t) => {
  const root = scratchDir(t, 'blaine-native-');
  writeUnder(root, 'ok.txt', 'ok');
  const bad = Buffer.concat([Buffer.from(root + '/bad-'), Buffer.from([0xff, 0xfe]), Buffer.from('.txt')]);
  fs.writeFileSync(bad, 'latin-1 name');
  const badDir = Buffer.concat([Buffer.from(root + '/dir-'), Buffer.from([0xe9])]);
  fs.mkdirSync(badDir);
  fs.writeFileSync(Buffer.concat([badDir, Buffer.from('/inside')]), 'x');
  // é as UTF-8 (C3 A9) and a character in U+E000..U+FFFF (EF BC A1) sort around the foreign bytes E9 and FF
  writeUnder(root, 'dir-é', 'e');
  writeUnder(root, 'dir-\uFF21', 'a');
  fs.symlinkSync(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x6a, 0x70, 0x67]), Buffer.from(root + '/link'));
  const { native, node } = both(root);
  assert.deepEqual(native, node);
  assert.equal(native.complete, true);
  assert.deepEqual(native.skipped, []);
  const records = unpack(native).records;
  assert.deepEqual(
    records.map((r) => path.relative(root, r.path)),
    ['bad-\udcff\udcfe.txt', 'dir-é', 'dir-\udce9/inside', 'dir-\uFF21', 'link', 'ok.txt'],
  );
  assert.equal(records.find((r) => r.path.endsWith('/link'))?.linkTarget, 'caf\udce9.jpg');
  assert.deepEqual(nameToBytes(records[0]!.path), bad);
});

test("the folder walk's native listing and node:fs's find the same folders, names that are not UTF-8 included, no symlink followed", { skip: skipNative }, (t) => {
  const root = scratchDir(t, 'blaine-native-');
  writeUnder(root, 'a/file', 'x');
  writeUnder(root, 'a/b/c/deep', 'y');
  fs.mkdirSync(path.join(root, 'empty'));
  const badDir = Buffer.concat([Buffer.from(root + '/dir-'), Buffer.from([0xe9])]);
  fs.mkdirSync(badDir);
  fs.mkdirSync(Buffer.concat([badDir, Buffer.from('/sub')]));
  fs.symlinkSync(path.join(root, 'a'), path.join(root, 'link-to-a'));
  const walk = (native: boolean) => {
    const before = process.env.BLAINE_NO_NATIVE;
    if (native) delete process.env.BLAINE_NO_NATIVE;
    else process.env.BLAINE_NO_NATIVE = '1';
    try {
      return scanDirs(root);
    } finally {
      if (before === undefined) delete process.env.BLAINE_NO_NATIVE;
      else process.env.BLAINE_NO_NATIVE = before;
    }
  };
  const native = walk(true);
  assert.deepEqual(native, walk(false));
  assert.equal(native.complete, true);
  assert.deepEqual(
    native.dirs.map((d) => path.relative(root, d.path)),
    ['', 'a', 'a/b', 'a/b/c', 'dir-\udce9', 'dir-\udce9/sub', 'empty'],
  );
});

test('a tree bigger than a chunk comes in chunks that tile the root range', { skip: skipNative }, (t) => {
  const root = scratchDir(t, 'blaine-native-');
  for (let i = 0; i < 300; i++) writeUnder(root, `d${i % 7}/f${i}`, String(i));
  const chunks: PackedScan['chunks'] = [];
  const s = scanRootPacked(root, { chunkSize: 64, onChunk: (c) => chunks.push(c) });
  assert.equal(s.chunks.length, 0);
  assert.deepEqual(chunks.map((c) => c.count), [64, 64, 64, 64, 44]);
  assert.equal(chunks[0]!.lo, root + '/');
  assert.equal(chunks.at(-1)!.hi, root + '0');
  for (let i = 1; i < chunks.length; i++) assert.equal(chunks[i]!.lo, chunks[i - 1]!.hi);
  const { native, node } = both(root, { chunkSize: 64 });
  assert.deepEqual(native, node);
});

test('an empty or missing data path gives one empty chunk or none, alike', { skip: skipNative }, (t) => {
  const root = scratchDir(t, 'blaine-native-');
  const { native, node } = both(root);
  assert.deepEqual(native, node);
  assert.deepEqual(native.chunks.map((c) => [c.lo, c.hi, c.count, c.text]), [[root + '/', root + '0', 0, '']]);
  const missing = both(path.join(root, 'nope'));
  assert.deepEqual(missing.native, missing.node);
  assert.deepEqual(missing.native.chunks, []);
});

const runsAsRoot = process.getuid?.() === 0;
const hasSetpriv = spawnSync('setpriv', ['--version']).status === 0;

test('native: unreadable directories and files, scanned as an unprivileged user', { skip: skipNative || (!(runsAsRoot && hasSetpriv) && 'needs root and setpriv') }, (t) => {
  const root = scratchDir(t, 'blaine-native-');
  fs.chmodSync(root, 0o755);
  writeUnder(root, 'a.txt', 'a');
  writeUnder(root, 'locked/secret.txt', 's');
  writeUnder(root, 'open/inner/x', 'x');
  fs.chmodSync(path.join(root, 'locked'), 0o000);
  fs.chmodSync(path.join(root, 'open'), 0o311); // may enter, may not list
  const scanner = path.join(readableCheckout(), 'dist', 'src', 'scan', 'scanner.js');
  const script = `import { scanRootPacked, unpack } from ${JSON.stringify(scanner)};
    const native = process.argv[2] === 'native';
    process.stdout.write(JSON.stringify(unpack(scanRootPacked(process.argv[1], { native }))));`;
  const run = (mode: string) =>
    JSON.parse(
      execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', script, root, mode], {
        encoding: 'utf8',
      }),
    );
  const native = run('native');
  assert.deepEqual(native, run('node'));
  assert.equal(native.complete, false);
  assert.deepEqual(native.skipped, [
    { path: path.join(root, 'locked'), reason: 'unreadable', message: 'permission denied' },
    { path: path.join(root, 'open'), reason: 'unreadable', message: 'permission denied' },
  ]);
});
