import * as nodeFs from 'node:fs';
import type { BigIntStats, Dirent, Stats } from 'node:fs';
import path from 'node:path';
import type { ExclusionFilter } from './exclude.js';
import type { FileRecord, RootScan, SkippedEntry } from './record.js';

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
  /** Replaces node:fs; for tests. */
  fs?: ScanFs;
}

const PROGRESS_EVERY = 4096;
const NS_PER_S = 1_000_000_000n;

/**
 * Orders paths by their UTF-8 bytes, the order scanRoot returns records in (also SQLite's
 * BINARY collation). JS string comparison agrees except where a character beyond U+FFFF
 * (a surrogate pair) meets one in U+E000..U+FFFF.
 */
export function comparePaths(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === n) return a.length - b.length;
  const x = a.charCodeAt(i);
  const y = b.charCodeAt(i);
  const xs = x >= 0xd800 && x <= 0xdfff;
  const ys = y >= 0xd800 && y <= 0xdfff;
  if (xs && !ys) return 1;
  if (ys && !xs) return -1;
  return x - y;
}

const NEEDS_CAREFUL_ORDER = /[\ud800-\uffff]/;

/**
 * Sibling names, each directory's with '/' appended: sorting by that keeps whole paths in byte
 * order ("a b/x" < "a-b" < "a/x" < "a0"), not just names within a level.
 */
function sortedKeys(dirents: Dirent[]): string[] {
  const keys: string[] = new Array(dirents.length);
  let careful = false;
  for (let i = 0; i < dirents.length; i++) {
    const d = dirents[i];
    keys[i] = d.isDirectory() ? d.name + '/' : d.name;
    if (!careful && NEEDS_CAREFUL_ORDER.test(d.name)) careful = true;
  }
  return careful ? keys.sort(comparePaths) : keys.sort();
}

function errorMessage(err: unknown, name: string): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
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
      return `cannot be read (${code ?? (err instanceof Error ? err.message : String(err))})`;
  }
}

function specialKind(st: BigIntStats): string {
  if (st.isFIFO()) return 'is a FIFO';
  if (st.isSocket()) return 'is a socket';
  if (st.isCharacterDevice()) return 'is a character device';
  if (st.isBlockDevice()) return 'is a block device';
  return 'has an unknown file type';
}

/** Walks one data path without following symlinks; never throws for what it finds on disk. */
export function scanRoot(root: string, opts: ScanOptions = {}): RootScan {
  const fs: ScanFs = opts.fs ?? nodeFs;
  const filter = opts.filter !== undefined && !opts.filter.empty ? opts.filter : undefined;
  const onProgress = opts.onProgress;
  const rootPath = path.resolve(root);
  const records: FileRecord[] = [];
  const skipped: SkippedEntry[] = [];
  let complete = true;

  // The data path itself may be a symlink the user chose (e.g. /srv/media -> /mnt/pool): follow it.
  try {
    if (!fs.statSync(rootPath).isDirectory()) return { root: rootPath, exists: false, complete: false, records, skipped };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') {
      skipped.push({ path: rootPath, reason: 'unreadable', message: errorMessage(err, rootPath) });
    }
    return { root: rootPath, exists: false, complete: false, records, skipped };
  }

  const walk = (absDir: string, relDir: string): void => {
    let dirents: Dirent[];
    try {
      dirents = fs.readdirSync(absDir, { withFileTypes: true });
    } catch (err) {
      skipped.push({ path: absDir, reason: 'unreadable', message: errorMessage(err, absDir) });
      complete = false;
      return;
    }
    const keys = sortedKeys(dirents);

    const prefix = absDir.endsWith('/') ? absDir : absDir + '/';
    for (const key of keys) {
      const isDir = key.endsWith('/');
      const name = isDir ? key.slice(0, -1) : key;
      const rel = relDir + name;
      const abs = prefix + name;
      if (isDir) {
        if (filter === undefined || !filter.excludesDir(rel)) walk(abs, rel + '/');
        continue;
      }
      if (filter !== undefined && filter.excludesFile(rel)) continue;

      let st: BigIntStats;
      try {
        st = fs.lstatSync(abs, { bigint: true });
      } catch (err) {
        skipped.push({ path: abs, reason: 'unreadable', message: errorMessage(err, name) });
        continue;
      }

      let kind: FileRecord['kind'];
      let size: number;
      let linkTarget: string | undefined;
      if (st.isFile()) {
        kind = 'file';
        size = Number(st.size);
      } else if (st.isSymbolicLink()) {
        let target: Buffer;
        try {
          target = fs.readlinkSync(abs, { encoding: 'buffer' });
        } catch (err) {
          skipped.push({ path: abs, reason: 'unreadable', message: errorMessage(err, name) });
          continue;
        }
        kind = 'symlink';
        size = target.length;
        linkTarget = target.toString('utf8');
      } else if (st.isDirectory()) {
        // Replaced by a directory since readdir: treat it as the directory it now is.
        if (filter === undefined || !filter.excludesDir(rel)) walk(abs, rel + '/');
        continue;
      } else {
        skipped.push({ path: abs, reason: 'special', message: specialKind(st) });
        continue;
      }

      // Floor division keeps mtimeNsec in 0..999999999 for times before 1970 as well.
      let sec = st.mtimeNs / NS_PER_S;
      let nsec = st.mtimeNs % NS_PER_S;
      if (nsec < 0n) {
        nsec += NS_PER_S;
        sec -= 1n;
      }
      const rec: FileRecord = {
        path: abs,
        kind,
        size,
        mtimeSec: Number(sec),
        mtimeNsec: Number(nsec),
        inode: `${st.dev}:${st.ino}`,
        nlink: Number(st.nlink),
        mode: Number(st.mode),
        uid: Number(st.uid),
        gid: Number(st.gid),
      };
      if (linkTarget !== undefined) rec.linkTarget = linkTarget;
      records.push(rec);
      if (onProgress !== undefined && records.length % PROGRESS_EVERY === 0) onProgress(records.length);
    }
  };

  walk(rootPath, '');
  if (onProgress !== undefined) onProgress(records.length);
  return { root: rootPath, exists: true, complete, records, skipped };
}
