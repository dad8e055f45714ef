/**
 * A data path and the directories below it, each with its own lstat (SPEC §3: directories are archived
 * too, empty ones included). The file scan (scan/) lists only files and symlinks; this walk reads
 * directory entries without stat-ing files, so it costs a readdir per directory and one lstat per
 * directory. Names are read as bytes (fsx/name-bytes.ts), symlinks are never followed, and
 * excluded directories (SnapRAID rules, scan/exclude.ts) are left out with everything below them.
 */
// The scan runs before any disk is open and reads only the library: the real file system, as the file scanner does.
import { realFs as nodeFs, type BigIntStats, type Dirent, type Stats } from '../fsx/fsx.js';
import { FIELD, FIELDS, nativeAddon } from '../fsx/addon.js';
import type { ExclusionFilter } from '../scan/exclude.js';
import type { PackedScan } from '../scan/record.js';
import { inodeAt } from '../scan/packed.js';
import { bytesToName } from '../fsx/name-bytes.js';
import { comparePaths } from '../fsx/paths.js';

/** One directory as lstat saw it. */
export interface DirRecord {
  path: string;
  mode: number;
  uid: number;
  gid: number;
  mtimeSec: number;
  mtimeNsec: number;
  /** "dev:ino" on the data disk (null: not known, a row taken from a catalog). */
  inode: string | null;
}

export interface DirScan {
  root: string;
  /** The root and every directory below it, parents before their children (byte order of paths). */
  dirs: DirRecord[];
  /** False when some directory could not be listed, or the root is missing: nothing under it may be taken as gone. */
  complete: boolean;
}

const NS_PER_S = 1_000_000_000n;

/** The record of a directory from its bigint lstat. */
export function dirRecordOf(p: string, st: BigIntStats): DirRecord {
  let sec = st.mtimeNs / NS_PER_S;
  let nsec = st.mtimeNs % NS_PER_S;
  if (nsec < 0n) {
    nsec += NS_PER_S;
    sec -= 1n;
  }
  return {
    path: p, mode: Number(st.mode), uid: Number(st.uid), gid: Number(st.gid),
    mtimeSec: Number(sec), mtimeNsec: Number(nsec), inode: `${st.dev}:${st.ino}`,
  };
}

export function scanDirs(root: string, filter?: ExclusionFilter): DirScan {
  const dirs: DirRecord[] = [];
  let complete = true;
  const active = filter !== undefined && !filter.empty ? filter : undefined;
  const walk = (abs: string, rel: string): void => {
    const names = subdirNames(abs);
    if (names === null) {
      complete = false;
      return;
    }
    for (const name of names) {
      const childRel = rel + name;
      if (active !== undefined && active.excludesDir(childRel)) continue;
      const child = abs === '/' ? `/${name}` : `${abs}/${name}`;
      let st: BigIntStats;
      try {
        st = nodeFs.lstatSync(child, { bigint: true });
      } catch {
        complete = false;
        continue;
      }
      // Replaced by a file or symlink since the listing: the file scan sees what it is now.
      if (!st.isDirectory()) continue;
      dirs.push(dirRecordOf(child, st));
      walk(child, childRel + '/');
    }
  };
  const own = rootRecord(root);
  if (own === null) return { root, dirs, complete: false };
  dirs.push(own);
  walk(root, '');
  dirs.sort((a, b) => comparePaths(a.path, b.path));
  return { root, dirs, complete };
}

/** The data path's own record: it is a directory of the library too (a symlink the user chose is followed); null when it is none. */
function rootRecord(root: string): DirRecord | null {
  try {
    const st = nodeFs.statSync(root, { bigint: true });
    return st.isDirectory() ? dirRecordOf(root, st) : null;
  } catch {
    return null;
  }
}

/**
 * A data path's folders as its file scan found them (scan/record.ts `folders`: both walks record
 * every folder they enter, the native one from an fstat of the folder it opened), or null when
 * the scan did not (an addon built before that): scanDirs lists them then. What the walk cannot see
 * itself is read here: the data path (followed if a symlink, as scanDirs does) and the folders the
 * scan's planning cut into parts. A scan that is not complete makes the folders' scan not complete.
 */
export function dirScanFromFiles(scan: PackedScan): DirScan | null {
  if (scan.folders === undefined) return null;
  const root = scan.root;
  const dirs: DirRecord[] = [];
  if (!scan.exists) return { root, dirs, complete: false };
  let complete = scan.complete;
  const own = rootRecord(root);
  if (own === null) return { root, dirs, complete: false };
  dirs.push(own);
  for (const p of scan.openedFolders ?? []) {
    try {
      const st = nodeFs.lstatSync(p, { bigint: true });
      if (st.isDirectory()) dirs.push(dirRecordOf(p, st));
    } catch {
      complete = false;
    }
  }
  for (const f of scan.folders) {
    if (f.count === 0) continue;
    const paths = f.text.split('\0');
    const info = f.info;
    for (let i = 0; i < f.count; i++) {
      const o = i * FIELDS;
      dirs.push({
        path: paths[i]!, mode: info[o + FIELD.mode]!, uid: info[o + FIELD.uid]!, gid: info[o + FIELD.gid]!,
        mtimeSec: info[o + FIELD.mtimeSec]!, mtimeNsec: info[o + FIELD.mtimeNsec]!, inode: inodeAt(info, i),
      });
    }
  }
  dirs.sort((a, b) => comparePaths(a.path, b.path));
  return { root, dirs, complete };
}

/**
 * The names of dir's subdirectories, or null when it cannot be listed. The addon lists them in C:
 * a library of small files would otherwise cost a JS object per file here (a tenth of a no-change
 * run at 25,000 files, growing with the files, not the folders).
 */
function subdirNames(dir: string): string[] | null {
  const addon = nativeAddon();
  if (typeof addon?.subdirs === 'function') {
    const names = addon.subdirs(dir);
    return typeof names === 'number' ? null : names;
  }
  try {
    const entries = nodeFs.readdirSync(dir, { withFileTypes: true, encoding: 'buffer' }) as unknown as Dirent[];
    return entries.filter((d) => d.isDirectory()).map((d) => bytesToName(d.name as unknown as Buffer));
  } catch {
    return null;
  }
}

/** lstat of a library path (by its bytes), or null when it is not there. */
export function lstatOrNull(p: string): Stats | null {
  try {
    return nodeFs.lstatSync(p);
  } catch {
    return null;
  }
}
