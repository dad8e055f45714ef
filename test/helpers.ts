import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { mountsOf, readMounts } from '../src/crypt/gocryptfs.js';
import { parityFiles, parityStemRel } from '../src/parity/paths.js';
import type { ApplyEvent } from '../src/apply/env.js';
import { applyEventText } from '../src/cli/apply-events.js';
import { realFs } from '../src/fsx/fsx.js';
import { bytesToName, fsPath } from '../src/fsx/name-bytes.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root, whether running from src (never) or from dist/test. */
export const repoRoot = path.resolve(here, '..', '..');
export const blaineBin = path.join(repoRoot, 'bin', 'blaine');

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real executable, as a user would. `timeoutMs`: killed (SIGKILL) when still running by
 * then, status -1: a run that hangs fails its test instead of hanging it.
 */
export function blaine(args: string[], opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): RunResult {
  const r = spawnSync(process.execPath, [blaineBin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
    input: opts.input,
    maxBuffer: 64 << 20,
    timeout: opts.timeoutMs,
    killSignal: 'SIGKILL',
  });
  const hung = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT' ? `\n(killed: still running after ${opts.timeoutMs} ms)` : '';
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr + hung };
}

const madeDirs: string[] = [];

/** A fresh folder under the system's temporary folder, removed when the process exits. */
/**
 * `blaine backup` of the library onto the disk with the host catalog env.db and no reserve, `args`
 * before the library; `opts`: another disk or library than env's, more environment, test faults
 * (BLAINE_TEST_FAULTS), and `ok` to require exit status 0.
 */
export function backup(
  env: { disk: string; db: string; lib?: string },
  args: string[] = [],
  opts: { disk?: string; lib?: string; env?: Record<string, string>; faults?: string; ok?: boolean } = {},
): RunResult {
  const lib = opts.lib ?? env.lib;
  if (lib === undefined) throw new Error('backup(): no library given');
  const faults: Record<string, string> = opts.faults ? { BLAINE_TEST_FAULTS: opts.faults } : {};
  const r = blaine(['backup', '--dest', opts.disk ?? env.disk, '--db', env.db, '--reserve', '0', ...args, lib], { env: { ...opts.env, ...faults } });
  if (opts.ok) assert.equal(r.status, 0, `backup: ${r.stdout}${r.stderr}`);
  return r;
}

/**
 * node:fs for tests whose names may not be UTF-8: the real Fsx (every path passed as its bytes,
 * names read back in the string form of fsx/name-bytes.ts) plus the few calls it lacks.
 */
export const byteFs = Object.freeze({
  ...realFs,
  utimesSync: (p: string, atime: Date | number, mtime: Date | number) => fs.utimesSync(fsPath(p), atime, mtime),
});

export function tempDir(prefix = 'blaine-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  if (madeDirs.length === 0) process.on('exit', () => madeDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  madeDirs.push(dir);
  return dir;
}

/** A temporary folder that is removed when the test ends. */
export function scratchDir(t: { after: (fn: () => void) => void }, prefix = 'blaine-test-'): string {
  const dir = tempDir(prefix);
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes root/rel, making its folders; returns the path. */
export function writeUnder(root: string, rel: string, content: string | Buffer = ''): string {
  const p = path.join(root, rel);
  write(p, content);
  return p;
}

/** Bit rot: n bytes at offset inverted, the mtime put back as it was. */
export function rot(file: string, offset: number, n = 4): void {
  const st = fs.statSync(file);
  const fd = fs.openSync(file, 'r+');
  const b = Buffer.alloc(n);
  fs.readSync(fd, b, 0, n, offset);
  for (let i = 0; i < n; i++) b[i] = b[i]! ^ 0xff;
  fs.writeSync(fd, b, 0, n, offset);
  fs.closeSync(fd);
  fs.utimesSync(file, st.atime, st.mtime);
}

export const isRoot = process.getuid?.() === 0;

/** True when every folder from / down to dir lets other users through (the x bit for others). */
function othersCanReach(dir: string): boolean {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if ((fs.statSync(d).mode & 0o001) === 0) return false;
    if (d === path.dirname(d)) return true;
  }
}

let readableCopy: string | null = null;

/**
 * A checkout an unprivileged user (the tests drop to uid 65534) can read and run: this one when
 * every folder above it lets others through; otherwise (cloned under a 0700 home, as root) a copy
 * of what running Blaine and the compiled modules needs: dist, bin, the addon and the runtime
 * packages, made once per process in a world-readable temporary folder removed at exit.
 */
export function readableCheckout(): string {
  if (othersCanReach(repoRoot)) return repoRoot;
  if (readableCopy) return readableCopy;
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'blaine-checkout-'));
  fs.chmodSync(copy, 0o755);
  process.on('exit', () => fs.rmSync(copy, { recursive: true, force: true }));
  const parts = [
    'package.json',
    'bin',
    'dist',
    'native/build/Release/blaine_native.node',
    'node_modules/commander',
    'node_modules/smol-toml',
    'node_modules/bindings',
    'node_modules/file-uri-to-path',
    'node_modules/better-sqlite3/package.json',
    'node_modules/better-sqlite3/lib',
    'node_modules/better-sqlite3/build/Release/better_sqlite3.node',
  ];
  for (const part of parts) {
    const from = path.join(repoRoot, part);
    if (!fs.existsSync(from)) continue;
    const to = path.join(copy, part);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    execFileSync('cp', ['-a', from, to]);
  }
  execFileSync('chmod', ['-R', 'a+rX', copy]);
  readableCopy = copy;
  return copy;
}

/** A library folder, an empty disk folder and a host catalog path, in one temporary folder. */
export function testEnv(prefix = 'blaine-test-') {
  const base = tempDir(prefix);
  const lib = path.join(base, 'lib');
  const disk = path.join(base, 'disk');
  const db = path.join(base, 'host', 'catalog.sqlite');
  fs.mkdirSync(lib, { recursive: true });
  fs.mkdirSync(disk, { recursive: true });
  return { base, lib, disk, db, cleanup: () => fs.rmSync(base, { recursive: true, force: true }) };
}

/** A test environment (testEnv) removed when the test ends. */
export function testEnvFor(t: { after: (fn: () => void) => void }, prefix = 'blaine-test-'): ReturnType<typeof testEnv> {
  const env = testEnv(prefix);
  t.after(env.cleanup);
  return env;
}

/** A test environment (testEnvFor) with two more empty disk folders, B and B2, for a mirrored volume. */
export function mirrorEnv(t: { after: (fn: () => void) => void }, prefix: string): ReturnType<typeof testEnv> & { B: string; B2: string } {
  const env = testEnvFor(t, prefix);
  const B = path.join(env.base, 'B');
  const B2 = path.join(env.base, 'B2');
  fs.mkdirSync(B);
  fs.mkdirSync(B2);
  return { ...env, B, B2 };
}

export function sha256(data: Buffer | string): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/** The SHA-256 of a file's content. */
export function fileSha(p: string): string {
  return sha256(fs.readFileSync(p));
}

export function write(file: string, content: string | Buffer, mtime?: Date): void {
  fs.mkdirSync(fsPath(path.dirname(file)), { recursive: true });
  fs.writeFileSync(fsPath(file), content);
  if (mtime) fs.utimesSync(fsPath(file), mtime, mtime);
}

/** Mounts a small tmpfs (a real, tiny disk) when root; returns null (and the caller skips) otherwise. */
export function mountTmpfs(dir: string, size: string): boolean {
  if (!isRoot) return false;
  fs.mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Mounts a fresh loop-mounted ext4 of `size` (e.g. '256M') at `dir` when root, its image beside
 * `dir`; returns the image (to mount again with mountImage), or null (and the caller skips).
 */
export function mountLoopExt4(dir: string, size: string): string | null {
  if (!isRoot) return null;
  const img = `${dir}.img`;
  fs.mkdirSync(dir, { recursive: true });
  try {
    execFileSync('truncate', ['-s', size, img], { stdio: 'pipe' });
    execFileSync('mkfs.ext4', ['-q', '-F', img], { stdio: 'pipe' });
    mountImage(img, dir);
    return img;
  } catch {
    fs.rmSync(img, { force: true });
    return null;
  }
}

/**
 * A test environment (testEnv) whose disk is a fresh loop-mounted ext4 of `size`, unmounted before
 * the environment is removed when the test ends; `img` is null when not root (the caller skips).
 */
export function loopDiskEnv(t: { after: (fn: () => void) => void }, size: string): ReturnType<typeof testEnv> & { img: string | null } {
  const env = unmountedAfterTest(t);
  return { ...env, img: mountLoopExt4(env.disk, size) };
}

/** A test environment (testEnv) whose disk, if mounted by then, is unmounted when the test ends, before all is removed. */
function unmountedAfterTest(t: { after: (fn: () => void) => void }): ReturnType<typeof testEnv> {
  const env = testEnv();
  // after-hooks run in the order they were added: unmounted first, then removed.
  t.after(() => {
    if (isMounted(env.disk)) unmount(env.disk);
  });
  t.after(env.cleanup);
  return env;
}

/** Mounts an ext4 image (again) at dir; `ro` read-only. */
export function mountImage(img: string, dir: string, opts: { ro?: boolean } = {}): void {
  execFileSync('mount', ['-o', opts.ro ? 'loop,ro' : 'loop', img, dir], { stdio: 'pipe' });
}

/** True when dir is a mount point now. */
export function isMounted(dir: string): boolean {
  return spawnSync('mountpoint', ['-q', dir]).status === 0;
}

/**
 * A test environment (testEnv) whose disk is a tmpfs of `size`, unmounted and removed when the test
 * ends; null after skipping the test (with the reason) where it cannot be mounted (not root).
 */
export function tmpfsEnv(t: { skip: (why: string) => void; after: (fn: () => void) => void }, size: string): ReturnType<typeof testEnv> | null {
  const env = unmountedAfterTest(t);
  if (!mountTmpfs(env.disk, size)) {
    t.skip(isRoot ? 'cannot mount a tmpfs here' : 'needs root to mount a tmpfs');
    return null;
  }
  return env;
}

/**
 * A small real disk for one test: a tmpfs of `size` on a fresh folder, unmounted when the test
 * ends; null after skipping the test (with the reason) where it cannot be mounted (not root).
 */
export function tmpfsDisk(t: { skip: (why: string) => void; after: (fn: () => void) => void }, size: string): string | null {
  const dir = tempDir('blaine-tmpfs-');
  if (!mountTmpfs(dir, size)) {
    t.skip(isRoot ? 'cannot mount a tmpfs here' : 'needs root to mount a tmpfs');
    return null;
  }
  t.after(() => unmount(dir));
  return dir;
}

export function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  }
}

export interface TreeEntry {
  kind: 'file' | 'symlink';
  sha256?: string;
  target?: string;
  ino?: number;
}

/** Every file and symlink below `dir` (paths relative to it), skipping the disk's .blaine folder. */
export function readTree(dir: string, opts: { skipBlaine?: boolean } = { skipBlaine: true }): Map<string, TreeEntry> {
  const out = new Map<string, TreeEntry>();
  const walk = (d: string, rel: string) => {
    for (const ent of realFs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      if (opts.skipBlaine && r === '.blaine') continue;
      const full = path.join(d, ent.name);
      if (ent.isSymbolicLink()) out.set(r, { kind: 'symlink', target: realFs.readlinkSync(full) });
      else if (ent.isDirectory()) walk(full, r);
      else if (ent.isFile()) out.set(r, { kind: 'file', sha256: sha256(realFs.readFileSync(full)), ino: realFs.statSync(full).ino });
    }
  };
  walk(dir, '');
  return out;
}

export interface Row {
  volume: string;
  path: string;
  kind: string;
  size: number;
  sha256: string | null;
  link_target: string | null;
  mtime_s: number;
  mtime_ns: number;
  parity_name: string | null;
}

/** A name column read straight from a catalog (stored as bytes; read with CAST(... AS BLOB)) in the string form of fsx/name-bytes.ts. */
export function nameColumn(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? v : bytesToName(v as Uint8Array);
}

/** A catalog's file and symlink rows (of one volume), in path order; dirRows has its directories. */
export function rows(dbFile: string, volume?: string): Row[] {
  return catalogRows(dbFile, "kind != 'dir'", volume) as Row[];
}

export interface DirRow {
  volume: string;
  path: string;
  mode: number;
  uid: number;
  gid: number;
  mtime_s: number;
  mtime_ns: number;
}

/** A catalog's directory rows (of one volume), in path order. */
export function dirRows(dbFile: string, volume?: string): DirRow[] {
  return catalogRows(dbFile, "kind = 'dir'", volume) as DirRow[];
}

function catalogRows(dbFile: string, which: string, volume?: string): unknown[] {
  const db = new Database(dbFile, { readonly: true });
  try {
    const columns = which.includes('!=')
      ? 'volume, CAST(path AS BLOB) AS path, kind, size, iif(sha256 IS NULL, NULL, lower(hex(sha256))) AS sha256, CAST(link_target AS BLOB) AS link_target, mtime_s, mtime_ns, CAST(parity_name AS BLOB) AS parity_name'
      : 'volume, CAST(path AS BLOB) AS path, mode, uid, gid, mtime_s, mtime_ns';
    const sql = `SELECT ${columns} FROM files WHERE ${which} ${volume ? 'AND volume = ?' : ''} ORDER BY CAST(path AS BLOB)`;
    const found = (volume ? db.prepare(sql).all(volume) : db.prepare(sql).all()) as Array<Record<string, unknown>>;
    // Names are stored as bytes: read as bytes, they come back in the string form of fsx/name-bytes.ts.
    for (const r of found) {
      for (const k of ['path', 'link_target', 'parity_name']) if (k in r) r[k] = nameColumn(r[k]);
    }
    return found;
  } finally {
    db.close();
  }
}

/**
 * How folders are compared with the library: always mode and owner; their mtimes too unless the
 * test changed the library by hand after its last backup (`blaine remove` of files deleted from a
 * folder: only a backup records the folder's new mtime).
 */
export interface FolderCheck {
  folderTimes?: boolean;
}

function folderMeta(meta: string, opts: FolderCheck): string {
  return opts.folderTimes === false ? meta.replace(/ mtime \d+$/, '') : meta;
}

/** A directory's own metadata as the helpers compare it: mode, owner, mtime to the ns. */
function dirMetaOf(p: string): string {
  const st = byteFs.lstatSync(p, { bigint: true });
  return `dir mode ${(st.mode & 0o7777n).toString(8)} owner ${st.uid}:${st.gid} mtime ${st.mtimeNs}`;
}

function dirRowMeta(r: DirRow): string {
  return `dir mode ${(r.mode & 0o7777).toString(8)} owner ${r.uid}:${r.gid} mtime ${BigInt(r.mtime_s) * 1_000_000_000n + BigInt(r.mtime_ns)}`;
}

/** Every directory below `dir` (relative paths), with its metadata; `dir` itself as ''. */
function dirsBelow(dir: string): Map<string, string> {
  const out = new Map<string, string>([['', dirMetaOf(dir)]]);
  const walk = (d: string, rel: string) => {
    for (const ent of byteFs.readdirSync(d, { withFileTypes: true })) {
      if (!ent.isDirectory()) continue;
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      out.set(r, dirMetaOf(path.join(d, ent.name)));
      walk(path.join(d, ent.name), r);
    }
  };
  walk(dir, '');
  return out;
}

export function volumeOf(disk: string): { volume: string; label: string; copy: string } {
  return JSON.parse(fs.readFileSync(path.join(disk, '.blaine', 'volume.json'), 'utf8'));
}

/**
 * The invariant every test step checks: the disk holds exactly the files its catalog lists, bit for
 * bit, and the host catalog's rows for the volume equal the disk catalog.
 */
export function assertDiskMatchesCatalog(
  disk: string,
  db: string,
  opts: { hostMayHaveMore?: boolean; parity?: boolean; /** for the clear view of an encrypted disk, which has no volume.json */ volume?: string } = {},
): void {
  const volume = opts.volume ?? volumeOf(disk).volume;
  const diskRows = rows(path.join(disk, '.blaine', 'catalog.sqlite'), volume);
  const tree = readTree(disk);
  const catalogued = new Set<string>();
  for (const r of diskRows) {
    const rel = r.path.slice(1);
    catalogued.add(rel);
    const t = tree.get(rel);
    assert.ok(t, `catalogued ${r.path} is missing on the disk`);
    assert.equal(t.kind, r.kind, `${r.path}: kind`);
    if (r.kind === 'file') assert.equal(t.sha256, r.sha256, `${r.path}: content differs from the catalog`);
    else assert.equal(t.target, r.link_target, `${r.path}: symlink target`);
  }
  for (const p of tree.keys()) assert.ok(catalogued.has(p), `${p} is on the disk but not in its catalog`);
  if (opts.parity) {
    // Parity files are named after each file's stem (a shortened one for names too long to take a suffix).
    const parityRoot = path.join(disk, '.blaine', 'parity');
    const stems = new Set<string>();
    for (const r of diskRows) {
      if (r.kind !== 'file' || r.size === 0) continue;
      assert.ok(r.parity_name, `${r.path} has no parity`);
      assert.ok(parityFiles(disk, r.path.slice(1)).length > 0, `${r.path}: parity file missing`);
      stems.add(parityStemRel(r.path.slice(1)));
    }
    if (byteFs.existsSync(parityRoot)) {
      for (const [p] of readTree(parityRoot, { skipBlaine: false })) {
        if (/\.par2$/.test(p)) assert.ok(stems.has(p.replace(/(\.vol\+)?\.par2$/, '')), `orphan parity ${p}`);
      }
    }
  }
  // Every catalogued directory is a directory on the disk with the catalogued mode, owner and mtime.
  const diskDirs = dirRows(path.join(disk, '.blaine', 'catalog.sqlite'), volume);
  for (const r of diskDirs) {
    const where = path.join(disk, r.path);
    assert.ok(byteFs.existsSync(where) && byteFs.lstatSync(where).isDirectory(), `catalogued folder ${r.path} is missing on the disk`);
    assert.equal(dirMetaOf(where), dirRowMeta(r), `${r.path}: the folder on the disk differs from its catalog row`);
  }
  if (!opts.hostMayHaveMore) assert.deepEqual(dirRows(db, volume), diskDirs, 'host catalog folders for the volume differ from the disk catalog');
  const hostRows = rows(db, volume);
  if (opts.hostMayHaveMore) {
    const hostPaths = new Set(hostRows.map((r) => r.path));
    for (const r of diskRows) assert.ok(hostPaths.has(r.path), `${r.path} is on the disk but not in the host catalog`);
  } else {
    assert.deepEqual(hostRows, diskRows, 'host catalog rows for the volume differ from the disk catalog');
  }
}

/**
 * The archive as a whole gives back the library: every file and symlink under `src` is on one of
 * the disks at its absolute path with the same content (what `cp -a` from the disks would restore).
 */
export function assertArchiveHolds(src: string, disks: string[], opts: FolderCheck = {}): void {
  const want = readTree(src, { skipBlaine: false });
  const trees = disks.map((d) => ({ d, t: readTree(d) }));
  const prefix = src.slice(1);
  for (const [rel, w] of want) {
    const p = `${prefix}/${rel}`;
    const found = trees.map((x) => x.t.get(p)).filter((x): x is TreeEntry => !!x);
    assert.ok(found.length > 0, `${src}/${rel} is on no disk`);
    const ok = found.some((f) => f.kind === w.kind && (w.kind === 'file' ? f.sha256 === w.sha256 : f.target === w.target));
    assert.ok(ok, `${src}/${rel}: no disk holds its current content`);
  }
  // And every folder, empty ones included, with its mode, owner and mtime on some disk.
  const meta = (p: string) => folderMeta(dirMetaOf(p), opts);
  for (const [rel] of dirsBelow(src)) {
    const want = meta(path.join(src, rel));
    const onDisks = disks.map((d) => path.join(d, src, rel)).filter((p) => byteFs.existsSync(p) && byteFs.lstatSync(p).isDirectory());
    assert.ok(onDisks.length > 0, `folder ${path.join(src, rel)} is on no disk`);
    assert.ok(onDisks.some((p) => meta(p) === want), `folder ${path.join(src, rel)}: no disk holds it as it is (${want})`);
  }
}

/** Content-level: every library file's bytes are on some disk, whatever the name (offline disks not yet updated). */
export function assertArchiveHasContent(src: string, disks: string[]): void {
  const have = new Set<string>();
  for (const d of disks) for (const t of readTree(d).values()) if (t.sha256) have.add(t.sha256);
  for (const [rel, w] of readTree(src, { skipBlaine: false })) {
    if (w.kind === 'file') assert.ok(have.has(w.sha256!), `the content of ${src}/${rel} is on no disk`);
  }
}

export function summaryOf(r: RunResult): Record<string, number | boolean> {
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`not JSON (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
}

/** What a restore or the library must agree on, per path (directories too): content, kind, mode, owner, mtime to the ns. */
export function fidelityOf(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, rel: string) => {
    for (const ent of realFs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      const full = path.join(d, ent.name);
      const st = realFs.lstatSync(full, { bigint: true });
      if (ent.isDirectory()) {
        out.set(r, dirMetaOf(full));
        walk(full, r);
        continue;
      }
      const what = ent.isSymbolicLink() ? `link:${realFs.readlinkSync(full)}` : `file:${sha256(realFs.readFileSync(full))}`;
      const mode = ent.isSymbolicLink() ? '' : (st.mode & 0o7777n).toString(8);
      out.set(r, `${what} mode ${mode} owner ${st.uid}:${st.gid} mtime ${st.mtimeNs}`);
    }
  };
  walk(root, '');
  return out;
}

/**
 * A full restore of the library from `disks` (each in turn into `to`) equals the library: content,
 * kind, mode, owner, mtime to the nanosecond, and the same hardlink groups.
 */
export function assertRestoresLibrary(lib: string, disks: string[], db: string, to: string, opts: FolderCheck = {}): void {
  for (const d of disks) {
    const r = blaine(['restore', '--dest', d, '--db', db, '--to', to, `${lib}/*`]);
    assert.equal(r.status, 0, `restore from ${d}: ${r.stderr}`);
  }
  const restored = path.join(to, lib.slice(1));
  const view = (root: string) => new Map([...fidelityOf(root)].map(([k, v]) => [k, v.startsWith('dir ') ? folderMeta(v, opts) : v]));
  assert.deepEqual(view(restored), view(lib), 'the restore differs from the library');
  assert.deepEqual(linkGroups(restored), linkGroups(lib), 'hardlink groups differ');
}

/** Paths (relative) of files sharing an inode with another, grouped. */
function linkGroups(root: string): string[][] {
  const byIno = new Map<string, string[]>();
  const walk = (d: string, rel: string) => {
    for (const ent of realFs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      const full = path.join(d, ent.name);
      if (ent.isDirectory()) walk(full, r);
      else if (ent.isFile()) {
        const st = realFs.statSync(full);
        if (st.nlink > 1) byIno.set(`${st.ino}`, [...(byIno.get(`${st.ino}`) ?? []), r]);
      }
    }
  };
  walk(root, '');
  return [...byIno.values()].map((g) => g.sort()).sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** No Blaine gocryptfs mount of these disks is in place, and none of their private mount points is left. */
export function assertNoMounts(...disks: string[]): void {
  for (const d of disks) {
    if (!fs.existsSync(path.join(d, '.blaine', 'volume.json'))) continue;
    const { copy } = volumeOf(d);
    assert.deepEqual(mountsOf(copy), [], `a mount of ${d} is left behind`);
    assert.ok(!readMounts().some((m) => m.mountPoint.includes(copy)), `a mount point of ${d} is left behind`);
    const runDir = '/run/blaine';
    if (fs.existsSync(runDir)) assert.deepEqual(fs.readdirSync(runDir).filter((n) => n.startsWith(copy)), [], `private mount point of ${d} left`);
  }
}

/**
 * An executor's `tell` for tests: the problems it reports, as the command would word them, go
 * into `warnings` (or fail the test at once when `warnings` is 'fail'); detail is dropped.
 */
export function collectWarnings(warnings: string[] | 'fail'): (e: ApplyEvent) => void {
  return (e) => {
    const { warning, text } = applyEventText(e);
    if (!warning) return;
    if (warnings === 'fail') assert.fail(text);
    warnings.push(text);
  };
}

/** Asserts that a run of the executable succeeded (status 0), its output in the message; returns it. */
export function expectOk<R extends { status: number | null; stdout: string; stderr: string }>(r: R, what: string): R {
  assert.equal(r.status, 0, `${what}: exit ${r.status}\n${r.stdout}${r.stderr}`);
  return r;
}

/**
 * A scratch folder for tests of encrypted disks: a library, a key file holding `key`, a host
 * catalog path, and tmpfs disks made on demand (`disk(name)`). When the test ends every disk is
 * unmounted (with `busyFails`, one a gocryptfs process still holds fails the test) and the folder
 * removed. `run` runs the executable on that host catalog, backups with no reserve (the disks are
 * small), with `env` added to each run's environment; `withKey` adds the key file.
 */
export function encryptedTestEnv(
  t: { after: (fn: () => void) => void },
  prefix: string,
  key: string,
  opts: { env?: Record<string, string>; busyFails?: boolean } = {},
) {
  const env = opts.env ?? {};
  const base = tempDir(prefix);
  const lib = path.join(base, 'lib');
  const db = path.join(base, 'host', 'catalog.sqlite');
  const keyFile = path.join(base, 'key');
  fs.writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
  fs.mkdirSync(lib);
  const disks: string[] = [];
  t.after(() => {
    const busy: string[] = [];
    for (const d of disks.reverse()) {
      if (spawnSync('umount', [d]).status !== 0) {
        busy.push(d);
        spawnSync('umount', ['-l', d]);
      }
    }
    fs.rmSync(base, { recursive: true, force: true });
    if (opts.busyFails) assert.deepEqual(busy, [], 'disks still busy after the test');
  });
  const disk = (name: string, size = '20m') => {
    const dir = path.join(base, name);
    assert.ok(mountTmpfs(dir, size), `mount a tmpfs at ${dir}`);
    disks.push(dir);
    return dir;
  };
  const run = (args: string[], more: Record<string, string> = {}) =>
    blaine([...args, '--db', db, ...(args[0] === 'backup' ? ['--reserve', '0'] : [])], { env: { ...env, ...more } });
  const withKey = (args: string[]) => run([...args, '--key-file', keyFile]);
  return { base, lib, db, keyFile, disk, run, withKey };
}
