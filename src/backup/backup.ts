import type { DirCounts } from '../dirs/sync.js';
import path from 'node:path';
import type { Catalog } from '../catalog/catalog.js';
import type { CatalogEntry } from '../catalog/entry.js';
import { sha256File } from '../fsx/copy.js';
import { Executor, type ApplierFactory, type ExecutionResult, type ExecutorContext } from '../apply/executor.js';
import { freeBytes } from '../fsx/space.js';
import { isUnder } from '../fsx/paths.js';
import { goneFromSource } from '../fsx/exists.js';
import type { Fsx } from '../fsx/fsx.js';
import { CopyError } from '../fsx/copy-error.js';
import type { Operation, Plan, PlanCounts, PlanOptions } from '../plan/operation.js';
import { plan, type CatalogView } from '../plan/planner.js';
import type { ExclusionFilter } from '../scan/exclude.js';
import type { RootScan, SkippedEntry } from '../scan/record.js';
import { scanRoot } from '../scan/scanner.js';

/** The run's summary (SPEC §4 `backup --json`): what was done by kind, plus the figures. */
export interface BackupSummary extends PlanCounts {
  skipped: number;
  bytesCopied: number;
  parityBytes: number;
  /** The blocks the parity made takes on the disk: its real cost (a small file's set is a block at least). */
  parityDiskBytes: number;
  seconds: number;
  diskFull: boolean;
  interrupted: boolean;
  freeBytes: number | null;
  /** Directories below the data paths (dirs/sync.ts). */
  directories?: DirCounts;
}

export interface ScanResult {
  scans: RootScan[];
  skipped: SkippedEntry[];
}

export function scanDataPaths(roots: string[], filter: ExclusionFilter | undefined, onProgress?: (n: number) => void): ScanResult {
  const scans: RootScan[] = [];
  const skipped: SkippedEntry[] = [];
  let before = 0;
  for (const root of roots) {
    const s = scanRoot(root, { filter, onProgress: onProgress && ((n) => onProgress(before + n)) });
    before += s.records.length;
    scans.push(s);
    for (const k of s.skipped) skipped.push(k);
  }
  return { scans, skipped };
}

/**
 * Up to this many changed paths, their rows are read one by one by primary key; beyond, in one range
 * scan (about 20 µs a row by key: a range scan of a million rows takes seconds and holds them all).
 */
const BY_KEY_BELOW = 100_000;

/**
 * The planner's view: the mounted volume as its own disk catalog knows it (the truth for that
 * volume), every other volume as the host catalog knows it.
 */
export function catalogView(
  host: Catalog,
  disk: Catalog,
  volume: string,
  roots: string[],
  only?: ReadonlySet<string>,
  lacking?: readonly CatalogEntry[],
): CatalogView {
  const entries: CatalogEntry[] = [];
  if (only && only.size < BY_KEY_BELOW) {
    // after a quick check: only what changed, by primary key (not every row of the volume)
    for (const p of only) {
      const e = disk.get(volume, p);
      if (e) entries.push(e);
    }
  } else {
    for (const root of roots) for (const e of disk.leanEntriesUnder(volume, root)) if (!only || only.has(e.path)) entries.push(e);
  }
  const seen = new Set<string>();
  const othersExist = host.volumes().some((v) => v.uuid !== volume);
  for (const root of othersExist ? roots : []) {
    for (const e of host.entriesUnderExcept(root, volume)) {
      const k = `${e.volume}\0${e.path}`;
      if (seen.has(k)) continue;
      seen.add(k);
      entries.push(e);
    }
  }
  // A copy that was behind may still lack rows its volume has (their content is on the other copy):
  // the catch-up found them, and the planner sees them as stored here but absent.
  const absent = new Set<string>();
  for (const e of lacking ?? []) {
    if (absent.has(e.path) || !roots.some((r) => isUnder(e.path, r))) continue;
    absent.add(e.path);
    entries.push(e);
  }
  return {
    entries,
    absent,
    findContent: (size, sha256) => [
      ...disk.findContent(size, sha256).filter((e) => e.volume === volume),
      ...host.findContent(size, sha256).filter((e) => e.volume !== volume),
    ],
    // Content the mounted volume holds is linked without needing space, so it is looked for first.
    hasSize: (size) => disk.hasSize(size) || (othersExist && host.hasSizeElsewhere(size, volume)),
  };
}

/** A file the planner leaves out, and why; the command puts it in words. */
export type PlanSkip =
  /** It could not be read for hashing; its archived copy is kept as it is. */
  | { why: 'unreadable'; path: string; error: string; /** The read error's own sentence, when it has one. */ sentence?: string }
  /** It was a folder of archived files and is now a file or symlink: the files below are kept, it is not archived. */
  | { why: 'kept-below'; path: string; kind: 'file' | 'symlink'; kept: number };

/**
 * Plans, hashing what the planner asks for between rounds. A file that cannot be read for hashing
 * is reported and left out as unreadable, so its archived copy is kept as it is.
 */
export async function planWithHashes(
  scans: RootScan[],
  view: CatalogView,
  volume: string,
  options: PlanOptions,
  onSkip: (skip: PlanSkip) => void,
  fsx: Fsx,
  excluded?: (path: string) => boolean,
): Promise<Plan> {
  // What was read before planning (a link made by SHA-1 alone) is not read again.
  const hashes = new Map<string, string>(view.storedDiffers ?? []);
  // Files that vanished since the scan are simply gone (SPEC §5), not unreadable.
  const gone = new Set<string>();
  let current = scans;
  for (let round = 0; round < 5; round++) {
    const p = plan({ scans: current, catalog: view, current: volume, hashes, options, excluded });
    if (p.needHash.length === 0) {
      for (const b of p.blocked ?? []) onSkip({ why: 'kept-below', ...b });
      return { ...p, filesRead: hashes.size };
    }
    const unreadable = new Set<string>();
    for (const file of p.needHash) {
      try {
        hashes.set(file, (await sha256File(file, { fs: fsx })).sha256);
      } catch (err) {
        if (goneFromSource(file, fsx)) {
          gone.add(file);
          continue;
        }
        unreadable.add(file);
        onSkip({ why: 'unreadable', path: file, error: (err as NodeJS.ErrnoException).code ?? (err as Error).message, ...(err instanceof CopyError ? { sentence: err.message } : {}) });
      }
    }
    if (unreadable.size > 0 || gone.size > 0) {
      current = current.map((s) => {
        const drop = s.records.filter((r) => unreadable.has(r.path));
        if (drop.length === 0 && !s.records.some((r) => gone.has(r.path))) return s;
        return {
          ...s,
          records: s.records.filter((r) => !unreadable.has(r.path) && !gone.has(r.path)),
          skipped: [...s.skipped, ...drop.map((r) => ({ path: r.path, reason: 'unreadable' as const, message: 'cannot be read' }))],
        };
      });
    }
  }
  throw new Error('planning did not settle after five rounds of hashing');
}

export async function executePlan(
  ops: Operation[],
  o: ExecutorContext,
  makeApplier: ApplierFactory = (c) => new Executor(c),
): Promise<ExecutionResult> {
  const ex = makeApplier(o);
  ex.resumeParity();
  // Offline volumes' generations move on in the transaction that queues their actions (executor).
  return ex.run(ops);
}

export function summarize(p: Plan, r: ExecutionResult, skipped: number, started: number, root: string | null, fsx: Fsx): BackupSummary {
  // What was done (a full disk stops the run short of its plan), or for a dry run what it recorded.
  const c = { ...p.counts, ...r.counts };
  return {
    unchanged: c.unchanged,
    added: c.added,
    modified: c.modified,
    renamed: c.renamed,
    linked: c.linked,
    removed: c.removed,
    deferred: c.deferred,
    skipped: skipped + r.skipped.length,
    bytesCopied: r.bytesCopied,
    parityBytes: r.parityBytes,
    parityDiskBytes: r.parityDiskBytes,
    seconds: Math.round((Date.now() - started) / 10) / 100,
    diskFull: r.stopped?.reason === 'disk-full',
    missing: c.missing,
    excluded: c.excluded,
    interrupted: r.stopped?.reason === 'interrupted',
    freeBytes: root ? freeBytes(root, fsx) : null,
  };
}

/**
 * Whether the rules exclude a catalogued path, as the scan would have: its file rule, or a rule
 * on any directory above it (the scan does not enter an excluded directory).
 */
export function excludedBy(filter: ExclusionFilter | undefined, roots: string[]): ((p: string) => boolean) | undefined {
  if (!filter || filter.empty) return undefined;
  return (p) => {
    const root = roots.find((r) => isUnder(p, r));
    if (root === undefined) return false;
    const rel = root === '/' ? p.slice(1) : p.slice(root.length + 1);
    for (let i = rel.indexOf('/'); i > 0; i = rel.indexOf('/', i + 1)) if (filter.excludesDir(rel.slice(0, i))) return true;
    return filter.excludesFile(rel);
  };
}

export function normaliseRoots(paths: string[]): string[] {
  const roots = paths.map((p) => path.resolve(p));
  // A data path inside another is scanned once, as part of the outer one.
  return [...new Set(roots)].filter((r, _, all) => !all.some((o) => o !== r && isUnder(r, o))).sort();
}
