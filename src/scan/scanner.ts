import * as nodeFs from 'node:fs';
import type { BigIntStats, Dirent, Stats } from 'node:fs';
import path from 'node:path';
import type { ExclusionFilter } from './exclude.js';
import { FIELD, FIELDS, KIND, errnoName, nativeAddon } from '../fsx/addon.js';
import { pathRange } from '../catalog/range.js';
import { stamp } from '../catalog/stamp.js';
import { comparePaths } from '../fsx/paths.js';
import type { FileRecord, PackedScan, RootScan, ScanChunk, SkippedEntry } from './record.js';

/** The few calls the scanner makes; tests swap in failing ones for cases root cannot provoke. */
export interface ScanFs {
  statSync(p: string): Stats;
  readdirSync(p: string, options: { withFileTypes: true }): Dirent[];
  lstatSync(p: string, options: { bigint: true }): BigIntStats;
  readlinkSync(p: string, options: { encoding: 'buffer' }): Buffer;
}

export interface ScanOptions {
  filter?: ExclusionFilter;
  onProgress?: (files: number) => void;
  /** Replaces node:fs (and the native reader); for tests. */
  fs?: ScanFs;
  /** false: lstat through node:fs even when the native reader is built; for tests. */
  native?: boolean;
}

const PROGRESS_EVERY = 4096;
const NS_PER_S = 1_000_000_000n;

const NEEDS_CAREFUL_ORDER = /[\ud800-\uffff]/;

/**
 * Sibling names, each directory's with '/' appended: sorting by that keeps whole paths in byte
 * order ("a b/x" < "a-b" < "a/x" < "a0"), not just names within a level.
 */
function sortedOrder(l: Listing): number[] {
  const n = l.names.length;
  const keys: string[] = new Array(n);
  const order: number[] = new Array(n);
  let careful = false;
  for (let i = 0; i < n; i++) {
    const name = l.names[i]!;
    keys[i] = l.isDir(i) ? name + '/' : name;
    order[i] = i;
    if (!careful && NEEDS_CAREFUL_ORDER.test(name)) careful = true;
  }
  return order.sort(careful ? (a, b) => comparePaths(keys[a]!, keys[b]!) : (a, b) => (keys[a]! < keys[b]! ? -1 : 1));
}

/** One sentence for a failed readdir or lstat, from its error code. */
export function errorMessage(code: string | undefined, name: string): string {
  switch (code) {
    case 'EACCES':
      return 'permission denied';
    case 'EPERM':
      return 'operation not permitted';
    case 'EIO':
      return 'input/output error';
    case 'ENOENT':
    case 'ENOTDIR':
      // Node turns bytes that are not UTF-8 into U+FFFD, so such a name cannot be opened again.
      return name.includes('\ufffd') ? 'has a name that is not valid UTF-8' : 'disappeared during the scan';
    case 'ENAMETOOLONG':
      return 'path is too long';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    default:
      return `cannot be read (${code ?? 'unknown error'})`;
  }
}

function codeOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code ?? (err instanceof Error ? err.message : undefined);
}

const S_IFMT = 0o170000;

function specialKind(mode: number): string {
  switch (mode & S_IFMT) {
    case 0o010000:
      return 'is a FIFO';
    case 0o140000:
      return 'is a socket';
    case 0o020000:
      return 'is a character device';
    case 0o060000:
      return 'is a block device';
    default:
      return 'has an unknown file type';
  }
}

/** One directory's entries; stat fills an entry's FIELDS numbers or says why it cannot. */
interface Listing {
  names: string[];
  /** The directory listing itself says this entry is a directory (no lstat needed). */
  isDir(i: number): boolean;
  /** Fills out[o .. o + FIELDS) with entry i's lstat; returns null, or the error code. */
  stat(i: number, abs: string, out: Float64Array, o: number): string | null;
  /** The target of entry i, after stat found it to be a symlink. */
  target(i: number): string;
}

/** A directory's listing, or the error code that kept it from being read. */
type ListDir = (dir: string) => Listing | string;

const TWO_32 = 0x1_0000_0000n;

function nodeLister(fs: ScanFs): ListDir {
  return (dir) => {
    let dirents: Dirent[];
    try {
      dirents = fs.readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      return codeOf(err) ?? 'unknown error';
    }
    const targets: string[] = [];
    return {
      names: dirents.map((d) => d.name),
      isDir: (i) => dirents[i]!.isDirectory(),
      stat: (i, abs, out, o) => {
        let st: BigIntStats;
        try {
          st = fs.lstatSync(abs, { bigint: true });
        } catch (err) {
          return codeOf(err) ?? 'unknown error';
        }
        let size = Number(st.size);
        let kind: number = KIND.special;
        if (st.isFile()) kind = KIND.file;
        else if (st.isDirectory()) kind = KIND.dir;
        else if (st.isSymbolicLink()) {
          let target: Buffer;
          try {
            target = fs.readlinkSync(abs, { encoding: 'buffer' });
          } catch (err) {
            return codeOf(err) ?? 'unknown error';
          }
          kind = KIND.symlink;
          size = target.length;
          targets[i] = target.toString('utf8');
        }
        // Floor division keeps the nanoseconds in 0..999999999 for times before 1970 as well.
        let sec = st.mtimeNs / NS_PER_S;
        let nsec = st.mtimeNs % NS_PER_S;
        if (nsec < 0n) {
          nsec += NS_PER_S;
          sec -= 1n;
        }
        out[o + FIELD.kind] = kind;
        out[o + FIELD.errno] = 0;
        out[o + FIELD.mode] = Number(st.mode);
        out[o + FIELD.size] = size;
        out[o + FIELD.mtimeSec] = Number(sec);
        out[o + FIELD.mtimeNsec] = Number(nsec);
        out[o + FIELD.dev] = Number(st.dev);
        out[o + FIELD.inoHi] = Number(st.ino / TWO_32);
        out[o + FIELD.inoLo] = Number(st.ino % TWO_32);
        out[o + FIELD.nlink] = Number(st.nlink);
        out[o + FIELD.uid] = Number(st.uid);
        out[o + FIELD.gid] = Number(st.gid);
        return null;
      },
      target: (i) => targets[i]!,
    };
  };
}

/**
 * Files per chunk of a packed scan: small enough to compare while the scan goes on, big enough to
 * query seldom. BLAINE_SCAN_CHUNK sets it, for tests that want many chunks from a small tree.
 */
export const CHUNK = Number.parseInt(process.env.BLAINE_SCAN_CHUNK ?? '', 10) > 0 ? Number.parseInt(process.env.BLAINE_SCAN_CHUNK!, 10) : 16384;

/**
 * A part of a data path, for scanning a tree in several threads: the directory dir (relative path
 * rel, "" or ending in "/"), only its entries named in `names` when given, and the byte-order
 * range [lo, hi) that the part's chunks are to tile.
 */
export interface ScanPart {
  dir: string;
  rel: string;
  names?: string[];
  lo: string;
  hi: string;
}

export interface PackedScanOptions extends ScanOptions {
  /** Only this part of the data path (whose existence the caller checked). */
  part?: ScanPart;
  /** Each chunk as soon as it is complete (the scan's own list of chunks is then left empty). */
  onChunk?: (chunk: ScanChunk) => void;
  /** Files per chunk (CHUNK); for tests. */
  chunkSize?: number;
}

/** Walks one data path without following symlinks; never throws for what it finds on disk. */
export function scanRootPacked(root: string, opts: PackedScanOptions = {}): PackedScan {
  const filter = opts.filter !== undefined && !opts.filter.empty ? opts.filter : undefined;
  const onProgress = opts.onProgress;
  const reader = opts.fs === undefined && opts.native !== false ? nativeAddon() : null;
  const list = nodeLister(opts.fs ?? nodeFs);
  const rootPath = path.resolve(root);
  const [rootLo, rootHi] = pathRange(rootPath);
  const part: ScanPart = opts.part ?? { dir: rootPath, rel: '', lo: rootLo, hi: rootHi };
  const only = part.names ? new Set(part.names) : undefined;
  const chunks: ScanChunk[] = [];
  const skipped: SkippedEntry[] = [];
  let complete = true;
  let total = 0;

  // The chunk being filled; it is closed when the next file (its upper bound) or the end comes.
  let lo = part.lo;
  const chunkSize = opts.chunkSize ?? CHUNK;
  // The C walk packs its own chunks: only the JS walk fills this one.
  const info = new Float64Array(reader === null ? FIELDS * chunkSize : 0);
  let parts: string[] = [];
  let targets: [number, string][] = [];
  let count = 0;
  const close = (hi: string): void => {
    const chunk: ScanChunk = { lo, hi, text: parts.join('\0'), count, info: info.slice(0, count * FIELDS), targets };
    if (opts.onChunk) opts.onChunk(chunk);
    else chunks.push(chunk);
    lo = hi;
    parts = [];
    targets = [];
    count = 0;
  };
  const result = (exists: boolean): PackedScan => ({ root: rootPath, exists, complete, skipped, chunks });

  // The data path itself may be a symlink the user chose (e.g. /srv/media -> /mnt/pool): follow it.
  try {
    if (opts.part === undefined && !(opts.fs ?? nodeFs).statSync(rootPath).isDirectory()) {
      complete = false;
      return result(false);
    }
  } catch (err) {
    const code = codeOf(err);
    if (code !== 'ENOENT' && code !== 'ENOTDIR') skipped.push({ path: rootPath, reason: 'unreadable', message: errorMessage(code, rootPath) });
    complete = false;
    return result(false);
  }

  const walk = (absDir: string, relDir: string, names?: Set<string>): void => {
    const listing = list(absDir);
    if (typeof listing === 'string') {
      skipped.push({ path: absDir, reason: 'unreadable', message: errorMessage(listing, absDir) });
      complete = false;
      return;
    }
    const prefix = absDir.endsWith('/') ? absDir : absDir + '/';
    for (const i of sortedOrder(listing)) {
      const name = listing.names[i]!;
      if (names !== undefined && !names.has(name)) continue;
      const rel = relDir + name;
      const abs = prefix + name;
      if (listing.isDir(i)) {
        if (filter === undefined || !filter.excludesDir(rel)) walk(abs, rel + '/');
        continue;
      }
      if (filter !== undefined && filter.excludesFile(rel)) continue;

      if (count === chunkSize) close(abs);
      const o = count * FIELDS;
      const failed = listing.stat(i, abs, info, o);
      if (failed !== null) {
        skipped.push({ path: abs, reason: 'unreadable', message: errorMessage(failed, name) });
        continue;
      }
      const kind = info[o + FIELD.kind];
      if (kind === KIND.dir) {
        // Replaced by a directory since readdir: treat it as the directory it now is.
        if (filter === undefined || !filter.excludesDir(rel)) walk(abs, rel + '/');
        continue;
      }
      if (kind !== KIND.file && kind !== KIND.symlink) {
        skipped.push({ path: abs, reason: 'special', message: specialKind(info[o + FIELD.mode]!) });
        continue;
      }
      let target: string | undefined;
      if (kind === KIND.symlink) {
        target = listing.target(i);
        targets.push([count, target]);
      }
      parts.push(abs, stampAt(info, count, target));
      count++;
      total++;
      if (onProgress !== undefined && total % PROGRESS_EVERY === 0) onProgress(total);
    }
  };

  if (reader === null) {
    walk(part.dir, part.rel, only);
    close(part.hi);
  } else {
    // The same walk in C (native/scan.c): it hands over whole chunks, and asks only what it cannot decide.
    const excluded = filter === undefined ? null : (rel: string, isDir: boolean) => (isDir ? filter.excludesDir(rel) : filter.excludesFile(rel));
    const onChunk = (text: string, chunkInfo: Float64Array, joinedTargets: string, next: string | null): void => {
      const n = chunkInfo.length / FIELDS;
      const chunkTargets: [number, string][] = [];
      if (joinedTargets !== '') {
        const list = joinedTargets.split('\0');
        for (let i = 0, t = 0; i < n; i++) if (chunkInfo[i * FIELDS + FIELD.kind] === KIND.symlink) chunkTargets.push([i, list[t++]!]);
      }
      const chunk: ScanChunk = { lo, hi: next ?? part.hi, text, count: n, info: chunkInfo, targets: chunkTargets };
      total += n;
      if (opts.onChunk) opts.onChunk(chunk);
      else chunks.push(chunk);
      if (next !== null) lo = next;
    };
    const onSkip = (p: string, errno: number, kind: number, mode: number): void => {
      if (kind === KIND.special) skipped.push({ path: p, reason: 'special', message: specialKind(mode) });
      else if (kind === KIND.badName) skipped.push({ path: p, reason: 'unreadable', message: 'has a name that is not valid UTF-8' });
      else skipped.push({ path: p, reason: 'unreadable', message: errorMessage(errnoName(errno), p) });
    };
    if (!reader.scanTree(part.dir, part.rel, part.names ?? null, chunkSize, excluded, onChunk, onSkip, onProgress ?? null)) complete = false;
  }
  if (onProgress !== undefined) onProgress(total);
  return result(true);
}

/** The stamp (catalog/stamp.ts) of the file at index i of a chunk's numbers. */
function stampAt(info: Float64Array, i: number, target: string | undefined): string {
  const o = i * FIELDS;
  return stamp(
    info[o + FIELD.kind] === KIND.symlink ? 'symlink' : 'file',
    info[o + FIELD.size]!, info[o + FIELD.mtimeSec]!, info[o + FIELD.mtimeNsec]!, inodeAt(info, i),
    info[o + FIELD.mode]!, info[o + FIELD.uid]!, info[o + FIELD.gid]!, target,
  );
}

/** "dev:ino", exactly, also for inode numbers beyond 2^53. */
export function inodeAt(info: Float64Array, i: number): string {
  const o = i * FIELDS;
  const hi = info[o + FIELD.inoHi]!;
  const lo = info[o + FIELD.inoLo]!;
  const ino = hi < 0x200000 ? String(hi * 0x1_0000_0000 + lo) : String((BigInt(hi) << 32n) | BigInt(lo));
  return `${info[o + FIELD.dev]}:${ino}`;
}

/** The paths of a chunk, in order. */
export function chunkPaths(chunk: ScanChunk): string[] {
  if (chunk.count === 0) return [];
  const parts = chunk.text.split('\0');
  const paths: string[] = new Array(chunk.count);
  for (let i = 0; i < chunk.count; i++) paths[i] = parts[2 * i]!;
  return paths;
}

/** The record at index i of a chunk whose paths are `paths`. */
export function recordAt(chunk: ScanChunk, paths: string[], i: number, target?: string): FileRecord {
  const info = chunk.info;
  const o = i * FIELDS;
  const rec: FileRecord = {
    path: paths[i]!,
    kind: info[o + FIELD.kind] === KIND.symlink ? 'symlink' : 'file',
    size: info[o + FIELD.size]!,
    mtimeSec: info[o + FIELD.mtimeSec]!,
    mtimeNsec: info[o + FIELD.mtimeNsec]!,
    inode: inodeAt(info, i),
    nlink: info[o + FIELD.nlink]!,
    mode: info[o + FIELD.mode]!,
    uid: info[o + FIELD.uid]!,
    gid: info[o + FIELD.gid]!,
  };
  if (target !== undefined) rec.linkTarget = target;
  return rec;
}

/** Every record of a packed scan, unpacked. */
export function unpack(scan: PackedScan): RootScan {
  const records: FileRecord[] = [];
  for (const chunk of scan.chunks) {
    const paths = chunkPaths(chunk);
    const targets = new Map(chunk.targets);
    for (let i = 0; i < chunk.count; i++) records.push(recordAt(chunk, paths, i, targets.get(i)));
  }
  return { root: scan.root, exists: scan.exists, complete: scan.complete, records, skipped: scan.skipped };
}

/** Walks one data path without following symlinks; never throws for what it finds on disk. */
export function scanRoot(root: string, opts: ScanOptions = {}): RootScan {
  return unpack(scanRootPacked(root, opts));
}

/**
 * Records packed the way the scanner packs them (the inverse of unpack), in chunks of `chunk`
 * files; for tests and tools. The records must be in byte order.
 */
export function pack(scan: RootScan, chunk = CHUNK): PackedScan {
  const [rootLo, rootHi] = pathRange(scan.root);
  const chunks: ScanChunk[] = [];
  for (let start = 0; start < scan.records.length || (start === 0 && chunks.length === 0); start += chunk) {
    const recs = scan.records.slice(start, start + chunk);
    const info = new Float64Array(recs.length * FIELDS);
    const targets: [number, string][] = [];
    const parts: string[] = [];
    recs.forEach((r, i) => {
      const o = i * FIELDS;
      const [dev, ino] = r.inode.split(':');
      const n = BigInt(ino ?? '0');
      info[o + FIELD.kind] = r.kind === 'symlink' ? KIND.symlink : KIND.file;
      info[o + FIELD.mode] = r.mode;
      info[o + FIELD.size] = r.size;
      info[o + FIELD.mtimeSec] = r.mtimeSec;
      info[o + FIELD.mtimeNsec] = r.mtimeNsec;
      info[o + FIELD.dev] = Number(dev);
      info[o + FIELD.inoHi] = Number(n / TWO_32);
      info[o + FIELD.inoLo] = Number(n % TWO_32);
      info[o + FIELD.nlink] = r.nlink;
      info[o + FIELD.uid] = r.uid;
      info[o + FIELD.gid] = r.gid;
      if (r.linkTarget !== undefined) targets.push([i, r.linkTarget]);
      parts.push(r.path, stampAt(info, i, r.linkTarget));
    });
    const next = scan.records[start + chunk];
    chunks.push({ lo: start === 0 ? rootLo : recs[0]!.path, hi: next ? next.path : rootHi, text: parts.join('\0'), count: recs.length, info, targets });
    if (recs.length === 0) break;
  }
  return { root: scan.root, exists: scan.exists, complete: scan.complete, skipped: scan.skipped, chunks };
}
