/**
 * A rotation simulated at random: a small library changes every day while the disks
 * that hold it are offline for weeks; backups go onto the onsite copy of a mirrored volume, the two
 * copies swap weekly, stored disks come back now and then for an `apply`, and a new mirrored pair
 * takes over now and then. After every apply and every catch-up the disk is compared with its
 * volume's files as the host catalog says, and `verify --checksum` must be clean; after every
 * visit of a stored disk, and at each month's end, the offsite set (the stored disks and the twin
 * that is not mounted) must still give back the library as at that twin's last backup: first by
 * content, then by playing the disaster (a new host catalog rebuilt from the twin and refined from
 * every stored disk, a restore from every offsite disk, and the restored tree compared whole).
 *
 * Commands run in this process through the CLI's own `main` (the same code `bin/blaine` runs,
 * without a process start per command), so that a seed takes seconds.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';
import { main } from '../src/cli/main.js';
import { heldOnDisk } from '../src/plan/held.js';
import { planCatchUp } from '../src/plan/catchup.js';
import type { CatalogEntry } from '../src/catalog/entry.js';
import type { CopyRow, DeferredRow } from '../src/catalog/rows.js';
import { isRoot, byteFs as fs, nameColumn } from './helpers.js';
import { fidelity } from './recovery.js';
import type { BigIntStats } from '../src/fsx/fsx.js';

/** A small deterministic generator (mulberry32): a seed replays its run exactly. */
export function prng(seed: number): { next(): number; int(n: number): number; pick<T>(xs: readonly T[]): T; chance(p: number): boolean } {
  let a = seed >>> 0 || 0x9e3779b9;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: (xs) => xs[int(xs.length)]!, chance: (p) => next() < p };
}

export interface CommandResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs one blaine command in this process; its output is captured, not printed. */
export async function blaineHere(args: string[]): Promise<CommandResult> {
  const out: string[] = [];
  const err: string[] = [];
  const write = (sink: string[]) => ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    sink.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
    const cb = rest.find((x) => typeof x === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  }) as typeof process.stdout.write;
  const [o, e] = [process.stdout.write, process.stderr.write];
  process.stdout.write = write(out);
  process.stderr.write = write(err);
  process.exitCode = 0;
  try {
    await main(args);
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
  const status = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { status, stdout: out.join(''), stderr: err.join('') };
}

// ---- what the disks must hold ----

interface HostRow {
  path: string;
  kind: 'file' | 'symlink';
  size: number;
  mtime_s: number;
  mtime_ns: number;
  inode: string | null;
  sha256: string | null;
  mode: number;
  uid: number;
  gid: number;
  link_target: string | null;
}

function readRows(dbFile: string, volume: string, which: 'files' | 'dirs' = 'files'): HostRow[] {
  const db = new Database(dbFile, { readonly: true });
  try {
    return db
      .prepare(`SELECT CAST(path AS BLOB) AS path, kind, size, mtime_s, mtime_ns, inode, iif(sha256 IS NULL, NULL, lower(hex(sha256))) AS sha256, mode, uid, gid, CAST(link_target AS BLOB) AS link_target FROM files WHERE volume = ? AND kind ${which === 'dirs' ? '=' : '!='} 'dir' ORDER BY CAST(path AS BLOB)`)
      .all(volume)
      .map((r) => decodeNames(r as HostRow));
  } finally {
    db.close();
  }
}

/** Names read straight from a catalog (stored as bytes), in the string form of fsx/name-bytes.ts. */
function decodeNames<T extends { path: string; link_target?: string | null; target?: string | null }>(r: T): T {
  r.path = nameColumn(r.path)!;
  if ('link_target' in r) r.link_target = nameColumn(r.link_target);
  if ('target' in r) r.target = nameColumn(r.target);
  return r;
}

/** Paths of the volume whose DELETE is held now (their file stays on the disk, SPEC §8). */
function heldPaths(dbFile: string, volume: string): Set<string> {
  const db = new Database(dbFile, { readonly: true });
  try {
    const queue = db
      .prepare('SELECT id, volume, action, CAST(path AS BLOB) AS path, CAST(target AS BLOB) AS target, created, queued_by AS queuedBy, queued_gen AS queuedGen FROM deferred WHERE volume = ? ORDER BY id')
      .all(volume)
      .map((r) => decodeNames(r as DeferredRow));
    const copies = db.prepare('SELECT copy, volume, label, generation FROM copies').all() as CopyRow[];
    return heldOnDisk(queue, copies, new Map()).paths;
  } finally {
    db.close();
  }
}

function fileSha256(p: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
}

function volumeOf(disk: string): string {
  return (JSON.parse(fs.readFileSync(path.join(disk, '.blaine', 'volume.json'), 'utf8')) as { volume: string }).volume;
}

/** Every file and symlink on a disk outside `.blaine` (absolute source paths). */
function diskNames(disk: string): Map<string, BigIntStats> {
  const out = new Map<string, BigIntStats>();
  const walk = (dir: string, rel: string) => {
    for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
      const r = `${rel}/${ent.name}`;
      if (r === '/.blaine' || r === '/lost+found') continue;
      const full = path.join(dir, ent.name);
      if (ent.isDirectory()) walk(full, r);
      else out.set(r, fs.lstatSync(full, { bigint: true }));
    }
  };
  walk(disk, '');
  return out;
}

/**
 * SPEC §5: after an apply or a catch-up the disk holds exactly its volume's files as the host
 * catalog describes them: bytes, mode, owner, mtime to the nanosecond (of a name alone on its
 * inode: an inode has one mtime), hardlink groups (names of one source inode share a disk inode;
 * names sharing a disk inode share content, mode and owner) and symlinks.
 *
 * Checked in two steps. The disk against its own catalog, always exactly. That catalog against the
 * host's rows for the volume: equal, unless DELETEs are held (SPEC §8). A held file stays with its
 * row, and content the volume wants at a path such a file occupies waits under its old name; then
 * every difference must be one the catch-up itself leaves for later (planning it again yields
 * nothing to do) and no content the volume wants may be missing from the disk.
 */
export function assertDiskExact(disk: string, db: string): void {
  const volume = volumeOf(disk);
  const where = `on ${path.basename(disk)}`;
  const own = readRows(path.join(disk, '.blaine', 'catalog.sqlite'), volume);
  const held = heldPaths(db, volume);
  const host = readRows(db, volume);
  // With holds, rows the host does not have alike are the past: held files and content waiting.
  const now = new Set(host.map((r) => JSON.stringify(r)));
  const past = new Set(held.size === 0 ? [] : own.filter((r) => !now.has(JSON.stringify(r))).map((r) => r.path));
  assertDiskHolds(disk, own, where, past);
  assertFoldersHeld(disk, readRows(path.join(disk, '.blaine', 'catalog.sqlite'), volume, 'dirs'), where);
  assert.deepEqual(readRows(db, volume, 'dirs'), readRows(path.join(disk, '.blaine', 'catalog.sqlite'), volume, 'dirs'), `the folders ${where} differ from the host's`);
  if (held.size === 0) {
    assert.deepEqual(own, host, `the catalog ${where} differs from the host's rows for its volume`);
    return;
  }
  const key = (r: HostRow) => JSON.stringify(r);
  const hostKeys = new Set(host.map(key));
  const ownKeys = new Set(own.map(key));
  const mine = own.filter((r) => !hostKeys.has(key(r))).map((r) => entryOf(r, volume));
  const theirs = host.filter((r) => !ownKeys.has(key(r))).map((r) => entryOf(r, volume));
  const alike = own.filter((r) => hostKeys.has(key(r)));
  const elsewhere = (size: number, sha256: string) => {
    const r = alike.find((x) => x.size === size && x.sha256 === sha256);
    return r ? entryOf(r, volume) : undefined;
  };
  const left = planCatchUp(mine, theirs, elsewhere, held);
  assert.deepEqual(left.map((op) => op.type), [], `the catch-up ${where} left work it could have done while DELETEs are held`);
  const stored = new Set(own.map((r) => `${r.size}:${r.sha256}`));
  for (const w of theirs) if (w.kind === 'file') assert.ok(stored.has(`${w.size}:${w.sha256}`), `the content of ${w.path} is not ${where}`);
}

/** Every folder row of the disk's catalog is a folder there with its mode, owner and mtime. */
function assertFoldersHeld(disk: string, want: HostRow[], where: string): void {
  for (const w of want) {
    const st = fs.lstatSync(path.join(disk, w.path), { throwIfNoEntry: false, bigint: true });
    assert.ok(st !== undefined && st.isDirectory(), `folder ${w.path} is missing ${where}`);
    assert.equal(Number(st.mode & 0o7777n), w.mode & 0o7777, `${w.path}: folder mode ${where}`);
    if (isRoot) assert.deepEqual([Number(st.uid), Number(st.gid)], [w.uid, w.gid], `${w.path}: folder owner ${where}`);
    assert.equal(st.mtimeNs, BigInt(w.mtime_s) * 1_000_000_000n + BigInt(w.mtime_ns), `${w.path}: folder mtime ${where}`);
  }
}

function entryOf(r: HostRow, volume: string): CatalogEntry {
  return {
    path: r.path, volume, kind: r.kind, size: r.size, mtimeSec: r.mtime_s, mtimeNsec: r.mtime_ns, inode: r.inode, sha256: r.sha256,
    mode: r.mode, uid: r.uid, gid: r.gid, linkTarget: r.link_target, parityName: null, verifiedAt: null,
  };
}

/** The disk holds exactly the rows given: nothing missing, nothing more, every name as its row says. */
function assertDiskHolds(disk: string, want: HostRow[], where: string, past: ReadonlySet<string>): void {
  const names = diskNames(disk);
  const byIno = new Map<bigint, HostRow[]>();
  for (const w of want) {
    const st = names.get(w.path);
    assert.ok(st, `${w.path} is missing ${where}`);
    if (w.kind === 'symlink') {
      assert.ok(st.isSymbolicLink(), `${w.path} is not a symlink ${where}`);
      assert.equal(fs.readlinkSync(path.join(disk, w.path)), w.link_target, `${w.path}: symlink target ${where}`);
      assert.equal(st.mtimeNs, BigInt(w.mtime_s) * 1_000_000_000n + BigInt(w.mtime_ns), `${w.path}: symlink mtime ${where}`);
      continue;
    }
    assert.ok(st.isFile(), `${w.path} is not a file ${where}`);
    assert.equal(Number(st.size), w.size, `${w.path}: size ${where}`);
    assert.equal(fileSha256(path.join(disk, w.path)), w.sha256, `${w.path}: content ${where}`);
    assert.equal(Number(st.mode & 0o7777n), w.mode & 0o7777, `${w.path}: mode ${where}`);
    if (isRoot) assert.deepEqual([Number(st.uid), Number(st.gid)], [w.uid, w.gid], `${w.path}: owner ${where}`);
    byIno.set(st.ino, [...(byIno.get(st.ino) ?? []), w]);
  }
  for (const [ino, on] of byIno) {
    const cls = (w: HostRow) => `${w.sha256}:${w.mode & 0o7777}:${w.uid}:${w.gid}`;
    assert.equal(new Set(on.map(cls)).size, 1, `${on.map((w) => w.path).join(', ')} share an inode ${where} with other content, mode or owner`);
    if (on.length === 1) {
      const w = on[0]!;
      const st = names.get(w.path)!;
      assert.equal(st.mtimeNs, BigInt(w.mtime_s) * 1_000_000_000n + BigInt(w.mtime_ns), `${w.path}: mtime ${where} (inode ${ino})`);
    }
  }
  // One source inode, one disk inode: the data disk's hardlinks are hardlinks on the archive. A row
  // of the past (held, waiting) may name a source inode whose names have other metadata now.
  const source = new Map<string, HostRow[]>();
  for (const w of want) if (w.kind === 'file' && w.inode && !past.has(w.path)) source.set(w.inode, [...(source.get(w.inode) ?? []), w]);
  for (const group of source.values()) {
    const inodes = new Set(group.map((w) => names.get(w.path)!.ino));
    assert.equal(inodes.size, 1, `${group.map((w) => w.path).join(', ')} are one inode on the data disk but not ${where}`);
  }
  const listed = new Set(want.map((w) => w.path));
  for (const p of names.keys()) assert.ok(listed.has(p), `${p} is ${where} but not in its catalog`);
}

/** The library as one copy's last backup saw it: content, mode, owner, mtime (ns) per path, hardlink groups, symlinks. */
export type LibrarySnapshot = ReturnType<typeof fidelity>;

/** SHA1 of every regular file below a folder, by path, skipping what `skip` names. */
function contentOf(root: string, skip = (_rel: string) => false): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string, rel: string) => {
    for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
      const r = `${rel}/${ent.name}`;
      if (skip(r)) continue;
      const full = path.join(dir, ent.name);
      if (ent.isDirectory()) walk(full, r);
      else if (ent.isFile()) out.set(r, fileSha256(full));
    }
  };
  walk(root, '');
  return out;
}

/** A snapshot's files by their SHA-256 (what `fidelity` records for each), by path. */
function contentByHash(want: LibrarySnapshot): Map<string, string> {
  const out = new Map<string, string>();
  for (const [p, what] of want.entries) {
    if (!what.startsWith('file:')) continue;
    const hash = /^file:([0-9a-f]{64}) /.exec(what)?.[1];
    // A record this cannot read would let every file pass unchecked.
    assert.ok(hash, `${p}: no SHA-256 in the library snapshot's record ${what}`);
    out.set(p, hash);
  }
  return out;
}

/**
 * The promise (SPEC §8), by content alone, cheap: the offsite disks hold, under whatever name, the
 * content of every file of the library as at the offsite twin's last backup. It names a lost file
 * more plainly than a failed restore does, so it runs first.
 */
export function assertOffsiteHoldsContent(disks: string[], want: LibrarySnapshot): void {
  const have = new Set<string>();
  for (const d of disks) for (const h of contentOf(d, (r) => r === '/.blaine' || r === '/lost+found').values()) have.add(h);
  const lost = [...contentByHash(want)].filter(([, h]) => !have.has(h)).map(([p]) => p);
  assert.deepEqual(lost, [], `the offsite disks (${disks.map((d) => path.basename(d)).join(', ')}) no longer hold these files of the library as at the offsite twin's last backup`);
}

export interface Disaster {
  /** The library's folder (absolute): what is restored is `LIB/**`, into FRESH/LIB. */
  lib: string;
  /** The twin of the mirrored pair that is not mounted now: the host catalog is rebuilt from it first. */
  twin: string;
  /** Every stored disk (both copies of a stored pair). */
  stored: string[];
  /** The library as at the twin's last backup: what the offsite disks must give back. */
  want: LibrarySnapshot;
  /** An empty folder for the new host's catalog and the restored tree; removed when it is right. */
  scratch: string;
  r: ReturnType<typeof prng>;
  log: (line: string) => void;
}

/**
 * The promise (SPEC §8), played: the host, the library and the onsite twin are gone. A new host
 * catalog is rebuilt from the offsite twin, then refined from each stored disk (oldest first or in
 * a random order); every offsite disk is restored from, in a random order; the last restore says
 * nothing is left, and the target holds the library as at the twin's last backup: every path,
 * content, mode, owner, mtime to the ns, hardlink groups, symlinks, and nothing else.
 */
export async function assertDisasterRestores(d: Disaster): Promise<number> {
  const db = path.join(d.scratch, 'host', 'cat.sqlite');
  const to = path.join(d.scratch, 'restored');
  let commands = 0;
  const run = async (args: string[]) => {
    commands++;
    const res = await blaineHere([...args, '--db', db]);
    d.log(`  (disaster) $ blaine ${args.join(' ')} -> ${res.status}`);
    assert.equal(res.status, 0, `the disaster: blaine ${args.join(' ')} exited ${res.status}:\n${res.stdout}${res.stderr}`);
    return res;
  };
  await run(['rebuild-catalog', '--dest', d.twin, '-q']);
  const refiners = d.r.chance(0.5) ? d.stored : shuffled(d.stored, d.r);
  for (const disk of refiners) await run(['rebuild-catalog', '--dest', disk, '-q']);
  const readers = shuffled([d.twin, ...d.stored], d.r);
  let last: { done: boolean; left: unknown[] } | undefined;
  for (const disk of readers) last = JSON.parse((await run(['restore', '--dest', disk, '--to', to, '--json', `${d.lib}/**`])).stdout);
  const order = readers.map((x) => path.basename(x)).join(', ');
  assert.deepEqual([last?.done, last?.left], [true, []], `the disaster: after restoring from ${order} something is left`);
  const prefix = d.lib.slice(1);
  // Below the library: the folders above it in the target are not the library's.
  const all = fidelity(to);
  const got = { ...all, entries: new Map([...all.entries].filter(([p]) => p.startsWith(`${prefix}/`))) };
  const want = new Map([...d.want.entries].map(([p, v]) => [`${prefix}/${p}`, v]));
  const wantGroups = d.want.groups.map((g) => g.map((p) => `${prefix}/${p}`));
  const what = `the disaster (rebuilt from ${[d.twin, ...refiners].map((x) => path.basename(x)).join(', ')}; restored from ${order})`;
  assert.deepEqual([...got.entries.keys()].sort(), [...want.keys()].sort(), `${what}: the restored paths`);
  assert.deepEqual(got.entries, want, `${what}: content, mode, owner, mtime`);
  assert.deepEqual(got.groups, wantGroups, `${what}: hardlink groups`);
  fs.rmSync(d.scratch, { recursive: true, force: true });
  return commands;
}

function shuffled<T>(xs: readonly T[], r: ReturnType<typeof prng>): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

// ---- the simulation ----

export interface SimOptions {
  seed: number;
  base: string;
  days: number;
  /** Backups with 10% parity instead of --no-parity. */
  parity?: boolean;
  /** Skip the disaster played after each visit and at each month's end (the content check still runs). */
  noDisaster?: boolean;
  log?: (line: string) => void;
}

interface Volume {
  label: string;
  copies: string[];
}

export async function simulateRotation(o: SimOptions): Promise<{ commands: number; visits: number; catchUps: number; disasters: number }> {
  const r = prng(o.seed);
  const lib = path.join(o.base, 'lib');
  const db = path.join(o.base, 'host', 'cat.sqlite');
  // The disasters draw from a generator of their own: a seed's library history is the same with or without them.
  const rd = prng(o.seed * 7919 + 1);
  const log = o.log ?? (() => {});
  fs.mkdirSync(lib, { recursive: true });
  let commands = 0;
  let visits = 0;
  let catchUps = 0;
  const run = async (...args: string[]) => {
    commands++;
    const res = await blaineHere([...args, '--db', db]);
    log(`$ blaine ${args.join(' ')} -> ${res.status}`);
    assert.equal(res.status, 0, `seed ${o.seed}: blaine ${args.join(' ')} exited ${res.status}:\n${res.stdout}${res.stderr}`);
    return res;
  };
  const options = () => ['--reserve', '0', ...(o.parity ? ['--parity', '10'] : ['--no-parity']), '-q'];
  const verify = async (disk: string) => {
    const res = await blaineHere(['verify', '--dest', disk, '--checksum', '--db', db, '--json']);
    commands++;
    assert.equal(res.status, 0, `seed ${o.seed}: verify --checksum of ${path.basename(disk)} found problems:\n${res.stdout}${res.stderr}`);
  };
  const checked = async (disk: string) => {
    assertDiskExact(disk, db);
    await verify(disk);
  };

  // The library: a few folders of small files, some hardlinked, a symlink.
  // Names are bytes (SPEC §3): a folder and some files have names that are not UTF-8 (a byte
  // \xe9 or \xff, in fsx/name-bytes.ts's string form), and some names are 255 bytes long.
  const dirs = ['d1', 'd2', 'd3/sub', 'd\udce9'];
  const linked: LinkedFolder = { away: path.join(o.base, 'away') };
  let counter = 0;
  const newName = (dir = r.pick(dirs)) => {
    fs.mkdirSync(path.join(lib, dir), { recursive: true });
    const n = counter++;
    const name = r.chance(0.15) ? `f${n}caf\udce9.bin` : r.chance(0.08) ? longName(n, r.chance(0.5)) : `f${n}.bin`;
    return path.join(lib, dir, name);
  };
  const files = () => listFiles(lib);
  const writeNew = (p: string, bytes = 1 + r.int(20_000)) => {
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, crypto.randomBytes(bytes));
  };
  for (let i = 0; i < 5; i++) writeNew(newName());

  const disk = (name: string) => path.join(o.base, name);
  const stored: Volume[] = [];
  const A = disk('A');
  fs.mkdirSync(A);
  await run('backup', '--dest', A, '--init', '--label', 'A', ...options(), lib);
  stored.push({ label: 'A', copies: [A] });
  for (let i = 0; i < 3; i++) writeNew(newName());
  let pairNo = 0;
  let pair: Volume;
  let onsite = 0;
  /** The library (content by path) as at each copy's last backup. */
  const asAt = new Map<string, LibrarySnapshot>();
  let disasters = 0;
  const startPair = async () => {
    const label = `P${pairNo++}`;
    const [x, y] = [disk(label), disk(`${label}b`)];
    fs.mkdirSync(x);
    fs.mkdirSync(y);
    await run('backup', '--dest', x, '--init', '--label', label, ...options(), lib);
    await run('clone', '--dest', x, '--to', y, '--label', `${label}'`);
    asAt.set(x, fidelity(lib));
    asAt.set(y, fidelity(lib));
    pair = { label, copies: [x, y] };
    onsite = 1;
  };
  await startPair();
  /** The promise with the host, the library and the onsite twin lost: by content, then by a real restore. */
  const promise = async (day: number) => {
    const twin = pair!.copies[1 - onsite]!;
    const storedDisks = stored.flatMap((v) => v.copies);
    assertOffsiteHoldsContent([...storedDisks, twin], asAt.get(twin)!);
    if (o.noDisaster) return;
    const scratch = path.join(o.base, `disaster-${day}`);
    commands += await assertDisasterRestores({ lib, twin, stored: storedDisks, want: asAt.get(twin)!, scratch, r: rd, log });
    disasters++;
  };

  for (let day = 1; day <= o.days; day++) {
    const changes = 1 + r.int(4);
    for (let c = 0; c < changes; c++) change(r, lib, files(), newName, writeNew, dirs, log, linked);
    const swap = day % 7 === 0;
    // The weekly swap: the offsite copy comes back, is caught up and takes the backups.
    if (swap) onsite = 1 - onsite;
    const target = pair!.copies[onsite]!;
    await run('backup', '--dest', target, '--clean', '--force', ...options(), lib);
    asAt.set(target, fidelity(lib));
    if (swap) catchUps++;
    await checked(target);
    // Now and then a stored disk comes back for a day: apply, check, and the promise.
    let promised = false;
    if (stored.length > 0 && r.chance(0.3)) {
      const vol = r.pick(stored);
      const visit = r.pick(vol.copies);
      await run('apply', '--dest', visit);
      visits++;
      await checked(visit);
      await promise(day);
      promised = true;
    }
    if (day % 30 === 0 && !promised) await promise(day);
    // Now and then the pair is full: it is stored, and a new pair takes over.
    if (r.chance(0.06)) {
      // Both copies hold the latest state before they go to the shelf.
      const other = pair!.copies[1 - onsite]!;
      await run('backup', '--dest', other, '--clean', '--force', ...options(), lib);
    asAt.set(other, fidelity(lib));
      catchUps++;
      await checked(other);
      stored.push(pair!);
      await startPair();
    }
  }
  return { commands, visits, catchUps, disasters };
}

/** A name of 255 bytes (ext4's limit), of two-byte characters or of bytes that are not UTF-8, ending in .bin. */
function longName(n: number, foreign: boolean): string {
  const head = `f${n}-`;
  const fill = 255 - head.length - '.bin'.length;
  return foreign ? `${head}${'\udcff'.repeat(fill)}.bin` : `${head}${'é'.repeat(Math.floor(fill / 2))}${fill % 2 ? 'x' : ''}.bin`;
}

function listFiles(lib: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const ent of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, ent.name);
      if (ent.isDirectory()) walk(full);
      else if (ent.isFile()) out.push(full);
    }
  };
  walk(lib);
  return out.sort();
}

const MODES = [0o600, 0o640, 0o644, 0o444];
const OWNERS = [0, 1000, 1234];

/** One random change of the library. */
function change(
  r: ReturnType<typeof prng>,
  lib: string,
  files: string[],
  newName: (dir?: string) => string,
  writeNew: (p: string, bytes?: number) => void,
  dirs: string[],
  log: (line: string) => void,
  linked: LinkedFolder,
): void {
  const kinds = [
    'add', 'edit', 'delete', 'rename', 'chain', 'swap', 'recreate', 'chmod', 'chown', 'link', 'unlink', 'dup', 'dirmove', 'touch', 'symlink',
    'emptydir', 'privatedir', 'dirchmod', 'dirtouch', 'sparse', 'dirlink',
  ];
  const kind = files.length < 3 ? 'add' : r.pick(kinds);
  const f = files.length > 0 ? r.pick(files) : '';
  const rel = (p: string) => path.relative(lib, p);
  log(`  ${kind} ${f ? rel(f) : ''}`);
  switch (kind) {
    case 'add':
      writeNew(newName());
      break;
    case 'edit':
      fs.writeFileSync(f, crypto.randomBytes(1 + r.int(20_000)));
      break;
    case 'delete':
      fs.rmSync(f);
      break;
    case 'rename':
      fs.renameSync(f, newName());
      break;
    case 'chain': {
      const b = newName();
      fs.renameSync(f, b);
      fs.renameSync(b, newName());
      break;
    }
    case 'swap': {
      const g = r.pick(files);
      if (g === f) break;
      const tmp = path.join(path.dirname(f), `swap${r.int(1e9)}`);
      fs.renameSync(f, tmp);
      fs.renameSync(g, f);
      fs.renameSync(tmp, g);
      break;
    }
    case 'recreate':
      fs.rmSync(f);
      writeNew(f);
      break;
    case 'chmod':
      fs.chmodSync(f, r.pick(MODES));
      break;
    case 'chown':
      if (isRoot) fs.chownSync(f, r.pick(OWNERS), r.pick(OWNERS));
      else fs.chmodSync(f, r.pick(MODES));
      break;
    case 'link':
      fs.linkSync(f, newName());
      break;
    case 'unlink': {
      // A hardlink broken: the name gets a copy of its own (same bytes, another inode).
      if (fs.statSync(f).nlink < 2) {
        fs.linkSync(f, newName());
        break;
      }
      const tmp = path.join(path.dirname(f), `copy${r.int(1e9)}`);
      fs.copyFileSync(f, tmp);
      fs.renameSync(tmp, f);
      break;
    }
    case 'dup': {
      const d = newName();
      fs.copyFileSync(f, d);
      if (r.chance(0.7)) fs.chmodSync(d, r.pick(MODES));
      if (isRoot && r.chance(0.3)) fs.chownSync(d, r.pick(OWNERS), r.pick(OWNERS));
      break;
    }
    case 'dirmove': {
      // A folder renamed: its files may live on several disks.
      const from = r.pick(dirs);
      const to = `${from.split('/')[0]}x${r.int(1000)}`;
      const src = path.join(lib, from);
      if (!fs.existsSync(src) || fs.existsSync(path.join(lib, to))) break;
      fs.renameSync(src, path.join(lib, to));
      dirs[dirs.indexOf(from)] = to;
      break;
    }
    case 'touch': {
      const t = new Date(Date.now() - r.int(1e9));
      fs.utimesSync(f, t, t);
      break;
    }
    case 'symlink': {
      const l = newName().replace(/\.bin$/, '.lnk');
      fs.symlinkSync(rel(f), l);
      break;
    }
    case 'emptydir':
      fs.mkdirSync(path.join(lib, `e${r.int(1000)}`), { recursive: true });
      break;
    case 'privatedir': {
      // A private folder, and a file moved into it.
      const d = path.join(lib, `p${r.int(1000)}`);
      fs.mkdirSync(d, { recursive: true, mode: 0o700 });
      fs.chmodSync(d, 0o700);
      fs.renameSync(f, path.join(d, path.basename(f)));
      break;
    }
    case 'dirchmod':
      fs.chmodSync(path.join(lib, r.pick(dirs)), r.pick([0o700, 0o750, 0o755]));
      break;
    case 'dirtouch': {
      const t = new Date(Date.now() - r.int(1e9));
      fs.utimesSync(path.join(lib, r.pick(dirs)), t, t);
      break;
    }
    case 'sparse': {
      // Data, a hole, data; half of them with a hole at the end too.
      const fd = fs.openSync(newName(), 'w');
      fs.writeSync(fd, crypto.randomBytes(100), 0, 100, 0);
      fs.writeSync(fd, crypto.randomBytes(100), 0, 100, 128 * 1024);
      if (r.chance(0.5)) fs.ftruncateSync(fd, 384 * 1024);
      fs.closeSync(fd);
      break;
    }
    case 'dirlink': {
      // A folder turned into a symlink (its files moved out of the library), and later back.
      if (linked.folder !== undefined) {
        const at = path.join(lib, linked.folder);
        fs.rmSync(at);
        fs.renameSync(linked.away, at);
        dirs.push(linked.folder);
        linked.folder = undefined;
      } else if (dirs.length > 1) {
        const d = r.pick(dirs);
        const at = path.join(lib, d);
        if (!fs.existsSync(at) || dirs.some((x) => x !== d && (x.startsWith(`${d}/`) || d.startsWith(`${x}/`)))) break;
        fs.renameSync(at, linked.away);
        fs.symlinkSync(linked.away, at);
        dirs.splice(dirs.indexOf(d), 1);
        linked.folder = d;
      }
      break;
    }
  }
}

/** The folder the simulation turned into a symlink (to `away`, outside the library), if any. */
interface LinkedFolder {
  away: string;
  folder?: string;
}
