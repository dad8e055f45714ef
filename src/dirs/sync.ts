/**
 * A backup's directories (SPEC §3, §5): each directory below a data path is a catalog row of kind
 * 'dir' (mode, owner, mtime to the ns) and a directory on the disk, empty ones included.
 *
 * planDirs decides, from the scan and the disk catalog, what a run does (pure); DirWriter carries
 * it out in two steps around the file pipeline:
 *  - before it, a directory that the file pipeline would make wider than its own mode is made
 *    with its own permission bits (plus the owner's rwx, so that files can be written into it): a
 *    private folder is never wider than private, not even for a moment; a folder whose mode
 *    narrowed is narrowed before anything goes in;
 *  - after it, directories gone from the library are removed (with --clean, and only when empty),
 *    the missing ones (empty folders among them) are made, then every directory gets its exact
 *    mode, owner and mtime, deepest first (writing into a
 *    directory changes its mtime, setting a child's does not), and only then its row is written.
 * No journal is needed: each step is idempotent, and a row is written only after its directory is
 * as the row says, so a run that crashes anywhere is completed by the next one.
 */
import path from 'node:path';
import type { BigIntStats } from '../fsx/fsx.js';
import type { Catalog } from '../catalog/catalog.js';
import type { CatalogEntry } from '../catalog/entry.js';
import { errCode } from '../fsx/errno.js';
import { isRoot, type Fsx } from '../fsx/fsx.js';
import { fsPath } from '../fsx/name-bytes.js';
import type { ExclusionFilter } from '../scan/exclude.js';
import { dirRecordOf, type DirRecord, type DirScan } from './scan.js';
import { currentDirs } from './current.js';
import { comparePaths } from '../fsx/paths.js';
import { pathRange } from '../catalog/range.js';

export interface DirCounts {
  /** New directories (absent from the disk catalog). */
  added: number;
  /** Directories whose mode, owner or mtime changed. */
  updated: number;
  /** Directories gone from the library and removed (--clean). */
  removed: number;
  /** Directories gone from the library and kept (no --clean, excluded now, or not complete). */
  kept: number;
}

export interface DirPlan {
  /** Every scanned directory, parents first: each is made (if missing) and given its metadata. */
  wanted: DirRecord[];
  /** Catalogued directories gone from the library that the run removes, deepest first. */
  remove: CatalogEntry[];
  /**
   * Catalogued directories at or below a path that is now a file or symlink (SPEC §5: a change of
   * kind is a replacement), deepest first: removed from the disk before the files when empty, so
   * that the new object can take the path; what is stored below them follows the former-folder rules.
   */
  replaced: CatalogEntry[];
  counts: DirCounts;
}

const PERMS = 0o7777;

function sameMeta(e: CatalogEntry, d: DirRecord): boolean {
  return (
    (e.mode & PERMS) === (d.mode & PERMS) && e.uid === d.uid && e.gid === d.gid &&
    e.mtimeSec === d.mtimeSec && e.mtimeNsec === d.mtimeNsec
  );
}

export function dirEntry(volume: string, d: DirRecord): CatalogEntry {
  return {
    path: d.path, volume, kind: 'dir', size: 0, mtimeSec: d.mtimeSec, mtimeNsec: d.mtimeNsec, inode: d.inode,
    sha256: null, mode: d.mode, uid: d.uid, gid: d.gid, linkTarget: null, parityName: null, verifiedAt: null,
  };
}

/**
 * What the run does with directories. `catalogued`: the volume's directory rows under each scanned
 * root; `excluded(p)`: whether a catalogued path is excluded now (kept, never gone); `mayRemove`:
 * false when the mass-delete guard held the run's removals back.
 */
export function planDirs(
  scans: DirScan[],
  catalogued: (root: string) => CatalogEntry[],
  o: { clean: boolean; excluded(p: string): boolean; mayRemove: boolean; replacedNow?(root: string, p: string): boolean },
): DirPlan {
  const counts: DirCounts = { added: 0, updated: 0, removed: 0, kept: 0 };
  const wanted: DirRecord[] = [];
  const remove: CatalogEntry[] = [];
  const replaced: CatalogEntry[] = [];
  for (const scan of scans) {
    const rows = new Map(catalogued(scan.root).map((e) => [e.path, e]));
    for (const d of scan.dirs) {
      wanted.push(d);
      const row = rows.get(d.path);
      if (row === undefined) counts.added++;
      else if (!sameMeta(row, d)) counts.updated++;
      rows.delete(d.path);
    }
    // What is left was catalogued and is no longer a directory of the library.
    for (const e of rows.values()) {
      if (scan.complete && o.replacedNow?.(scan.root, e.path)) {
        replaced.push(e);
        counts.removed++;
      } else if (o.clean && scan.complete && o.mayRemove && !o.excluded(e.path)) {
        remove.push(e);
        counts.removed++;
      } else counts.kept++;
    }
  }
  const deepestFirst = (a: CatalogEntry, b: CatalogEntry) => (a.path < b.path ? 1 : a.path > b.path ? -1 : 0);
  remove.sort(deepestFirst);
  replaced.sort(deepestFirst);
  return { wanted, remove, replaced, counts };
}

/**
 * Whether the library path `p` (below `root`), or a folder on its way, is now a file or symlink:
 * the directory it was has been replaced. lstat of each component in turn (null: not there).
 */
export function replacedBelow(root: string, p: string, lstat: (p: string) => { isDirectory(): boolean } | null): boolean {
  for (let i = p.indexOf('/', root.length + 1); ; i = p.indexOf('/', i + 1)) {
    const st = lstat(i === -1 ? p : p.slice(0, i));
    if (st === null) return false;
    if (!st.isDirectory()) return true;
    if (i === -1) return false;
  }
}

/** lstat of a path on a disk, or null when nothing is there. */
export function lstatOnDisk(where: string, fs: Fsx): BigIntStats | null {
  try {
    return fs.lstatSync(fsPath(where), { bigint: true }) as BigIntStats;
  } catch (err) {
    if (errCode(err) === 'ENOENT' || errCode(err) === 'ENOTDIR') return null;
    throw err;
  }
}

/** Folders a run writes rows for, beyond which finish reads the volume's folder rows at once. */
const MANY_FOLDERS = 64;

/** Carries out a DirPlan on the disk at `root`, recording rows in both catalogs. */
export class DirWriter {
  /**
   * What makeNarrowFirst's lstat found of each wanted folder that it left as it was (null: none
   * there), for a finish after a file pipeline that wrote nothing: one look at each folder, not two.
   */
  private readonly looked = new Map<string, BigIntStats | null>();

  constructor(
    private readonly o: { root: string; volume: string; disk: Catalog; host: Catalog; fs: Fsx; warn(msg: string): void },
  ) {}

  private onDisk(p: string): string {
    return path.join(this.o.root, p);
  }

  private lstat(where: string): BigIntStats | null {
    return lstatOnDisk(where, this.o.fs);
  }

  /**
   * Makes the directory on the disk when it is missing, with its own permission bits plus the
   * owner's rwx (files may go in now: finish gives the exact mode): a private folder is never wider
   * than private, not even for a moment. Its parents are made first (they are wanted too, or lie
   * above the data path).
   */
  private make(d: DirRecord): void {
    const { fs } = this.o;
    const where = this.onDisk(d.path);
    const working = (d.mode & PERMS) | 0o700;
    if (this.lstat(path.dirname(where)) === null) fs.mkdirSync(fsPath(path.dirname(where)), { recursive: true, mode: 0o755 });
    fs.mkdirSync(fsPath(where), { mode: working });
    // mkdir's mode passes through the umask: the exact bits come with chmod.
    fs.chmodSync(fsPath(where), working);
    if (isRoot) fs.lchownSync(fsPath(where), d.uid, d.gid);
  }

  /**
   * Before the files: replaced folders go (when empty), and no folder is wider than its own mode
   * while files go in. One the file pipeline would make wider than its mode (it makes missing
   * folders with the umask's mode) is made now, with its own; the others are made on demand or by
   * finish, so that a run that fills the disk spends no room on folders it never fills (and stops
   * where its dry run says).
   */
  makeNarrowFirst(plan: DirPlan): void {
    const { fs } = this.o;
    this.removeEmpty(plan.replaced);
    const usual = 0o777 & ~process.umask();
    this.looked.clear();
    let changed = false;
    for (const d of plan.wanted) {
      const where = this.onDisk(d.path);
      const working = (d.mode & PERMS) | 0o700;
      try {
        const st = this.lstat(where);
        let touched = false;
        if (st === null) {
          if ((usual & ~d.mode & 0o077) !== 0) {
            this.make(d);
            touched = true;
          }
        } else if (st.isDirectory()) {
          // Narrowed in the library: narrow it before anything new goes in.
          if ((Number(st.mode) & PERMS & ~working & 0o077) !== 0) {
            fs.chmodSync(fsPath(where), working);
            touched = true;
          }
          if (isRoot && (Number(st.uid) !== d.uid || Number(st.gid) !== d.gid)) {
            fs.lchownSync(fsPath(where), d.uid, d.gid);
            touched = true;
          }
        }
        // A file or symlink there: the file pipeline (former-folder rules) decides; finish looks again.
        if (touched) changed = true;
        else this.looked.set(d.path, st);
      } catch (err) {
        changed = true;
        this.o.warn(`${d.path}: the folder could not be made on the disk (${errCode(err) ?? String(err)})`);
      }
    }
    // A folder made here moved its parent's mtime: finish looks at every folder again.
    if (changed) this.looked.clear();
  }

  /**
   * Removes folders gone from the library (deepest first) from the disk when they are empty, and
   * their rows. One that is not empty (something Blaine keeps, or did not write, is inside) stays on
   * the disk; the library has no such folder any more, so its row goes all the same.
   */
  private removeEmpty(gone: CatalogEntry[]): void {
    const { fs, disk, host, volume } = this.o;
    for (const e of gone) {
      try {
        fs.rmdirSync(fsPath(this.onDisk(e.path)));
      } catch (err) {
        const code = errCode(err);
        if (code !== 'ENOENT' && code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOTDIR') {
          this.o.warn(`${e.path}: the folder could not be removed from the disk (${code ?? String(err)})`);
          continue;
        }
      }
      disk.transaction(() => removeDirRow(disk, volume, e.path));
      host.transaction(() => removeDirRow(host, volume, e.path));
    }
  }

  /** After the files: removals, then every directory's exact metadata deepest first, then its rows. */
  /**
   * `confirmedAt` (ms): the rows are the library's folders as of now (a backup's scan, a settle
   * from the host's current folders): the volume's top folder rows carry that time in their
   * verified_at, which says whose rows are newest (dirs/current.ts). A clone or verify --fix only
   * puts the disk's own rows back and leaves it. `known.rows`: the volume's folder rows as the
   * caller read them (readFolderRows), when nothing wrote folder rows since: not read again here.
   * `known.diskUntouched`: nothing was written on the disk since makeNarrowFirst (no operation
   * applied): what it saw of each folder still holds.
   */
  finish(plan: DirPlan, confirmedAt?: number, known: { rows?: FolderRows; diskUntouched?: boolean } = {}): void {
    const { fs, disk, host, volume } = this.o;
    // A folder removed here moves its parent's mtime.
    const lookedHolds = known.diskUntouched === true && plan.remove.length === 0;
    this.removeEmpty(plan.remove);
    // Empty folders, those the file pipeline did not need or emptied and pruned, one removed by hand.
    // What lstat said is used again below, unless a folder was made (its parent's mtime moved).
    const seen = new Map<string, BigIntStats>();
    let made = false;
    for (const d of plan.wanted) {
      try {
        const st = lookedHolds && this.looked.has(d.path) ? this.looked.get(d.path)! : this.lstat(this.onDisk(d.path));
        if (st !== null) seen.set(d.path, st);
        else {
          made = true;
          this.make(d);
        }
      } catch (err) {
        // A full disk: the next run makes it.
        if (errCode(err) !== 'ENOSPC') this.o.warn(`${d.path}: the folder could not be made on the disk (${errCode(err) ?? String(err)})`);
      }
    }
    const rows: CatalogEntry[] = [];
    for (let i = plan.wanted.length - 1; i >= 0; i--) {
      const d = plan.wanted[i]!;
      const where = this.onDisk(d.path);
      try {
        const st = made ? this.lstat(where) : (seen.get(d.path) ?? null);
        if (st === null || !st.isDirectory()) continue;
        const have = dirRecordOf(d.path, st);
        if ((have.mode & PERMS) !== (d.mode & PERMS)) fs.chmodSync(fsPath(where), d.mode & PERMS);
        if (isRoot && (have.uid !== d.uid || have.gid !== d.gid)) fs.lchownSync(fsPath(where), d.uid, d.gid);
        if (have.mtimeSec !== d.mtimeSec || have.mtimeNsec !== d.mtimeNsec) fs.setMtime(where, d.mtimeSec, d.mtimeNsec);
        rows.push({ ...dirEntry(volume, d), verifiedAt: confirmedAt ?? null });
      } catch (err) {
        this.o.warn(`${d.path}: the folder's mode, owner or mtime could not be set on the disk (${errCode(err) ?? String(err)})`);
      }
    }
    const wantedPaths = new Set(plan.wanted.map((d) => d.path));
    const isTop = (p: string) => !wantedPaths.has(p.slice(0, p.lastIndexOf('/')));
    for (const cat of [disk, host]) {
      try {
        cat.transaction(() => {
          // Many folders: the volume's folder rows in one read, not one lookup a folder.
          // `known`: the caller's read of them, when nothing has written folder rows since.
          const read = () => (known.rows === undefined ? cat.dirsOf(volume) : cat === disk ? known.rows.disk : known.rows.host);
          const all = rows.length > MANY_FOLDERS ? new Map(read().map((r) => [r.path, r])) : null;
          for (const e of rows) {
            const had = all !== null ? all.get(e.path) : cat.dirRowsAt(e.path).find((r) => r.volume === volume);
            const stamp = confirmedAt !== undefined && isTop(e.path);
            if (had === undefined || !sameEntryMeta(had, e) || stamp) cat.put(stamp ? e : { ...e, verifiedAt: had?.verifiedAt ?? null });
          }
        });
      } catch (err) {
        // The next run finds the folders as they are and records them then.
        this.o.warn(`the folders' rows could not be written to ${cat === disk ? 'the disk' : 'the host'} catalog (${errCode(err) ?? String(err)})`);
      }
    }
  }
}

/** A directory's inode is kept but never compared: nothing is decided by it. */
function sameEntryMeta(a: CatalogEntry, b: CatalogEntry): boolean {
  return a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.mtimeSec === b.mtimeSec && a.mtimeNsec === b.mtimeNsec;
}

/**
 * A run that does not scan the library (apply, a catch-up, remove): the disk's folders become the
 * library's as the host catalog knows them now (dirs/current.ts), below the folders this volume
 * already holds. A folder made while the disk was away appears, a changed mode or mtime follows,
 * one gone from the library leaves the disk when empty, and every mtime that the run's own writes
 * changed is put back.
 */
export function settleFoldersFromHost(o: ConstructorParameters<typeof DirWriter>[0]): void {
  const plan = hostFolderPlan(o);
  if (plan === null) return;
  const writer = new DirWriter(o);
  writer.makeNarrowFirst(plan);
  writer.finish(plan, Date.now());
}

/**
 * Before a run that does not scan writes into the disk (a catch-up): the library's folders as the
 * host knows them are made first, each with its own mode, so that a file moved into a private
 * folder never lands in one made wider. Their metadata is settled at the end (finishWrite).
 */
export function prepareFoldersFromHost(o: ConstructorParameters<typeof DirWriter>[0]): void {
  const own = o.disk.dirsOf(o.volume);
  const plan = hostFolderPlan(o, own);
  if (plan === null) return;
  // A folder the copy's own catalog records with the mode and owner the library wants is on the
  // disk as recorded (a row is written only once its folder is as the row says): nothing to make or
  // narrow there, so it is not looked at. A lstat of every folder cost a weekly swap of a million
  // files (10,000 folders) ~0.3 s; only new folders and changed modes or owners are looked at now.
  const recorded = new Map(own.map((e) => [e.path, e]));
  const differs = (d: DirRecord) => {
    const r = recorded.get(d.path);
    return r === undefined || (r.mode & PERMS) !== (d.mode & PERMS) || r.uid !== d.uid || r.gid !== d.gid;
  };
  new DirWriter(o).makeNarrowFirst({ ...plan, wanted: plan.wanted.filter(differs) });
}

/** The plan that makes the disk's folders the host's current ones below the volume's own (`own`: its folder rows on the disk); null: the volume has none recorded. */
function hostFolderPlan(o: { volume: string; disk: Catalog; host: Catalog }, own = o.disk.dirsOf(o.volume)): DirPlan | null {
  if (own.length === 0) return null;
  const ownPaths = new Set(own.map((e) => e.path));
  // The volume's top folders: its data paths (a row whose parent has none).
  const tops = own.filter((e) => !ownPaths.has(e.path.slice(0, e.path.lastIndexOf('/')))).map((e) => e.path);
  const under = (p: string) => tops.some((t) => p === t || p.startsWith(`${t}/`));
  const current = currentDirs(o.host);
  const remove = own.filter((e) => !current.has(e.path)).sort((a, b) => comparePaths(b.path, a.path));
  return planFromRows([...current.values()].filter((e) => under(e.path)), remove);
}

/** Drops a directory row (never a file row that replaced it at the same path). */
function removeDirRow(cat: Catalog, volume: string, p: string): void {
  if (cat.dirRowsAt(p).some((r) => r.volume === volume)) cat.remove(volume, p);
}

/**
 * Whether a catalogued directory is excluded now (SnapRAID rules: `NAME/` and anchored rules match
 * directories): it, or a folder it lies in, is excluded under the data path that holds it.
 */
export function dirExcludedBy(filter: ExclusionFilter | undefined, roots: string[]): (p: string) => boolean {
  if (filter === undefined || filter.empty) return () => false;
  return (p) => {
    const root = roots.find((r) => p.startsWith(r === '/' ? '/' : `${r}/`));
    if (root === undefined) return false;
    const rel = root === '/' ? p.slice(1) : p.slice(root.length + 1);
    for (let i = rel.indexOf('/'); i > 0; i = rel.indexOf('/', i + 1)) if (filter.excludesDir(rel.slice(0, i))) return true;
    return filter.excludesDir(rel);
  };
}

/** A plan that makes the disk's folders these catalog rows (a clone, a settle from the host), removing `remove`. */
export function planFromRows(rows: CatalogEntry[], remove: CatalogEntry[] = []): DirPlan {
  const wanted: DirRecord[] = [...rows]
    .sort((a, b) => comparePaths(a.path, b.path))
    .map((e) => ({ path: e.path, mode: e.mode, uid: e.uid, gid: e.gid, mtimeSec: e.mtimeSec, mtimeNsec: e.mtimeNsec, inode: e.inode }));
  return { wanted, remove, replaced: [], counts: { added: 0, updated: 0, removed: remove.length, kept: 0 } };
}

/** A volume's folder rows in each catalog, read once for a backup (its plans and finish). */
export interface FolderRows {
  disk: CatalogEntry[];
  host: CatalogEntry[];
}

/**
 * Every folder row of the volume, from both catalogs: one read each. A no-change run planned its
 * folders twice and finish read them again, six reads of every folder row (a tenth of its main
 * thread after the scan); the caller reads again only when the run wrote between.
 */
export function readFolderRows(disk: Catalog, host: Catalog, volume: string): FolderRows {
  return { disk: disk.dirsOf(volume), host: host.dirsOf(volume) };
}

/**
 * The volume's folder rows under a data path (its own row too): the copy's own catalog's, and any
 * the host has beyond them (its twin's runs, which a copy that was away has not seen), so that a
 * folder gone since is removed from both.
 */
export function volumeFolders(rows: FolderRows, root: string): CatalogEntry[] {
  // The byte-order range of what lies under root (pathRange) is what begins with root + '/'.
  const [under] = pathRange(root);
  const at = (e: CatalogEntry) => e.path === root || e.path.startsWith(under);
  const own = rows.disk.filter(at);
  const seen = new Set(own.map((e) => e.path));
  return [...own, ...rows.host.filter((e) => at(e) && !seen.has(e.path))];
}
