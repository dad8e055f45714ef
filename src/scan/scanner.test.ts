import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExclusionFilter } from './exclude.js';
import { scanRoot, type ScanFs } from './scanner.js';
import { comparePaths } from '../fsx/paths.js';
import { nameToBytes } from '../fsx/name-bytes.js';
import type { FileRecord } from './record.js';
import { readableCheckout, scratchDir, writeUnder } from '../../test/helpers.js';



function byRel(root: string, records: FileRecord[]): Map<string, FileRecord> {
  return new Map(records.map((r) => [path.relative(root, r.path), r]));
}

function rels(root: string, records: FileRecord[]): string[] {
  return records.map((r) => path.relative(root, r.path));
}

function errno(code: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`${code}: simulated`);
  e.code = code;
  return e;
}

test('regular and empty files are recorded with their lstat fields', (t) => {
  const root = scratchDir(t, 'blaine-scan-');
  writeUnder(root, 'a.txt', 'hello');
  writeUnder(root, 'empty');
  const scan = scanRoot(root);
  assert.equal(scan.exists, true);
  assert.equal(scan.complete, true);
  assert.deepEqual(scan.skipped, []);
  const m = byRel(root, scan.records);
  const a = m.get('a.txt')!;
  const st = fs.lstatSync(path.join(root, 'a.txt'), { bigint: true });
  assert.deepEqual(a, {
    path: path.join(root, 'a.txt'),
    kind: 'file',
    size: 5,
    mtimeSec: Number(st.mtimeNs / 1_000_000_000n),
    mtimeNsec: Number(st.mtimeNs % 1_000_000_000n),
    inode: `${st.dev}:${st.ino}`,
    nlink: 1,
    mode: Number(st.mode),
    uid: Number(st.uid),
    gid: Number(st.gid),
  });
  assert.equal(m.get('empty')!.size, 0);
  assert.equal(m.get('empty')!.kind, 'file');
});

test('hardlinks appear once per path with the same inode', (t) => {
  const root = scratchDir(t, 'blaine-scan-');
  writeUnder(root, 'one', 'x');
  fs.mkdirSync(path.join(root, 'sub'));
  fs.linkSync(path.join(root, 'one'), path.join(root, 'sub', 'two'));
  const m = byRel(root, scanRoot(root).records);
  assert.equal(m.size, 2);
  assert.equal(m.get('one')!.inode, m.get('sub/two')!.inode);
  assert.equal(m.get('one')!.nlink, 2);
  assert.equal(m.get('sub/two')!.nlink, 2);
});

test('symlinks are recorded, never followed', (t) => {
  const root = scratchDir(t, 'blaine-scan-');
  writeUnder(root, 'target.txt', 'data');
  writeUnder(root, 'dir/inner.txt', 'x');
  fs.symlinkSync('target.txt', path.join(root, 'rel'));
  fs.symlinkSync(path.join(root, 'target.txt'), path.join(root, 'abs'));
  fs.symlinkSync('does/not/exist', path.join(root, 'dangling'));
  fs.symlinkSync('dir', path.join(root, 'dirlink'));
  fs.symlinkSync('café', path.join(root, 'utf8link'));
  const scan = scanRoot(root);
  const m = byRel(root, scan.records);
  for (const [name, target] of [
    ['rel', 'target.txt'],
    ['abs', path.join(root, 'target.txt')],
    ['dangling', 'does/not/exist'],
    ['dirlink', 'dir'],
  ]) {
    const r = m.get(name)!;
    assert.equal(r.kind, 'symlink', name);
    assert.equal(r.linkTarget, target, name);
    assert.equal(r.size, Buffer.byteLength(target), name);
  }
  assert.equal(m.get('utf8link')!.size, 5, 'size counts the bytes of the target');
  assert.equal(m.has('dirlink/inner.txt'), false, 'a symlink to a directory is not walked');
  assert.equal(m.has('dir/inner.txt'), true);
  assert.equal(m.get('target.txt')!.linkTarget, undefined);
  assert.deepEqual(scan.skipped, []);
});

test('a FIFO is skipped as special', (t) => {
  const root = scratchDir(t, 'blaine-scan-');
  writeUnder(root, 'a', 'x');
  execFileSync('mkfifo', [path.join(root, 'pipe')]);
  const scan = scanRoot(root);
  assert.deepEqual(rels(root, scan.records), ['a']);
  assert.deepEqual(scan.skipped, [{ path: path.join(root, 'pipe'), reason: 'special', message: 'is a FIFO' }]);
  assert.equal(scan.complete, true);
});

test('unusual names: spaces, quotes, non-ASCII, one character', (t) => {
  const root = scratchDir(t, 'blaine-scan-');
  const names = ['with space.txt', `it's "quoted"`, 'naïve – 日本語 🎞.mkv', 'x', ' lead', 'back\\slash', 'new\nline'];
  for (const n of names) writeUnder(root, n, n);
  const m = byRel(root, scanRoot(root).records);
  for (const n of names) {
    assert.equal(m.get(n)?.size, Buffer.byteLength(n), n);
  }
});

test('names that are not valid UTF-8 are scanned by their exact bytes (files, folders, symlink targets)', (t) => {
  const root = scratchDir(t, 'blaine-scan-');
  writeUnder(root, 'ok.txt', 'x');
  fs.writeFileSync(Buffer.concat([Buffer.from(root + '/bad'), Buffer.from([0xff, 0xfe]), Buffer.from('.txt')]), 'x');
  const dir = Buffer.concat([Buffer.from(root + '/dir'), Buffer.from([0xc3, 0x28])]);
  fs.mkdirSync(dir);
  fs.writeFileSync(Buffer.concat([dir, Buffer.from('/inside')]), 'yy');
  fs.symlinkSync(Buffer.from([0x63, 0x61, 0x66, 0xe9]), Buffer.from(root + '/link'));
  const scan = scanRoot(root, { native: false });
  assert.deepEqual(scan.skipped, []);
  assert.equal(scan.complete, true);
  assert.deepEqual(rels(root, scan.records), ['bad\udcff\udcfe.txt', 'dir\udcc3(/inside', 'link', 'ok.txt']);
  const byName = new Map(scan.records.map((r) => [path.relative(root, r.path), r]));
  assert.equal(byName.get('dir\udcc3(/inside')?.size, 2);
  assert.equal(byName.get('link')?.linkTarget, 'caf\udce9');
  assert.deepEqual(nameToBytes(byName.get('bad\udcff\udcfe.txt')!.path), Buffer.concat([Buffer.from(root + '/bad'), Buffer.from([0xff, 0xfe]), Buffer.from('.txt')]));
});

test('records come out in byte order of their paths, depth first', (t) => {
  const root = scratchDir(t, 'blaine-scan-');
  const files = ['b', 'B', 'a b/x', 'a/x', 'a/y/z', 'a-b', 'a.b', 'a0', 'é', 'z', '\u{1F600}', '\uFF21', 'Z/1'];
  for (const f of files) writeUnder(root, f, f);
  const got = rels(root, scanRoot(root).records);
  const byBytes = [...files].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  assert.deepEqual(got, byBytes);
  assert.deepEqual(got, ['B', 'Z/1', 'a b/x', 'a-b', 'a.b', 'a/x', 'a/y/z', 'a0', 'b', 'z', 'é', '\uFF21', '\u{1F600}']);
  const full = scanRoot(root).records.map((r) => r.path);
  assert.deepEqual([...full].sort(comparePaths), full);
});

test('comparePaths agrees with UTF-8 byte order', () => {
  const samples = ['', 'a', 'a/', 'a/b', 'a-b', 'ab', 'é', '\uFF21', '\u{1F600}', '\u{1F600}a', 'Z', '\uE000'];
  for (const a of samples) {
    for (const b of samples) {
      assert.equal(Math.sign(comparePaths(a, b)), Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))), `${a} vs ${b}`);
    }
  }
});

test('exclusions: files left out, excluded directories never opened, paths relative to the root', (t) => {
  const root = scratchDir(t, 'blaine-scan-');
  writeUnder(root, 'keep.txt');
  writeUnder(root, 'drop.tmp');
  writeUnder(root, 'cache/deep/x.txt');
  writeUnder(root, 'sub/cache/y.txt');
  writeUnder(root, 'sub/keep.tmp');
  const opened: string[] = [];
  const spyFs: ScanFs = {
    statSync: (p) => fs.statSync(p),
    readdirSync: (p, o) => {
      opened.push(path.relative(root, p));
      return fs.readdirSync(p, o);
    },
    lstatSync: (p, o) => fs.lstatSync(p, o),
    readlinkSync: (p, o) => fs.readlinkSync(p, o),
  };
  const asked: string[] = [];
  class Spy extends ExclusionFilter {
    override excludesFile(rel: string): boolean {
      asked.push('file ' + rel);
      return super.excludesFile(rel);
    }
    override excludesDir(rel: string): boolean {
      asked.push('dir ' + rel);
      return super.excludesDir(rel);
    }
  }
  const filter = new Spy([
    { kind: 'include', pattern: '/sub/keep.tmp' },
    { kind: 'exclude', pattern: '*.tmp' },
    { kind: 'exclude', pattern: 'cache/' },
  ]);
  const scan = scanRoot(root + '/', { filter, fs: spyFs });
  assert.deepEqual(rels(root, scan.records), ['keep.txt', 'sub/keep.tmp']);
  assert.deepEqual([...new Set(opened)].sort(), ['', 'sub'], 'a tree made just now may be listed twice (listStable), never more folders');
  assert.deepEqual(asked, ['dir cache', 'file drop.tmp', 'file keep.txt', 'dir sub', 'dir sub/cache', 'file sub/keep.tmp']);
  assert.equal(scan.complete, true);
});

test('an include-only filter walks every directory but keeps only what it includes', (t) => {
  const root = scratchDir(t, 'blaine-scan-');
  writeUnder(root, 'readme.txt');
  writeUnder(root, 'movies/a.mkv');
  writeUnder(root, 'music/b.mp3');
  writeUnder(root, 'music/movies/c.mkv');
  const scan = scanRoot(root, { filter: new ExclusionFilter([{ kind: 'include', pattern: '/movies/' }]) });
  assert.deepEqual(rels(root, scan.records), ['movies/a.mkv']);
});

test('--exclude-regex applies to the path relative to the root', (t) => {
  const root = scratchDir(t, 'blaine-scan-');
  writeUnder(root, 'a/b.bak');
  writeUnder(root, 'a/b.txt');
  writeUnder(root, 'tmp/x');
  const scan = scanRoot(root, { filter: new ExclusionFilter([], ['\\.bak$', '^tmp/']) });
  assert.deepEqual(rels(root, scan.records), ['a/b.txt']);
});

test('missing root, root that is a file, empty root, relative root', (t) => {
  const base = scratchDir(t, 'blaine-scan-');
  const missing = scanRoot(path.join(base, 'nope'));
  assert.deepEqual(missing, { root: path.join(base, 'nope'), exists: false, complete: false, records: [], skipped: [] });

  const file = writeUnder(base, 'file', 'x');
  const asFile = scanRoot(file);
  assert.equal(asFile.exists, false);
  assert.equal(asFile.complete, false);
  assert.deepEqual(asFile.records, []);

  fs.mkdirSync(path.join(base, 'empty'));
  assert.deepEqual(scanRoot(path.join(base, 'empty') + '//'), {
    root: path.join(base, 'empty'),
    exists: true,
    complete: true,
    records: [],
    skipped: [],
  });

  const rel = path.relative(process.cwd(), path.join(base, 'empty'));
  assert.equal(scanRoot(rel).root, path.join(base, 'empty'));
});

test('a data path that is itself a symlink to a directory is scanned', (t) => {
  const base = scratchDir(t, 'blaine-scan-');
  writeUnder(base, 'real/a.txt', 'x');
  fs.symlinkSync(path.join(base, 'real'), path.join(base, 'link'));
  const scan = scanRoot(path.join(base, 'link'));
  assert.equal(scan.exists, true);
  assert.deepEqual(scan.records.map((r) => r.path), [path.join(base, 'link', 'a.txt')]);
});

test('mtime keeps its nanoseconds', (t) => {
  const root = scratchDir(t, 'blaine-scan-');
  const f = writeUnder(root, 'f', 'x');
  const env = { ...process.env, TZ: 'UTC' };
  execFileSync('touch', ['-d', '2020-01-02 03:04:05.123456789', f], { env });
  const old = writeUnder(root, 'old', 'x');
  execFileSync('touch', ['-d', '1969-12-31 23:59:58.75', old], { env });
  const m = byRel(root, scanRoot(root).records);
  assert.equal(m.get('f')!.mtimeSec, Date.UTC(2020, 0, 2, 3, 4, 5) / 1000);
  assert.equal(m.get('f')!.mtimeNsec, 123456789);
  assert.equal(m.get('old')!.mtimeSec, -2, 'seconds round down before 1970');
  assert.equal(m.get('old')!.mtimeNsec, 750000000);
});

test('onProgress ends with the number of records', (t) => {
  const root = scratchDir(t, 'blaine-scan-');
  for (let i = 0; i < 5000; i++) writeUnder(root, `d${i % 7}/f${i}`);
  const seen: number[] = [];
  const scan = scanRoot(root, { onProgress: (n) => seen.push(n) });
  assert.equal(scan.records.length, 5000);
  assert.deepEqual(seen, [4096, 5000]);
});

function failingFs(fail: { readdir?: string; lstat?: string; readlink?: string; code: string }): ScanFs {
  return {
    statSync: (p) => fs.statSync(p),
    readdirSync: (p, o) => {
      if (p === fail.readdir) throw errno(fail.code);
      return fs.readdirSync(p, o);
    },
    lstatSync: (p, o) => {
      if (p === fail.lstat) throw errno(fail.code);
      return fs.lstatSync(p, o);
    },
    readlinkSync: (p, o) => {
      if (p === fail.readlink) throw errno(fail.code);
      return fs.readlinkSync(p, o);
    },
  };
}

test('an unreadable directory is reported and makes the scan incomplete', (t) => {
  const root = scratchDir(t, 'blaine-scan-');
  writeUnder(root, 'a.txt');
  writeUnder(root, 'locked/secret.txt');
  writeUnder(root, 'z.txt');
  const locked = path.join(root, 'locked');
  const scan = scanRoot(root, { fs: failingFs({ readdir: locked, code: 'EACCES' }) });
  assert.equal(scan.exists, true);
  assert.equal(scan.complete, false);
  assert.deepEqual(rels(root, scan.records), ['a.txt', 'z.txt']);
  assert.deepEqual(scan.skipped, [{ path: locked, reason: 'unreadable', message: 'permission denied' }]);
});

test('an unreadable root directory exists but is incomplete', (t) => {
  const root = scratchDir(t, 'blaine-scan-');
  writeUnder(root, 'a.txt');
  const scan = scanRoot(root, { fs: failingFs({ readdir: root, code: 'EIO' }) });
  assert.equal(scan.exists, true);
  assert.equal(scan.complete, false);
  assert.deepEqual(scan.skipped, [{ path: root, reason: 'unreadable', message: 'input/output error' }]);
});

test('lstat and readlink failures skip the entry as unreadable', (t) => {
  const root = scratchDir(t, 'blaine-scan-');
  writeUnder(root, 'a.txt');
  writeUnder(root, 'b.txt');
  fs.symlinkSync('a.txt', path.join(root, 'link'));
  const s1 = scanRoot(root, { fs: failingFs({ lstat: path.join(root, 'b.txt'), code: 'EIO' }) });
  assert.deepEqual(rels(root, s1.records), ['a.txt', 'link']);
  assert.deepEqual(s1.skipped, [{ path: path.join(root, 'b.txt'), reason: 'unreadable', message: 'input/output error' }]);
  const s2 = scanRoot(root, { fs: failingFs({ readlink: path.join(root, 'link'), code: 'EACCES' }) });
  assert.deepEqual(rels(root, s2.records), ['a.txt', 'b.txt']);
  assert.deepEqual(s2.skipped, [{ path: path.join(root, 'link'), reason: 'unreadable', message: 'permission denied' }]);
});

const runsAsRoot = process.getuid?.() === 0;
const hasSetpriv = spawnSync('setpriv', ['--version']).status === 0;

test('a directory without permission, scanned as an unprivileged user', { skip: !(runsAsRoot && hasSetpriv) && 'needs root and setpriv' }, (t) => {
  const root = scratchDir(t, 'blaine-scan-');
  fs.chmodSync(root, 0o755);
  writeUnder(root, 'a.txt');
  writeUnder(root, 'locked/secret.txt');
  fs.chmodSync(path.join(root, 'locked'), 0o000);
  const scanner = path.join(readableCheckout(), 'dist', 'src', 'scan', 'scanner.js');
  const script = `import { scanRoot } from ${JSON.stringify(scanner)};
    process.stdout.write(JSON.stringify(scanRoot(process.argv[1])));`;
  const out = execFileSync(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', script, root],
    { encoding: 'utf8' },
  );
  const scan = JSON.parse(out);
  assert.equal(scan.complete, false);
  assert.deepEqual(scan.records.map((r: FileRecord) => path.relative(root, r.path)), ['a.txt']);
  assert.deepEqual(scan.skipped, [{ path: path.join(root, 'locked'), reason: 'unreadable', message: 'permission denied' }]);
});
