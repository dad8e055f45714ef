import path from 'node:path';
import type { ExclusionFilter } from './exclude.js';
import { FIELD, FIELDS, KIND, errnoName, nativeAddon } from '../fsx/addon.js';
// The real layer by default: the scan also runs in worker threads, which no layer can be handed to.
import { realFs } from '../fsx/fsx.js';
import { pathRange } from '../catalog/range.js';
import { codeOf, errorMessage, listStable, nodeLister, sortedOrder, specialKind, type ScanFs } from './listing.js';
import { CHUNK, stampAt, textDigest, unpack, withTextBytes } from './packed.js';
import type { PackedFolders, PackedScan, RootScan, ScanChunk, SkippedEntry } from './record.js';

export { errorMessage, type ScanFs } from './listing.js';
export { CHUNK, chunkPaths, inodeAt, pack, recordAt, unpack } from './packed.js';

export interface ScanOptions {
  filter?: ExclusionFilter;
  onProgress?: (files: number) => void;
  /** Replaces the real file system (and the native reader); for tests. */
  fs?: ScanFs;
  /** false: lstat through node:fs even when the native reader is built; for tests. */
  native?: boolean;
}

const PROGRESS_EVERY = 4096;

/**
 * A part of a data path, for scanning a tree in several threads: the directory dir (relative path
 * rel, "" or ending in "/"), only its entries named in `names` when given, and the byte-order
 * range [lo, hi) that the part's chunks are to tile.
 */
export interface ScanPart {
  dir: string;
  rel: string;
  names?: string[];
  /**
   * With names: when the listing they came from began (ms since 1970, as listStable says). A dir
   * changed since then may hold entries under names no part has: the part is then not scanned.
   */
  since?: number;
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
  const list = nodeLister(opts.fs ?? realFs);
  const changedAt = (dir: string) => (opts.fs ?? realFs).statSync(dir).ctimeMs;
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
    const text = parts.join('\0');
    const chunk: ScanChunk = { lo, hi, text, count, info: info.slice(0, count * FIELDS), targets, digest: textDigest(text) };
    if (opts.onChunk) opts.onChunk(chunk);
    else chunks.push(chunk);
    lo = hi;
    parts = [];
    targets = [];
    count = 0;
  };
  let folders: PackedFolders[] | undefined;
  const result = (exists: boolean): PackedScan => ({ root: rootPath, exists, complete, skipped, chunks, ...(folders ? { folders } : {}) });

  // The data path itself may be a symlink the user chose (e.g. /srv/media -> /mnt/pool): follow it.
  try {
    if (opts.part === undefined && !(opts.fs ?? realFs).statSync(rootPath).isDirectory()) {
      complete = false;
      return result(false);
    }
  } catch (err) {
    const code = codeOf(err);
    if (code !== 'ENOENT' && code !== 'ENOTDIR') skipped.push({ path: rootPath, reason: 'unreadable', message: errorMessage(code) });
    complete = false;
    return result(false);
  }

  // The folders entered below the part's directory, as the native walk records them (onDirs).
  const folderPaths: string[] = [];
  const folderInfo: number[] = [];
  const walk = (absDir: string, relDir: string, names?: Set<string>, statSelf?: (out: Float64Array) => string | null): void => {
    const stable = listStable(list, absDir, names === undefined ? undefined : part.since, changedAt);
    const listing = typeof stable === 'string' ? stable : stable.listing;
    if (typeof listing === 'string') {
      skipped.push({ path: absDir, reason: 'unreadable', message: errorMessage(listing) });
      complete = false;
      return;
    }
    if (statSelf !== undefined) {
      const own = new Float64Array(FIELDS);
      if (statSelf(own) === null) {
        folderPaths.push(absDir);
        folderInfo.push(...own);
      }
    }
    const prefix = absDir.endsWith('/') ? absDir : absDir + '/';
    for (const i of sortedOrder(listing)) {
      const name = listing.names[i]!;
      if (names !== undefined && !names.has(name)) continue;
      const rel = relDir + name;
      const abs = prefix + name;
      if (listing.isDir(i)) {
        if (filter === undefined || !filter.excludesDir(rel)) walk(abs, rel + '/', undefined, (out) => listing.stat(i, abs, out, 0));
        continue;
      }
      if (filter !== undefined && filter.excludesFile(rel)) continue;

      if (count === chunkSize) close(abs);
      const o = count * FIELDS;
      const failed = listing.stat(i, abs, info, o);
      if (failed !== null) {
        skipped.push({ path: abs, reason: 'unreadable', message: errorMessage(failed) });
        continue;
      }
      const kind = info[o + FIELD.kind];
      if (kind === KIND.dir) {
        // Replaced by a directory since readdir: treat it as the directory it now is.
        const own = info.slice(o, o + FIELDS);
        if (filter === undefined || !filter.excludesDir(rel)) walk(abs, rel + '/', undefined, (out) => (out.set(own), null));
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
    folders = [{ text: folderPaths.join('\0'), count: folderPaths.length, info: Float64Array.from(folderInfo) }];
  } else {
    // The same walk in C (native/scan.c): it hands over whole chunks, and asks only what it cannot decide.
    const excluded = filter === undefined ? null : (rel: string, isDir: boolean) => (isDir ? filter.excludesDir(rel) : filter.excludesFile(rel));
    const onChunk = (text: ArrayBuffer | string, chunkInfo: Float64Array, joinedTargets: string, next: string | null, digest?: ArrayBuffer): void => {
      const n = chunkInfo.length / FIELDS;
      const chunkTargets: [number, string][] = [];
      if (joinedTargets !== '') {
        const list = joinedTargets.split('\0');
        for (let i = 0, t = 0; i < n; i++) if (chunkInfo[i * FIELDS + FIELD.kind] === KIND.symlink) chunkTargets.push([i, list[t++]!]);
      }
      const fields: Omit<ScanChunk, 'text'> = { lo, hi: next ?? part.hi, count: n, info: chunkInfo, targets: chunkTargets };
      if (digest !== undefined) fields.digest = new Uint8Array(digest);
      const chunk = typeof text === 'string' ? { ...fields, text } : withTextBytes(fields, new Uint8Array(text));
      total += n;
      if (opts.onChunk) opts.onChunk(chunk);
      else chunks.push(chunk);
      if (next !== null) lo = next;
    };
    const onSkip = (p: string, errno: number, kind: number, mode: number): void => {
      if (kind === KIND.special) skipped.push({ path: p, reason: 'special', message: specialKind(mode) });
      else skipped.push({ path: p, reason: 'unreadable', message: errorMessage(errnoName(errno)) });
    };
    // The folders come from the same walk (native/scan.c onDirs).
    const onDirs = (text: string, dirInfo: Float64Array): void => {
      folders = [{ text, count: dirInfo.length / FIELDS, info: dirInfo }];
    };
    if (!reader.scanTree(part.dir, part.rel, part.names ?? null, chunkSize, excluded, onChunk, onSkip, onProgress ?? null, part.since ?? 0, onDirs)) complete = false;
  }
  if (onProgress !== undefined) onProgress(total);
  return result(true);
}

/** Walks one data path without following symlinks; never throws for what it finds on disk. */
export function scanRoot(root: string, opts: ScanOptions = {}): RootScan {
  return unpack(scanRootPacked(root, opts));
}
