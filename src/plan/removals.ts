import type { CatalogEntry } from '../catalog/entry.js';
import type { Plan } from './operation.js';
import { byPath as inPathOrder, isUnder } from '../fsx/paths.js';
import type { PlanIndex } from './catalog-index.js';
import type { Decisions } from './decide.js';
import type { Ledger } from './ledger.js';

/**
 * A path that changed kind between directory and file (or symlink): the mounted disk cannot hold a
 * file where a directory of stored files is, nor files below a stored file. What stood in the new
 * object's way is gone, and goes now (SPEC §5). An excluded stored file is kept only while nothing
 * needs its place.
 */
export function clearKindChanges(ix: PlanIndex, d: Decisions, ledger: Ledger): void {
  const goneHere = new Map<string, CatalogEntry>();
  for (const e of ix.byPath.values()) {
    const st = ix.status.get(e);
    if (e.volume === ix.current && (st === undefined || st === 'excluded') && !d.claimedBy.has(e) && !ix.isAbsent(e) && !ix.unreadable.has(e.path)) {
      goneHere.set(e.path, e);
    }
  }
  if (goneHere.size === 0 || ix.records.length === 0) return;
  const inTheWay = new Set<CatalogEntry>();
  // Only a path new to the catalog can stand where a directory was, or have a file above it.
  const fresh = ix.records.filter((r) => {
    const e = ix.byPath.get(r.path);
    return !e || ix.status.get(e) !== 'unchanged';
  });
  const recordPaths = new Set(fresh.map((r) => r.path));
  const parentsOf = function* (p: string) {
    for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) yield p.slice(0, i);
  };
  for (const r of fresh) {
    for (const dir of parentsOf(r.path)) {
      const e = goneHere.get(dir);
      if (e) inTheWay.add(e);
    }
  }
  for (const e of goneHere.values()) {
    for (const dir of parentsOf(e.path)) if (recordPaths.has(dir)) inTheWay.add(e);
  }
  for (const e of [...inTheWay].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    if (ix.status.get(e) === 'excluded') ix.counts.excluded--;
    ledger.removeOccupant(e, 'replaced');
  }
}

/**
 * Paths gone from the data paths: counted as missing, or with --clean removed, unless their data
 * path's scan was incomplete or the mass-delete guard trips (without --force). Returns the guard's
 * findings.
 */
export function planRemovals(ix: PlanIndex, d: Decisions, ledger: Ledger): Plan['guarded'] {
  const { options, counts } = ix;
  const gone: CatalogEntry[] = [];
  for (const e of ix.byPath.values()) {
    if (ix.status.has(e) || d.claimedBy.has(e) || ledger.replacedKeys.has(e) || ix.unreadable.has(e.path)) continue;
    if (ledger.get(e.path) !== e) continue;
    gone.push(e);
  }
  gone.sort(inPathOrder);
  const guarded: Plan['guarded'] = [];
  const removable = gone.filter((e) => !ix.inIncompleteRoot(e.path));
  counts.missing = gone.length;
  if (!options.clean) return guarded;
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
  if (guarded.length === 0 || options.force) {
    for (const e of removable) {
      ledger.removeOccupant(e, 'removed');
      counts.removed++;
      counts.missing--;
    }
  }
  return guarded;
}
