import type { CatalogEntry } from '../catalog/entry.js';
import type { FileRecord } from '../scan/record.js';
import type { Operation } from './operation.js';
import type { PlanIndex } from './catalog-index.js';
import { sameModeOwner, sameMtime } from './entry.js';

/** What the run does with one data-path record that is not simply unchanged. */
export type Decision =
  | { kind: 'unchanged'; entry: CatalogEntry; record: FileRecord; sha256: string | null }
  | { kind: 'meta'; entry: CatalogEntry; record: FileRecord; sha256: string | null }
  | { kind: 'rename'; source: CatalogEntry }
  | { kind: 'hardlink'; source: CatalogEntry }
  | { kind: 'follow'; leader: string } // another path of the same moved hardlink group
  | { kind: 'content'; old?: CatalogEntry }
  | { kind: 'pending' };

/** Catalog-only updates (a new inode number, mode or owner; a touched file with the same content). */
export class MetaUpdates {
  readonly ops: Operation[] = [];
  /** Stored names whose mode or owner this run changes (before any link is made to them). */
  readonly newModeOwner = new Map<CatalogEntry, FileRecord>();

  constructor(private readonly ix: PlanIndex) {}

  add(e: CatalogEntry, r: FileRecord, sha256: string | null, contentTouched: boolean): void {
    if (!sameModeOwner(e, r)) this.newModeOwner.set(e, r);
    const touchDisk = contentTouched || e.mode !== r.mode || e.uid !== r.uid || e.gid !== r.gid;
    if (touchDisk || e.inode !== r.inode) {
      this.ops.push({ type: 'update', entry: e, record: r, sha256, touchDisk: touchDisk && e.volume === this.ix.current });
    }
    this.ix.counts.unchanged++;
  }
}

export interface Decisions {
  /** A decision per record that needs one, in path order. */
  byPath: Map<string, Decision>;
  /** Records with a decision, in path order (unchanged files have none). */
  decided: FileRecord[];
  /** catalog entry -> the path it is renamed to */
  claimedBy: Map<CatalogEntry, string>;
  updates: MetaUpdates;
}

const sizeMtimeKey = (x: { kind: string; size: number; mtimeSec: number; mtimeNsec: number }) =>
  `${x.kind}:${x.size}:${x.mtimeSec}:${x.mtimeNsec}`;

/** Decides every record: unchanged, metadata only, renamed, linked, new content, or waiting for its SHA-256. */
export function decideRecords(ix: PlanIndex): Decisions {
  const decisions = new Map<string, Decision>();
  const claimedBy = new Map<CatalogEntry, string>();
  const updates = new MetaUpdates(ix);
  const findSource = sourceFinder(ix, claimedBy);
  const unsourced: FileRecord[] = [];
  for (const r of ix.records) {
    const e = ix.byPath.get(r.path);
    const st = e ? ix.status.get(e) : undefined;
    let d: Decision | undefined;
    if (e && st === 'unchanged') {
      if (ix.options.matchMode === 'strict' && e.inode !== r.inode && r.kind === 'file') {
        const h = ix.hashOf(r.path);
        if (h === undefined) d = { kind: 'pending' };
        else if (h === e.sha256) d = { kind: 'unchanged', entry: e, record: r, sha256: h };
        else d = { kind: 'content', old: e };
      } else {
        // the common case, kept free of allocations
        updates.add(e, r, e.sha256, false);
        continue;
      }
    } else if (e && st === 'changed-in-place') {
      d = sameContentOr(ix, e, r) ?? { kind: 'content', old: e };
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
    const e = ix.byPath.get(r.path);
    // A different inode at the same path with the same size: replaced, or merely renumbered. Not when
    // the stored file there is moving away to another name in this run: then this path is new.
    const d = e && !ix.isAbsent(e) && !claimedBy.has(e) ? sameContentOr(ix, e, r) : undefined;
    decisions.set(r.path, d ?? { kind: 'content', old: e });
  }
  // the decisions in path order, as the records came
  const byPath = new Map<string, Decision>();
  const decided: FileRecord[] = [];
  for (const r of ix.records) {
    const d = decisions.get(r.path);
    if (!d) continue;
    byPath.set(r.path, d);
    decided.push(r);
  }
  return { byPath, decided, claimedBy, updates };
}

/**
 * For a file of the stored size at a stored path: 'meta' when its content is the stored one,
 * 'pending' until its SHA-256 is known, undefined when the content differs or cannot be compared.
 */
function sameContentOr(ix: PlanIndex, e: CatalogEntry, r: FileRecord): Decision | undefined {
  if (r.kind !== 'file' || e.kind !== 'file' || r.size !== e.size || e.sha256 === null) return undefined;
  const h = ix.hashOf(r.path);
  if (h === undefined) return { kind: 'pending' };
  return h === e.sha256 ? { kind: 'meta', entry: e, record: r, sha256: h } : undefined;
}

/** Finds the catalogued file a new path came from: a rename, a new hardlink, or nothing. */
function sourceFinder(ix: PlanIndex, claimedBy: Map<CatalogEntry, string>): (r: FileRecord) => Decision | undefined {
  const { options, hashes } = ix.input;
  if (options.matchMode === 'path-size-mtime') return () => undefined;
  if (options.matchMode === 'size-mtime') {
    // size+mtime index of possible rename sources, for sources without stable inodes
    const vacatedBySizeMtime = new Map<string, CatalogEntry[]>();
    for (const e of ix.byPath.values()) {
      if (!ix.renameSourceAllowed(e)) continue;
      const k = sizeMtimeKey(e);
      const list = vacatedBySizeMtime.get(k);
      if (list) list.push(e);
      else vacatedBySizeMtime.set(k, [e]);
    }
    const newRecordsBySizeMtime = new Map<string, number>();
    for (const r of ix.records) {
      const e = ix.byPath.get(r.path);
      if (e && ix.statusOf(e) !== 'vacated') continue;
      const k = sizeMtimeKey(r);
      newRecordsBySizeMtime.set(k, (newRecordsBySizeMtime.get(k) ?? 0) + 1);
    }
    return (r) => {
      const k = sizeMtimeKey(r);
      const list = vacatedBySizeMtime.get(k);
      if (!list || list.length !== 1 || newRecordsBySizeMtime.get(k) !== 1) return undefined;
      const src = list[0]!;
      if (src.path === r.path || claimedBy.has(src)) return undefined;
      return { kind: 'rename', source: src };
    };
  }
  return (r) => {
    const candidates = (ix.byInode.get(r.inode) ?? []).filter((c) => c.kind === r.kind && c.size === r.size && c.path !== r.path);
    if (candidates.length === 0) return undefined;
    // An old name of this inode that is gone: the record is that file, moved. A moved hardlink group
    // pairs old and new names one to one; extra new names link to the first.
    let follow: Decision | undefined;
    for (const c of candidates) {
      if (!ix.renameSourceAllowed(c)) continue;
      if (!sameMtime(c, r)) {
        // Same inode but touched since: only its content can say whether it is the same file.
        if (r.kind !== 'file') continue;
        const h = ix.hashOf(r.path);
        if (h === undefined) return { kind: 'pending' };
        if (h !== c.sha256) continue;
      } else if (r.kind === 'file' && c.sha256 !== null && hashes.has(r.path) && hashes.get(r.path) !== c.sha256) {
        continue; // read already (a cross-match): an inode number reused by other content
      }
      const leader = claimedBy.get(c);
      if (leader === undefined) return { kind: 'rename', source: c };
      follow ??= { kind: 'follow', leader };
    }
    // Still present under another name with that inode: the record is a new hardlink to it.
    const staying = candidates.find((c) => ix.statusOf(c) === 'unchanged');
    if (staying) return { kind: 'hardlink', source: staying };
    return follow;
  };
}
