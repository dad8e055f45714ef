import type { CatalogEntry } from '../catalog/entry.js';
import type { FileRecord, RootScan } from '../scan/record.js';
import type { PlanCounts, PlanOptions } from './operation.js';
import { byPath as inPathOrder, comparePaths, isUnder } from '../fsx/paths.js';
import { looksUnchanged } from './entry.js';

/** What the planner may know of the catalog. The caller backs it with SQLite; tests with arrays. */
export interface CatalogView {
  /** Every catalogued entry, of any volume, whose path lies under one of the scanned data paths. */
  entries: CatalogEntry[];
  /** Entries anywhere (any volume, any path) that hold this content. */
  findContent(size: number, sha256: string): CatalogEntry[];
  /**
   * Whether a file of this size with a known SHA-256 is stored on another volume than the mounted
   * one. Only then is a new file hashed before it is copied: content held offline is linked there
   * instead of stored again. Duplicates on the mounted volume are caught by the copy itself.
   */
  hasSize(size: number): boolean;
  /**
   * Paths of the mounted volume that the mounted copy does not hold (a mirror copy that is behind):
   * the volume has them, this disk does not, so they can be neither moved nor linked here.
   */
  absent?: ReadonlySet<string>;
  /**
   * Paths of the mounted volume whose stored bytes were read and found to be another file's (a link
   * made by SHA-1 alone, backup/sha1-links.ts), with the data-path file's SHA-256: changed, whatever
   * their size and mtime say.
   */
  storedDiffers?: ReadonlyMap<string, string>;
}

export interface PlanInput {
  scans: RootScan[];
  catalog: CatalogView;
  /** UUID of the mounted volume. */
  current: string;
  /** SHA-256 of data-path files hashed for this run (from an earlier round's `needHash`). */
  hashes: ReadonlyMap<string, string>;
  options: PlanOptions;
  /**
   * Whether a catalogued path is excluded by this run's rules. Such a path is neither archived
   * nor gone: it is kept, counted and reported (SPEC §5).
   */
  excluded?: (path: string) => boolean;
}

/** What the data path now holds at a path, seen against the catalog entry there. */
export type Status = 'unchanged' | 'changed-in-place' | 'vacated' | 'gone' | 'excluded';

/** The scan and the catalog indexed for the planner's steps, and what every step adds to. */
export interface PlanIndex {
  input: PlanInput;
  current: string;
  options: PlanOptions;
  counts: PlanCounts;
  /** Paths whose SHA-256 a decision asked for and this round does not have. */
  needHash: Set<string>;
  /** The SHA-256 of a data-path file, or undefined (and the path noted in needHash). */
  hashOf(p: string): string | undefined;
  /** Every record of the scans once, in path order. */
  records: FileRecord[];
  /** Files that exist but could not be read: neither gone nor moved, their archived copy stays. */
  unreadable: Set<string>;
  inIncompleteRoot(p: string): boolean;
  /** The catalog entry held at each path (the mounted volume's, should two volumes claim it). */
  byPath: Map<string, CatalogEntry>;
  /** Keyed by the entry objects themselves: a million string keys would cost more than the scan. */
  status: Map<CatalogEntry, Status>;
  statusOf(e: CatalogEntry): Status;
  /** A path of the mounted volume that the mounted copy lacks (see CatalogView.absent). */
  isAbsent(e: CatalogEntry): boolean;
  /** Catalogued entries by inode, only for inodes of records that are not simply unchanged. */
  byInode: Map<string, CatalogEntry[]>;
  /** Whether a catalogued entry may be the old name of a moved file. */
  renameSourceAllowed(e: CatalogEntry): boolean;
}

export function emptyCounts(): PlanCounts {
  return { unchanged: 0, added: 0, modified: 0, renamed: 0, linked: 0, removed: 0, deferred: 0, missing: 0, excluded: 0 };
}

/** Indexes the scans and the catalog, and gives every catalogued path its status. */
export function indexCatalog(input: PlanInput): PlanIndex {
  const { scans, catalog, current, hashes, options } = input;
  const counts = emptyCounts();
  for (const s of scans) counts.unchanged += s.unchangedCount ?? 0;
  const needHash = new Set<string>();
  const incompleteRoots = scans.filter((s) => !s.complete).map((s) => s.root);
  const unreadable = new Set<string>();
  for (const s of scans) for (const k of s.skipped) if (k.reason === 'unreadable') unreadable.add(k.path);
  const status = new Map<CatalogEntry, Status>();
  const absent = catalog.absent ?? new Set<string>();
  const ix: PlanIndex = {
    input,
    current,
    options,
    counts,
    needHash,
    hashOf: (p) => {
      const h = hashes.get(p);
      if (h === undefined) needHash.add(p);
      return h;
    },
    records: sortedUnique(scans),
    unreadable,
    inIncompleteRoot: (p) => incompleteRoots.some((r) => isUnder(p, r)),
    byPath: entriesByPath(catalog.entries, current),
    status,
    statusOf: (e) => status.get(e) ?? 'gone',
    isAbsent: (e) => e.volume === current && absent.has(e.path),
    byInode: new Map(),
    renameSourceAllowed: (e) => {
      if (ix.isAbsent(e)) return false;
      const st = ix.statusOf(e);
      return (st === 'gone' || st === 'vacated') && !(st === 'gone' && (ix.inIncompleteRoot(e.path) || unreadable.has(e.path)));
    },
  };
  const wantedInodes = classifyPaths(ix);
  ix.byInode = entriesByInode(ix.byPath, wantedInodes);
  markExcluded(ix);
  return ix;
}

/** Every record of the scans once, in path order (scans normally arrive sorted: then no sort is paid). */
function sortedUnique(scans: RootScan[]): FileRecord[] {
  const all: FileRecord[] = [];
  for (const s of scans) for (const r of s.records) all.push(r);
  let sorted = true;
  for (let i = 1; i < all.length && sorted; i++) if (comparePaths(all[i - 1]!.path, all[i]!.path) >= 0) sorted = false;
  if (sorted) return all;
  all.sort(inPathOrder);
  return all.filter((r, i) => i === 0 || r.path !== all[i - 1]!.path);
}

/** One volume holds a path; should two ever claim it, the mounted volume's row is the one acted on. */
function entriesByPath(entries: CatalogEntry[], current: string): Map<string, CatalogEntry> {
  const byPath = new Map<string, CatalogEntry>();
  for (const e of entries) {
    const prev = byPath.get(e.path);
    if (!prev || e.volume === current) byPath.set(e.path, e);
  }
  return byPath;
}

/**
 * Sets the status of every catalogued path the scan saw; returns the inodes of records that are not
 * simply their path's unchanged file: only those need a source.
 */
function classifyPaths(ix: PlanIndex): Set<string> {
  const wantedInodes = new Set<string>();
  // Paths that look unchanged under a new inode: renumbered, or another catalogued file moved here.
  const renumbered: Array<[CatalogEntry, FileRecord]> = [];
  for (const r of ix.records) {
    const e = ix.byPath.get(r.path);
    let st: Status | undefined;
    if (e) {
      if (ix.isAbsent(e)) st = 'vacated'; // the data path's file must be copied onto this copy
      else if (e.kind === 'file' && r.kind === 'file' && ix.input.catalog.storedDiffers?.has(r.path)) st = 'changed-in-place';
      else if (looksUnchanged(e, r)) {
        st = 'unchanged';
        if (e.inode !== null && e.inode !== r.inode && r.kind === 'file') renumbered.push([e, r]);
      } else if (e.inode !== null && e.inode === r.inode && e.kind === r.kind) st = 'changed-in-place';
      else st = 'vacated';
      ix.status.set(e, st);
    }
    if (st !== 'unchanged' && st !== 'changed-in-place') wantedInodes.add(r.inode);
  }
  if (renumbered.length > 0) crossMatchRenumbered(ix, renumbered, wantedInodes);
  return wantedInodes;
}

/**
 * A path holding the inode another catalogued path had is a move onto it (a swap or a rotation of
 * equal-size, equal-mtime files), unless its content says otherwise. Only these cross-matches are
 * read: a mass renumbering onto fresh inode numbers reads nothing.
 */
function crossMatchRenumbered(ix: PlanIndex, renumbered: Array<[CatalogEntry, FileRecord]>, wantedInodes: Set<string>): void {
  const numbers = new Set(renumbered.map(([, r]) => r.inode));
  const holders = new Map<string, CatalogEntry[]>();
  for (const c of ix.byPath.values()) {
    if (c.inode === null || !numbers.has(c.inode)) continue;
    const list = holders.get(c.inode);
    if (list) list.push(c);
    else holders.set(c.inode, [c]);
  }
  for (const [e, r] of renumbered) {
    if (!(holders.get(r.inode) ?? []).some((c) => c !== e && c.path !== r.path)) continue;
    const h = ix.hashOf(r.path);
    if (h === undefined || h === e.sha256) continue;
    ix.status.set(e, 'vacated');
    wantedInodes.add(r.inode);
  }
}

function entriesByInode(byPath: Map<string, CatalogEntry>, wantedInodes: Set<string>): Map<string, CatalogEntry[]> {
  const byInode = new Map<string, CatalogEntry[]>();
  if (wantedInodes.size === 0) return byInode;
  for (const e of byPath.values()) {
    if (e.inode === null || !wantedInodes.has(e.inode)) continue;
    const list = byInode.get(e.inode);
    if (list) list.push(e);
    else byInode.set(e.inode, [e]);
  }
  return byInode;
}

/** Catalogued paths the scan did not see because this run's rules exclude them: kept, not gone. */
function markExcluded(ix: PlanIndex): void {
  const excluded = ix.input.excluded;
  if (!excluded) return;
  for (const e of ix.byPath.values()) {
    if (ix.status.has(e) || !excluded(e.path)) continue;
    ix.status.set(e, 'excluded');
    ix.counts.excluded++;
  }
}
