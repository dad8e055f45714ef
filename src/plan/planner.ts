import type { CatalogEntry } from '../catalog/entry.js';
import type { FileRecord, RootScan } from '../scan/record.js';
import type { Operation, Plan, PlanCounts, PlanOptions } from './operation.js';
import { byPath as inPathOrder, comparePaths, isUnder } from '../fsx/paths.js';
import { orderMoves } from './renames.js';

/** What the planner may know of the catalog. The caller backs it with SQLite; tests with arrays. */
export interface CatalogView {
  /** Every catalogued entry, of any volume, whose path lies under one of the scanned data paths. */
  entries: CatalogEntry[];
  /** Entries anywhere (any volume, any path) that hold this content. */
  findContent(size: number, sha1: string): CatalogEntry[];
  /**
   * Whether a file of this size with a known SHA1 is stored on another volume than the mounted
   * one. Only then is a new file hashed before it is copied: content held offline is linked there
   * instead of stored again. Duplicates on the mounted volume are caught by the copy itself.
   */
  hasSize(size: number): boolean;
  /**
   * Paths of the mounted volume that the mounted copy does not hold (a mirror copy that is behind):
   * the volume has them, this disk does not, so they can be neither moved nor linked here.
   */
  absent?: ReadonlySet<string>;
}

export interface PlanInput {
  scans: RootScan[];
  catalog: CatalogView;
  /** UUID of the mounted volume. */
  current: string;
  /** SHA1 of data-path files hashed for this run (from an earlier round's `needHash`). */
  hashes: ReadonlyMap<string, string>;
  options: PlanOptions;
  /**
   * Whether a catalogued path is excluded by this run's rules. Such a path is neither archived
   * nor gone: it is kept, counted and reported (SPEC §5).
   */
  excluded?: (path: string) => boolean;
}

/** What the data path now holds at a path, seen against the catalog entry there. */
type Status = 'unchanged' | 'changed-in-place' | 'vacated' | 'gone' | 'excluded';


function sameMtime(a: { mtimeSec: number; mtimeNsec: number }, b: { mtimeSec: number; mtimeNsec: number }): boolean {
  return a.mtimeSec === b.mtimeSec && a.mtimeNsec === b.mtimeNsec;
}

function looksUnchanged(e: CatalogEntry, r: FileRecord): boolean {
  if (e.kind !== r.kind || e.size !== r.size || !sameMtime(e, r)) return false;
  return r.kind !== 'symlink' || e.linkTarget === (r.linkTarget ?? null);
}

/** Equal content may be stored once only for names that also share mode and owner (SPEC §3). */
export function sameModeOwner(a: { mode: number; uid: number; gid: number }, b: { mode: number; uid: number; gid: number }): boolean {
  return (a.mode & 0o7777) === (b.mode & 0o7777) && a.uid === b.uid && a.gid === b.gid;
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

/** The catalog entry a data-path record becomes once stored. */
export function entryFor(r: FileRecord, volume: string, sha1: string | null, keep?: CatalogEntry): CatalogEntry {
  return {
    path: r.path,
    volume,
    kind: r.kind,
    size: r.size,
    mtimeSec: r.mtimeSec,
    mtimeNsec: r.mtimeNsec,
    inode: r.inode,
    sha1: r.kind === 'symlink' ? null : sha1,
    mode: r.mode,
    uid: r.uid,
    gid: r.gid,
    linkTarget: r.kind === 'symlink' ? (r.linkTarget ?? '') : null,
    parityName: keep?.parityName ?? null,
    verifiedAt: keep?.verifiedAt ?? null,
  };
}

/**
 * Decides a backup: compares what the data paths hold now with what the catalog knows and returns
 * the operations that bring the mounted volume (and, by deferred actions, the offline ones) up to
 * date. Pure: no file system, no clock. When a decision needs a file's SHA1 the plan lists it in
 * `needHash`; the caller hashes those files and plans again.
 */
export function plan(input: PlanInput): Plan {
  const { scans, catalog, current, hashes, options } = input;
  const counts: PlanCounts = { unchanged: 0, added: 0, modified: 0, renamed: 0, linked: 0, removed: 0, deferred: 0, missing: 0, excluded: 0 };
  for (const s of scans) counts.unchanged += s.unchangedCount ?? 0;
  const needHash = new Set<string>();
  const hashOf = (p: string): string | undefined => {
    const h = hashes.get(p);
    if (h === undefined) needHash.add(p);
    return h;
  };

  // ---- index the scan and the catalog ----
  const sortedRecords = sortedUnique(scans);
  const incompleteRoots = scans.filter((s) => !s.complete).map((s) => s.root);
  // A file that exists but could not be read is neither gone nor moved: its archived copy stays as it is.
  const unreadable = new Set<string>();
  for (const s of scans) for (const k of s.skipped) if (k.reason === 'unreadable') unreadable.add(k.path);
  const inIncompleteRoot = (p: string) => incompleteRoots.some((r) => isUnder(p, r));

  // One volume holds a path; should two ever claim it, the mounted volume's row is the one acted on.
  const byPath = new Map<string, CatalogEntry>();
  for (const e of catalog.entries) {
    const prev = byPath.get(e.path);
    if (!prev || e.volume === current) byPath.set(e.path, e);
  }
  // Keyed by the entry objects themselves: a million string keys would cost more than the scan.
  const status = new Map<CatalogEntry, Status>();
  const absent = catalog.absent ?? new Set<string>();
  const isAbsent = (e: CatalogEntry) => e.volume === current && absent.has(e.path);
  const statusOf = (e: CatalogEntry): Status => status.get(e) ?? 'gone';
  // Inodes of records that are not simply their path's unchanged file: only those need a source.
  const wantedInodes = new Set<string>();
  // Paths that look unchanged under a new inode: renumbered, or another catalogued file moved here.
  const renumbered: Array<[CatalogEntry, FileRecord]> = [];
  for (const r of sortedRecords) {
    const e = byPath.get(r.path);
    let st: Status | undefined;
    if (e) {
      if (isAbsent(e)) st = 'vacated'; // the data path's file must be copied onto this copy
      else if (looksUnchanged(e, r)) {
        st = 'unchanged';
        if (e.inode !== null && e.inode !== r.inode && r.kind === 'file') renumbered.push([e, r]);
      } else if (e.inode !== null && e.inode === r.inode && e.kind === r.kind) st = 'changed-in-place';
      else st = 'vacated';
      status.set(e, st);
    }
    if (st !== 'unchanged' && st !== 'changed-in-place') wantedInodes.add(r.inode);
  }
  if (renumbered.length > 0) {
    // A path holding the inode another catalogued path had is a move onto it (a swap or a rotation
    // of equal-size, equal-mtime files), unless its content says otherwise. Only these cross-matches
    // are read: a mass renumbering onto fresh inode numbers reads nothing.
    const numbers = new Set(renumbered.map(([, r]) => r.inode));
    const holders = new Map<string, CatalogEntry[]>();
    for (const c of byPath.values()) {
      if (c.inode === null || !numbers.has(c.inode)) continue;
      const list = holders.get(c.inode);
      if (list) list.push(c);
      else holders.set(c.inode, [c]);
    }
    for (const [e, r] of renumbered) {
      if (!(holders.get(r.inode) ?? []).some((c) => c !== e && c.path !== r.path)) continue;
      const h = hashOf(r.path);
      if (h === undefined || h === e.sha1) continue;
      status.set(e, 'vacated');
      wantedInodes.add(r.inode);
    }
  }
  const byInode = new Map<string, CatalogEntry[]>();
  if (wantedInodes.size > 0) {
    for (const e of byPath.values()) {
      if (e.inode === null || !wantedInodes.has(e.inode)) continue;
      const list = byInode.get(e.inode);
      if (list) list.push(e);
      else byInode.set(e.inode, [e]);
    }
  }
  // Catalogued paths the scan did not see because this run's rules exclude them: kept, not gone.
  if (input.excluded) {
    for (const e of byPath.values()) {
      if (status.has(e) || !input.excluded(e.path)) continue;
      status.set(e, 'excluded');
      counts.excluded++;
    }
  }
  const renameSourceAllowed = (e: CatalogEntry) => {
    if (isAbsent(e)) return false;
    const st = statusOf(e);
    return (st === 'gone' || st === 'vacated') && !(st === 'gone' && (inIncompleteRoot(e.path) || unreadable.has(e.path)));
  };

  // size+mtime index of possible rename sources, for sources without stable inodes
  const sizeMtimeKey = (x: { kind: string; size: number; mtimeSec: number; mtimeNsec: number }) =>
    `${x.kind}:${x.size}:${x.mtimeSec}:${x.mtimeNsec}`;
  const vacatedBySizeMtime = new Map<string, CatalogEntry[]>();
  if (options.matchMode === 'size-mtime') {
    for (const e of byPath.values()) {
      if (!renameSourceAllowed(e)) continue;
      const k = sizeMtimeKey(e);
      const list = vacatedBySizeMtime.get(k);
      if (list) list.push(e);
      else vacatedBySizeMtime.set(k, [e]);
    }
  }

  // ---- classify every record ----
  type Decision =
    | { kind: 'unchanged'; entry: CatalogEntry; record: FileRecord; sha1: string | null }
    | { kind: 'meta'; entry: CatalogEntry; record: FileRecord; sha1: string | null }
    | { kind: 'rename'; source: CatalogEntry }
    | { kind: 'hardlink'; source: CatalogEntry }
    | { kind: 'follow'; leader: string } // another path of the same moved hardlink group
    | { kind: 'content'; old?: CatalogEntry }
    | { kind: 'pending' };
  const decisions = new Map<string, Decision>();
  const claimedBy = new Map<CatalogEntry, string>(); // catalog entry -> path it is renamed to

  const newRecordsBySizeMtime = new Map<string, number>();
  if (options.matchMode === 'size-mtime') {
    for (const r of sortedRecords) {
      const e = byPath.get(r.path);
      if (e && statusOf(e) !== 'vacated') continue;
      const k = sizeMtimeKey(r);
      newRecordsBySizeMtime.set(k, (newRecordsBySizeMtime.get(k) ?? 0) + 1);
    }
  }

  const findSource = (r: FileRecord): Decision | undefined => {
    if (options.matchMode === 'path-size-mtime') return undefined;
    if (options.matchMode === 'size-mtime') {
      const k = sizeMtimeKey(r);
      const list = vacatedBySizeMtime.get(k);
      if (!list || list.length !== 1 || newRecordsBySizeMtime.get(k) !== 1) return undefined;
      const src = list[0]!;
      if (src.path === r.path || claimedBy.has(src)) return undefined;
      return { kind: 'rename', source: src };
    }
    const candidates = (byInode.get(r.inode) ?? []).filter((c) => c.kind === r.kind && c.size === r.size && c.path !== r.path);
    if (candidates.length === 0) return undefined;
    // An old name of this inode that is gone: the record is that file, moved. A moved hardlink group
    // pairs old and new names one to one; extra new names link to the first.
    let follow: Decision | undefined;
    for (const c of candidates) {
      if (!renameSourceAllowed(c)) continue;
      if (!sameMtime(c, r)) {
        // Same inode but touched since: only its content can say whether it is the same file.
        if (r.kind !== 'file') continue;
        const h = hashOf(r.path);
        if (h === undefined) return { kind: 'pending' };
        if (h !== c.sha1) continue;
      } else if (r.kind === 'file' && c.sha1 !== null && hashes.has(r.path) && hashes.get(r.path) !== c.sha1) {
        continue; // read already (a cross-match): an inode number reused by other content
      }
      const leader = claimedBy.get(c);
      if (leader === undefined) return { kind: 'rename', source: c };
      follow ??= { kind: 'follow', leader };
    }
    // Still present under another name with that inode: the record is a new hardlink to it.
    const staying = candidates.find((c) => statusOf(c) === 'unchanged');
    if (staying) return { kind: 'hardlink', source: staying };
    return follow;
  };

  // Catalog-only updates (a new inode number, mode or owner; a touched file with the same content).
  const updateOps: Operation[] = [];
  // Stored names whose mode or owner this run changes (before any link is made to them).
  const newModeOwner = new Map<CatalogEntry, FileRecord>();
  const update = (e: CatalogEntry, r: FileRecord, sha1: string | null, contentTouched: boolean) => {
    if (!sameModeOwner(e, r)) newModeOwner.set(e, r);
    const touchDisk = contentTouched || e.mode !== r.mode || e.uid !== r.uid || e.gid !== r.gid;
    if (touchDisk || e.inode !== r.inode) {
      updateOps.push({ type: 'update', entry: e, record: r, sha1, touchDisk: touchDisk && e.volume === current });
    }
    counts.unchanged++;
  };
  const unsourced: FileRecord[] = [];
  for (const r of sortedRecords) {
    const e = byPath.get(r.path);
    const st = e ? status.get(e) : undefined;
    let d: Decision | undefined;
    if (e && st === 'unchanged') {
      if (options.matchMode === 'strict' && e.inode !== r.inode && r.kind === 'file') {
        const h = hashOf(r.path);
        if (h === undefined) d = { kind: 'pending' };
        else if (h === e.sha1) d = { kind: 'unchanged', entry: e, record: r, sha1: h };
        else d = { kind: 'content', old: e };
      } else {
        // the common case, kept free of allocations
        update(e, r, e.sha1, false);
        continue;
      }
    } else if (e && st === 'changed-in-place') {
      if (r.kind === 'file' && e.kind === 'file' && r.size === e.size && e.sha1 !== null) {
        const h = hashOf(r.path);
        if (h === undefined) d = { kind: 'pending' };
        else if (h === e.sha1) d = { kind: 'meta', entry: e, record: r, sha1: h };
        else d = { kind: 'content', old: e };
      } else d = { kind: 'content', old: e };
    } else {
      d = findSource(r);
      if (d?.kind === 'rename') claimedBy.set(d.source, r.path);
      if (!d) {
        // decided below, once every rename has claimed its source
        unsourced.push(r);
        continue;
      }
    }
    decisions.set(r.path, d);
  }
  for (const r of unsourced) {
    const e = byPath.get(r.path);
    let d: Decision | undefined;
    // A different inode at the same path with the same size: replaced, or merely renumbered. Not when
    // the stored file there is moving away to another name in this run: then this path is new.
    if (e && !isAbsent(e) && !claimedBy.has(e) && r.kind === 'file' && e.kind === 'file' && r.size === e.size && e.sha1 !== null) {
      const h = hashOf(r.path);
      if (h === undefined) d = { kind: 'pending' };
      else if (h === e.sha1) d = { kind: 'meta', entry: e, record: r, sha1: h };
    }
    decisions.set(r.path, d ?? { kind: 'content', old: e });
  }
  // the decisions in path order, as the records came
  const ordered = new Map<string, Decision>();
  for (const r of sortedRecords) {
    const d = decisions.get(r.path);
    if (d) ordered.set(r.path, d);
  }
  decisions.clear();
  for (const [p, d] of ordered) decisions.set(p, d);

  // ---- final occupant of every path, as operations are decided ----
  // path -> entry held there (any volume): the catalog, overlaid with this run's changes
  const changed = new Map<string, CatalogEntry | null>();
  const occupant = {
    get: (p: string): CatalogEntry | undefined => {
      const c = changed.get(p);
      return c === undefined ? byPath.get(p) : (c ?? undefined);
    },
    set: (p: string, e: CatalogEntry) => void changed.set(p, e),
    delete: (p: string) => void changed.set(p, null),
  };
  const ops: Operation[] = [];
  const replacedKeys = new Set<CatalogEntry>();
  const removeOccupant = (o: CatalogEntry, why: 'replaced' | 'removed') => {
    occupant.delete(o.path);
    replacedKeys.add(o);
    if (o.volume === current) ops.push({ type: 'delete', entry: o, why });
    else {
      ops.push({ type: 'defer', volume: o.volume, action: 'DELETE', path: o.path, target: null, entry: o, record: null, why });
      counts.deferred++;
    }
  };

  // ---- a path that changed kind between directory and file (or symlink) ----
  // The mounted disk cannot hold a file where a directory of stored files is, nor files below a
  // stored file: what stood in the new object's way is gone, and goes now (SPEC §5).
  // An excluded stored file is kept only while nothing needs its place.
  const goneHere = new Map<string, CatalogEntry>();
  for (const e of byPath.values()) {
    const st = status.get(e);
    if (e.volume === current && (st === undefined || st === 'excluded') && !claimedBy.has(e) && !isAbsent(e) && !unreadable.has(e.path)) {
      goneHere.set(e.path, e);
    }
  }
  if (goneHere.size > 0 && sortedRecords.length > 0) {
    const inTheWay = new Set<CatalogEntry>();
    // Only a path new to the catalog can stand where a directory was, or have a file above it.
    const fresh = sortedRecords.filter((r) => {
      const e = byPath.get(r.path);
      return !e || status.get(e) !== 'unchanged';
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
      if (status.get(e) === 'excluded') counts.excluded--;
      removeOccupant(e, 'replaced');
    }
  }

  // ---- renames: replaced targets first, then moves per volume in a safe order ----
  // records with a decision to act on, in path order (unchanged files have none)
  const decided = sortedRecords.filter((r) => decisions.has(r.path));
  const renames = decided
    .map((r) => ({ r, d: decisions.get(r.path)! }))
    .filter((x): x is { r: FileRecord; d: { kind: 'rename'; source: CatalogEntry } } => x.d.kind === 'rename');
  const movingAway = new Set(renames.map((x) => x.d.source));
  for (const { r } of renames) {
    const o = occupant.get(r.path);
    if (o && !movingAway.has(o)) removeOccupant(o, 'replaced');
  }
  const movesByVolume = new Map<string, Array<{ from: string; to: string; source: CatalogEntry; record: FileRecord }>>();
  for (const { r, d } of renames) {
    const list = movesByVolume.get(d.source.volume) ?? [];
    list.push({ from: d.source.path, to: r.path, source: d.source, record: r });
    movesByVolume.set(d.source.volume, list);
  }
  const volumesInOrder = [...movesByVolume.keys()].sort((a, b) => (a === current ? -1 : b === current ? 1 : a < b ? -1 : 1));
  let temps = 0;
  for (const vol of volumesInOrder) {
    const moves = movesByVolume.get(vol)!;
    const ordered = orderMoves(moves.map(({ from, to }) => ({ from, to })), temps);
    // which move's file stands at each path during the sequence (temporary names included)
    const at = new Map(moves.map((m) => [m.from, m]));
    for (const step of ordered) {
      const m = at.get(step.from)!;
      at.delete(step.from);
      const isFinal = step.to === m.to;
      if (!isFinal) {
        at.set(step.to, m);
        temps++;
      }
      const record = isFinal ? m.record : null;
      const from: CatalogEntry = { ...m.source, path: step.from };
      if (vol === current) ops.push({ type: 'rename', from, to: step.to, record });
      else {
        ops.push({ type: 'defer', volume: vol, action: 'RENAME', path: step.from, target: step.to, entry: from, record, why: 'renamed' });
        counts.deferred++;
      }
    }
    for (const m of moves) {
      if (occupant.get(m.from) === m.source) occupant.delete(m.from);
    }
    for (const m of moves) {
      occupant.set(m.to, entryFor(m.record, vol, m.source.sha1, m.source));
      counts.renamed++;
    }
  }

  // ---- metadata-only changes ----
  for (const d of decisions.values()) {
    if (d.kind === 'unchanged' || d.kind === 'meta') update(d.entry, d.record, d.sha1, d.kind === 'meta');
  }
  // push(...x) would put every element on the stack: a million files overflow it.
  for (const op of updateOps) ops.push(op);

  // ---- new content: hardlinks, duplicates, copies ----
  const contentPaths = decided.filter((r) => {
    const k = decisions.get(r.path)!.kind;
    return k === 'content' || k === 'pending';
  });
  const contentTargets = new Set(contentPaths.map((r) => r.path));
  // Where content stands after the renames, in a form that survives this run's overwrites.
  const finalPathOf = new Map<CatalogEntry, string>();
  for (const moves of movesByVolume.values()) for (const m of moves) finalPathOf.set(m.source, m.to);
  const usableSource = (found: CatalogEntry): CatalogEntry | undefined => {
    if (isAbsent(found)) return undefined;
    const c = byPath.get(found.path);
    // outside the scanned paths: this run leaves it alone
    if (!c || c.volume !== found.volume) return found;
    if (replacedKeys.has(c)) return undefined;
    const st = statusOf(c);
    const moved = finalPathOf.get(c);
    const p = moved ?? c.path;
    if (contentTargets.has(p)) return undefined; // gets other content later in this run
    if (moved === undefined && st === 'gone') {
      // still on its disk until removals, which come last
      return options.matchMode === 'path-size-mtime' ? undefined : c;
    }
    if (moved === undefined && st === 'vacated') return undefined;
    const o = occupant.get(p);
    return o && o.volume === c.volume && o.sha1 === c.sha1 ? o : undefined;
  };
  const findStored = (r: FileRecord, sha1: string): CatalogEntry | undefined => {
    const found = catalog
      .findContent(r.size, sha1)
      .map(usableSource)
      .filter((x): x is CatalogEntry => !!x && x.kind === 'file' && sameModeOwner(newModeOwner.get(byPath.get(x.path) ?? x) ?? x, r));
    return found.find((x) => x.volume === current) ?? found[0];
  };

  const linkOps: Operation[] = [];
  const contentOps: Operation[] = [];
  const copiedContent = new Map<string, CatalogEntry>(); // contentKey -> entry copied this run
  const contentKey = (r: FileRecord, sha1: string) => `${r.size}:${sha1}:${r.mode & 0o7777}:${r.uid}:${r.gid}`;
  const copiedInode = new Map<string, CatalogEntry>(); // data-path inode -> entry copied this run

  const placeOld = (r: FileRecord, old: CatalogEntry | undefined, list: Operation[]): CatalogEntry | undefined => {
    // The occupant the new content displaces: replaced in place on the mounted volume, deleted elsewhere.
    const o = occupant.get(r.path) ?? (old && occupant.get(old.path) === old ? old : undefined);
    if (!o) return undefined;
    if (o.volume === current) return o;
    occupant.delete(o.path);
    replacedKeys.add(o);
    list.push({ type: 'defer', volume: o.volume, action: 'DELETE', path: o.path, target: null, entry: o, record: null, why: 'replaced' });
    counts.deferred++;
    return undefined;
  };

  for (const r of decided) {
    const d = decisions.get(r.path)!;
    if (d.kind === 'hardlink' || d.kind === 'follow') {
      const source = d.kind === 'hardlink' ? occupant.get(d.source.path) : occupant.get(d.leader);
      if (!source) {
        decisions.set(r.path, { kind: 'content', old: byPath.get(r.path) });
        contentPaths.push(r);
        continue;
      }
      counts.linked++;
      const list = d.kind === 'hardlink' ? linkOps : contentOps;
      const replaces = placeOld(r, byPath.get(r.path), list);
      if (source.volume === current) {
        list.push({ type: 'link', record: r, from: source, replaces, why: 'linked' });
      } else {
        if (replaces) {
          list.push({ type: 'delete', entry: replaces, why: 'replaced' });
        }
        list.push({ type: 'defer', volume: source.volume, action: 'LINK', path: source.path, target: r.path, entry: source, record: r, why: 'linked' });
        counts.deferred++;
      }
      occupant.set(r.path, entryFor(r, source.volume, source.sha1, source));
    }
  }

  contentPaths.sort(inPathOrder);
  let bytesToCopy = 0;
  for (const r of contentPaths) {
    const d = decisions.get(r.path)!;
    if (d.kind === 'pending') continue;
    if (d.kind !== 'content') continue;
    const wasThere = d.old !== undefined && !movingAway.has(d.old);
    const why = wasThere ? 'modified' : 'added';
    if (r.kind === 'symlink') {
      const replaces = placeOld(r, d.old, contentOps);
      contentOps.push({ type: 'symlink', record: r, replaces, why });
      occupant.set(r.path, entryFor(r, current, null));
      counts[why]++;
      continue;
    }
    // A new name for a file copied moments ago (hardlinks in the data path): link, no hashing.
    const sibling = copiedInode.get(r.inode);
    if (sibling && sibling.size === r.size && sameMtime(sibling, r) && sameModeOwner(sibling, r)) {
      const replaces = placeOld(r, d.old, contentOps);
      contentOps.push({ type: 'link', record: r, from: sibling, replaces, why: wasThere ? 'modified' : 'linked' });
      occupant.set(r.path, entryFor(r, current, sibling.sha1, sibling));
      counts[wasThere ? 'modified' : 'linked']++;
      continue;
    }
    let sha1: string | undefined;
    // Hashing first costs a second read: worth it only when the content may be stored offline.
    const collides = r.size > 0 && catalog.hasSize(r.size);
    if (collides || hashes.has(r.path)) {
      sha1 = hashOf(r.path);
      if (sha1 === undefined) continue;
    }
    if (sha1 !== undefined) {
      const runCopy = copiedContent.get(contentKey(r, sha1));
      const stored = runCopy ?? findStored(r, sha1);
      if (stored) {
        const list = runCopy ? contentOps : linkOps;
        const replaces = placeOld(r, d.old, list);
        if (stored.volume === current) {
          list.push({ type: 'link', record: r, from: stored, replaces, why: wasThere ? 'modified' : 'linked' });
        } else {
          if (replaces) list.push({ type: 'delete', entry: replaces, why: 'replaced' });
          list.push({ type: 'defer', volume: stored.volume, action: 'LINK', path: stored.path, target: r.path, entry: stored, record: r, why: 'linked' });
          counts.deferred++;
        }
        occupant.set(r.path, entryFor(r, stored.volume, sha1, stored));
        counts[wasThere ? 'modified' : 'linked']++;
        continue;
      }
    }
    const replaces = placeOld(r, d.old, contentOps);
    // Identical content already on this volume (or copied earlier in this run) is found by the copy's
    // own SHA1, and the copy then becomes a hardlink to it.
    contentOps.push({ type: 'copy', record: r, replaces, why, dedupe: r.size > 0 });
    const stored = entryFor(r, current, sha1 ?? null);
    occupant.set(r.path, stored);
    if (sha1 !== undefined) copiedContent.set(contentKey(r, sha1), stored);
    copiedInode.set(r.inode, stored);
    bytesToCopy += r.size;
    counts[why]++;
  }

  for (const op of linkOps) ops.push(op);
  for (const op of contentOps) ops.push(op);

  // ---- paths gone from the data paths ----
  const gone: CatalogEntry[] = [];
  for (const e of byPath.values()) {
    if (status.has(e) || claimedBy.has(e) || replacedKeys.has(e) || unreadable.has(e.path)) continue;
    if (occupant.get(e.path) !== e) continue;
    gone.push(e);
  }
  gone.sort(inPathOrder);
  const guarded: Array<{ root: string; reason: string }> = [];
  const removable = gone.filter((e) => !inIncompleteRoot(e.path));
  counts.missing = gone.length;
  if (options.clean) {
    for (const s of scans) {
      const catalogued = catalog.entries.filter((e) => isUnder(e.path, s.root)).length + (s.unchangedCount ?? 0);
      if (catalogued === 0) continue;
      const removing = removable.filter((e) => isUnder(e.path, s.root)).length;
      let reason: string | undefined;
      if (!s.exists) reason = `data path ${s.root} is missing`;
      else if (s.records.length + (s.unchangedCount ?? 0) === 0) reason = `data path ${s.root} is empty`;
      else if (removing > (options.maxDeletePct / 100) * catalogued) {
        reason = `the run would remove ${removing} of the ${catalogued} files archived under ${s.root} (more than ${options.maxDeletePct}%)`;
      }
      if (reason && removing > 0) guarded.push({ root: s.root, reason });
    }
    if (guarded.length === 0 || options.force) {
      for (const e of removable) {
        removeOccupant(e, 'removed');
        counts.removed++;
        counts.missing--;
      }
    }
  }

  if (needHash.size > 0) {
    return { ops: [], needHash: [...needHash].sort(), counts, bytesToCopy: 0, guarded };
  }
  return { ops, needHash: [], counts, bytesToCopy, guarded: options.force ? [] : guarded };
}
