import type { CatalogEntry } from '../catalog/entry.js';
import type { FileRecord } from '../scan/record.js';
import type { Plan } from './operation.js';
import { byPath as inPathOrder, isUnder } from '../fsx/paths.js';
import type { PlanIndex } from './catalog-index.js';
import type { Decisions } from './decide.js';
import type { Ledger } from './ledger.js';

const parentsOf = function* (p: string) {
  for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) yield p.slice(0, i);
};

/** Records at paths new to the catalog (or changed there): only these can stand where a directory was. */
function freshRecords(ix: PlanIndex): FileRecord[] {
  return ix.records.filter((r) => {
    const e = ix.byPath.get(r.path);
    return !e || ix.status.get(e) !== 'unchanged';
  });
}

/** Stored files of the mounted volume that the data path no longer has where they are (gone or excluded). */
function notThereOnThisDisk(ix: PlanIndex, d: Decisions): Map<string, CatalogEntry> {
  const goneHere = new Map<string, CatalogEntry>();
  for (const e of ix.byPath.values()) {
    const st = ix.status.get(e);
    if (e.volume === ix.current && (st === undefined || st === 'excluded') && !d.claimedBy.has(e) && !ix.isAbsent(e) && !ix.unreadable.has(e.path)) {
      goneHere.set(e.path, e);
    }
  }
  return goneHere;
}

/**
 * Stored files below a former directory, by the record now at the directory's path (a symlink or a
 * file). They count as gone (SPEC §5): with --clean, and when the mass-delete guard lets the run
 * remove (`removing`), they go and the new object takes the path; otherwise they are kept, and the
 * disk, which cannot hold a file where a directory of stored files is, does not get the new object.
 */
export function belowFormerDirs(ix: PlanIndex, d: Decisions): Map<FileRecord, CatalogEntry[]> {
  const goneHere = notThereOnThisDisk(ix, d);
  const below = new Map<FileRecord, CatalogEntry[]>();
  if (goneHere.size === 0 || ix.records.length === 0) return below;
  const fresh = new Map(freshRecords(ix).map((r) => [r.path, r]));
  for (const e of goneHere.values()) {
    // the topmost record above it: a symlink at a/ hides everything below, a/b/ included
    let top: FileRecord | undefined;
    for (const dir of parentsOf(e.path)) top = fresh.get(dir) ?? top;
    if (!top) continue;
    const list = below.get(top);
    if (list) list.push(e);
    else below.set(top, [e]);
  }
  return below;
}

/**
 * Whether a stored file below a former directory may go in this run (see belowFormerDirs). An
 * excluded one too: it is kept only while nothing needs its place.
 */
function mayGo(ix: PlanIndex, e: CatalogEntry, removing: boolean): boolean {
  return removing && !ix.inIncompleteRoot(e.path);
}

/** The records a run must leave out: former directories whose stored files below are kept. */
export function blockedByKept(ix: PlanIndex, d: Decisions, removing: boolean): NonNullable<Plan['blocked']> {
  const blocked: NonNullable<Plan['blocked']> = [];
  for (const [r, entries] of belowFormerDirs(ix, d)) {
    const kept = entries.filter((e) => !mayGo(ix, e, removing)).length;
    if (kept > 0) blocked.push({ path: r.path, kind: r.kind, kept });
  }
  return blocked.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/**
 * A path that changed kind between directory and file (or symlink): the mounted disk cannot hold a
 * file where a directory of stored files is, nor files below a stored file. A stored file where a
 * directory now is was replaced (as content changed in place is); stored files below a former
 * directory are gone, and go now, before the new object, counted as removed (the records they
 * would have kept out were left out by blockedByKept). An excluded stored file is kept only while
 * nothing needs its place.
 */
export function clearKindChanges(ix: PlanIndex, d: Decisions, ledger: Ledger): void {
  const removed = new Map<CatalogEntry, string>();
  for (const [r, entries] of belowFormerDirs(ix, d)) for (const e of entries) removed.set(e, r.path);
  const replaced = [...nowDirectories(ix, d)].filter((e) => !removed.has(e));
  for (const e of [...removed.keys(), ...replaced].sort(inPathOrder)) {
    if (ix.status.get(e) === 'excluded') ix.counts.excluded--;
    const room = removed.get(e);
    if (room === undefined) {
      ledger.removeOccupant(e, 'replaced');
      continue;
    }
    ledger.delete(e.path);
    ledger.replacedKeys.add(e);
    ledger.ops.push({ type: 'delete', entry: e, why: 'removed', makesRoomFor: room });
    ix.counts.removed++;
  }
}

/** Stored files of the mounted volume where the data path now has a directory (records below them). */
export function nowDirectories(ix: PlanIndex, d: Decisions): Set<CatalogEntry> {
  const goneHere = notThereOnThisDisk(ix, d);
  const replaced = new Set<CatalogEntry>();
  if (goneHere.size === 0 || ix.records.length === 0) return replaced;
  for (const r of freshRecords(ix)) {
    for (const dir of parentsOf(r.path)) {
      const e = goneHere.get(dir);
      if (e) replaced.add(e);
    }
  }
  return replaced;
}

/** Catalogued paths gone from the data paths, in path order: not seen, not moved, not unreadable. */
export function goneEntries(ix: PlanIndex, d: Decisions, ledger?: Ledger): CatalogEntry[] {
  const gone: CatalogEntry[] = [];
  for (const e of ix.byPath.values()) {
    if (ix.status.has(e) || d.claimedBy.has(e) || ix.unreadable.has(e.path)) continue;
    if (ledger && (ledger.replacedKeys.has(e) || ledger.get(e.path) !== e)) continue;
    gone.push(e);
  }
  return gone.sort(inPathOrder);
}

/**
 * The mass-delete guard (SPEC §5) over what --clean would remove: gone files, those below former
 * directories included. Empty without --clean.
 */
export function guardRemovals(ix: PlanIndex, gone: CatalogEntry[]): Plan['guarded'] {
  const { options } = ix;
  const guarded: Plan['guarded'] = [];
  if (!options.clean) return guarded;
  const removable = gone.filter((e) => !ix.inIncompleteRoot(e.path) && ix.status.get(e) !== 'excluded');
  for (const s of ix.input.scans) {
    const catalogued = ix.input.catalog.entries.filter((e) => isUnder(e.path, s.root)).length + (s.unchangedCount ?? 0);
    if (catalogued === 0) continue;
    const removing = removable.filter((e) => isUnder(e.path, s.root)).length;
    let reason: string | undefined;
    if (!s.exists) reason = `data path ${s.root} is missing`;
    else if (s.records.length + (s.unchangedCount ?? 0) + (s.streamedCount ?? 0) === 0) reason = `data path ${s.root} is empty`;
    else if (removing > (options.maxDeletePct / 100) * catalogued) {
      reason = `the run would remove ${removing} of the ${catalogued} files archived under ${s.root} (more than ${options.maxDeletePct}%)`;
    }
    if (reason && removing > 0) guarded.push({ root: s.root, reason });
  }
  return guarded;
}

/**
 * Paths gone from the data paths: counted as missing, or with --clean removed, unless their data
 * path's scan was incomplete or the mass-delete guard (decided by the caller over every removal of
 * the run, guardRemovals) trips without --force.
 */
export function planRemovals(ix: PlanIndex, d: Decisions, ledger: Ledger, guarded: Plan['guarded']): void {
  const { options, counts } = ix;
  const gone = goneEntries(ix, d, ledger);
  const removable = gone.filter((e) => !ix.inIncompleteRoot(e.path));
  counts.missing = gone.length;
  if (!options.clean || (guarded.length > 0 && !options.force)) return;
  for (const e of removable) {
    ledger.removeOccupant(e, 'removed');
    counts.removed++;
    counts.missing--;
  }
}
