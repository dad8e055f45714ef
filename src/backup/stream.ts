/**
 * Plans and applies a backup a chunk at a time, so that memory stays bounded however many files
 * are new (SPEC §9: a first backup of a million files under 1 GiB). The records the catalog ties
 * to anything (plan/partition.ts) are planned together first, against the whole catalog view and
 * after the whole scan: renames and moves across the tree, kind changes, what is gone and the
 * mass-delete guard's totals are decided as before. The rest, plain new content, is then planned
 * and applied one scanned chunk at a time, each chunk's rows committed before the next is
 * unpacked. Removals of gone files come last, as in a plan made whole, so that new files can still
 * be linked to content that is about to go.
 */
import type { CatalogView } from '../plan/planner.js';
import type { Operation, Plan, PlanCounts, PlanOptions } from '../plan/operation.js';
import { relatedTo } from '../plan/partition.js';
import { emptyCounts } from '../plan/catalog-index.js';
import type { FileRecord, PackedScan, RootScan, ScanChunk } from '../scan/record.js';
import { comparePaths } from '../fsx/paths.js';
import { FIELD, FIELDS } from '../fsx/addon.js';
import { only, recordsOf, type PartedScan, type RecordPart } from './quickcheck.js';
import { planWithHashes, type PlanSkip } from './backup.js';
import type { Fsx } from '../fsx/fsx.js';

export interface StreamedPlan {
  /** The scans less their unchanged files (QuickCheck.resultInParts); their parts are used up. */
  scans: PartedScan[];
  /** The catalog as the planner sees it (backup.ts catalogView). */
  view: CatalogView;
  /**
   * Whether content of this size was stored before the run began: only then is a new file hashed
   * before it is copied (CatalogView.hasSize), though earlier chunks have added rows since.
   */
  hadSize(size: number): boolean;
  volume: string;
  options: PlanOptions;
  /** The file-system layer files to hash are read through. */
  fs: Fsx;
  excluded?: (path: string) => boolean;
  onSkip(skip: PlanSkip): void;
  /** The plan of the related records is made: what the whole run will do, roughly (progress). */
  planned(p: Plan, totals: { files: number; bytes: number }): void;
  /** Applies one part of the plan; `more` while others follow. False: the run stopped, plan no more. */
  apply(ops: Operation[], more: boolean): Promise<boolean>;
}

/** Removals of gone files wait for the end; those that make room for a kind change cannot. */
const isRemoval = (op: Operation) =>
  (op.type === 'delete' || op.type === 'defer') && op.why === 'removed' && !(op.type === 'delete' && op.makesRoomFor !== undefined);

export function addCounts(into: PlanCounts, more: PlanCounts): void {
  for (const k of Object.keys(into) as (keyof PlanCounts)[]) into[k] += more[k];
}

/** Plans and applies the whole backup; returns the plan's figures (its operations are not kept). */
export async function planAndApply(s: StreamedPlan): Promise<Plan> {
  const related = relatedTo(s.view.entries, s.options);
  const together: RootScan[] = [];
  const later: Array<{ root: string; parts: RecordPart[] }> = [];
  let laterBytes = 0;
  let laterFiles = 0;
  for (const scan of s.scans) {
    const records: FileRecord[] = [];
    const parts: RecordPart[] = [];
    let streamed = 0;
    for (const part of scan.parts) {
      const alone: number[] = [];
      let k = 0;
      for (const r of recordsOf(part)) {
        const i = part.indices[k++]!;
        if (related(r)) {
          records.push(r);
          continue;
        }
        alone.push(i);
        if (r.kind === 'file') laterBytes += r.size;
      }
      if (alone.length > 0) parts.push({ chunk: part.chunk, indices: alone });
      streamed += alone.length;
    }
    laterFiles += streamed;
    const { parts: _, ...rest } = scan;
    together.push({ ...rest, records, streamedCount: (scan.streamedCount ?? 0) + streamed });
    later.push({ root: scan.root, parts });
    scan.parts = [];
  }

  const first = await planWithHashes(together, s.view, s.volume, s.options, s.onSkip, s.fs, s.excluded);
  const removals = first.ops.filter(isRemoval);
  const head = first.ops.filter((op) => !isRemoval(op));
  const counts = { ...first.counts };
  let bytesToCopy = first.bytesToCopy;
  let filesRead = first.filesRead ?? 0;
  s.planned(first, { files: first.ops.length + laterFiles, bytes: first.bytesToCopy + laterBytes });
  let going = await s.apply(head, true);

  // Nothing in the catalog view concerns these files: each chunk is planned against the catalogs
  // as the chunks before it left them (content they stored is found, and linked).
  const alone: CatalogView = { entries: [], findContent: s.view.findContent, hasSize: s.hadSize };
  for (const { root, parts } of later) {
    for (let n = 0; n < parts.length && going; n++) {
      const records = [...recordsOf(parts[n]!)];
      parts[n] = { chunk: { ...parts[n]!.chunk, text: '', info: new Float64Array(0), targets: [] }, indices: [] };
      const scan: RootScan = { root, exists: true, complete: true, skipped: [], records };
      const p = await planWithHashes([scan], alone, s.volume, s.options, s.onSkip, s.fs);
      addCounts(counts, p.counts);
      bytesToCopy += p.bytesToCopy;
      filesRead += p.filesRead ?? 0;
      going = await s.apply(p.ops, true);
    }
  }
  // Always called: the last part waits for the parity still being made.
  await s.apply(going ? removals : [], false);
  return { ops: [], needHash: [], counts, bytesToCopy, guarded: first.guarded, filesRead };
}

/**
 * How many scanned chunks (CHUNK files each, ~200 bytes a file) a first backup lets the scan hold
 * ahead of the copying: the scan is many times faster than the copies, so without a bound it
 * would hold the whole scan (~200 MiB at a million files) by the time the copying is under way.
 */
export const AHEAD_CHUNKS = 4;

/** What a first backup's chunks are planned against and applied through, as they come from the scan. */
export interface ChunkStreamOptions {
  volume: string;
  options: PlanOptions;
  fs: Fsx;
  /** The catalogs as they stand (content stored by earlier chunks is found, and linked). */
  view: Pick<CatalogView, 'findContent'>;
  hadSize(size: number): boolean;
  onSkip(skip: PlanSkip): void;
  /** Before a chunk's files are written: the folders they go into that must be made first (narrow ones). */
  beforeWrite(root: string, records: FileRecord[]): void;
  /** Applies one chunk's operations; false: the run stopped, plan no more. */
  apply(ops: Operation[]): Promise<boolean>;
  /** The chunk is done with (the scan may walk on). */
  release(): void;
}

/**
 * A first backup planned and applied a chunk at a time while the scan goes on (SPEC §9): with
 * nothing catalogued under the data paths, nothing can be renamed, replaced or removed, and a file
 * with one name is new content at a path nobody has, whose only question (is this content stored
 * already?) the catalogs answer as they stand. So each chunk is planned and applied as it comes,
 * then let go, and the scan waits while AHEAD_CHUNKS are held (BackgroundScan.bound); the files
 * with other names are set aside for the plan made after the scan (planAndApply).
 */
export class ChunkStream {
  /** Figures of the operations applied so far. */
  readonly counts: PlanCounts = emptyCounts();
  bytesToCopy = 0;
  filesRead = 0;
  /** Operations applied so far. */
  operations = 0;
  /** Files streamed per data path (they make it not empty: RootScan.streamedCount). */
  readonly streamed = new Map<string, number>();
  /** The most chunks waiting at once (for the test that the scan is held back). */
  mostWaiting = 0;
  /**
   * True once the run stopped (disk full, interrupted, a chunk that failed): every chunk that
   * comes after is let go at once, unplanned, so the scan never waits on a consumer that is gone.
   */
  private stopped = false;
  private readonly waiting: Array<{ root: string; chunk: ScanChunk }> = [];
  /**
   * Files with other names (nlink > 1), set aside for the plan made after the whole scan: their
   * other names may be in any chunk, and a hardlink group is found across the whole scan.
   */
  private readonly aside = new Map<string, ScanChunk[]>();
  /**
   * Whether drain() is under way. A flag of its own, set before drain() is called and cleared in
   * its `finally`: a drain that ends without awaiting anything (every chunk let go) ends before
   * its promise could be stored, and a test of the stored promise alone then never saw it end.
   */
  private busy = false;
  private draining: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | null = null;
  /** Settles (rejects) when a chunk failed: the run need not wait for the scan to end to say why. */
  readonly failed: Promise<never>;
  private fail!: (error: unknown) => void;

  constructor(private readonly o: ChunkStreamOptions) {
    this.failed = new Promise<never>((_, reject) => (this.fail = reject));
    // Awaited only when the run chooses to (Promise.race with the scan): never unhandled.
    this.failed.catch(() => {});
  }

  /** One chunk from the scan (any order). */
  add(root: string, chunk: ScanChunk): void {
    if (this.stopped) {
      this.o.release();
      return;
    }
    this.waiting.push({ root, chunk });
    this.mostWaiting = Math.max(this.mostWaiting, this.waiting.length);
    if (!this.busy) {
      this.busy = true;
      this.draining = this.drain();
    }
  }

  /** The run stopped (the executor said so, or it ends early): plan no more; what waits is let go. */
  stop(): void {
    this.stopped = true;
    for (let w = this.waiting.shift(); w !== undefined; w = this.waiting.shift()) this.o.release();
  }

  /** Waits until every chunk added is applied or let go; throws what applying one threw. */
  async finished(): Promise<void> {
    while (this.busy) await this.draining;
    if (this.failure) throw this.failure.error;
  }

  /**
   * The scans (complete now) as planAndApply takes them: the files set aside, in byte order, and
   * how many were streamed (nothing was catalogued, so nothing is unchanged or kept).
   */
  rest(scans: PackedScan[]): { scans: PartedScan[]; keep: Set<string>; unchanged: number } {
    const parted = scans.map(({ chunks: _, folders: _f, openedFolders: _o, ...s }): PartedScan => {
      const chunks = (this.aside.get(s.root) ?? []).sort((a, b) => comparePaths(a.lo, b.lo));
      const parts = chunks.map((chunk) => ({ chunk, indices: Array.from({ length: chunk.count }, (_, i) => i) }));
      return { ...s, parts, unchangedCount: 0, streamedCount: this.streamed.get(s.root) ?? 0 };
    });
    this.aside.clear();
    return { scans: parted, keep: new Set(), unchanged: 0 };
  }

  private async drain(): Promise<void> {
    try {
      for (let next = this.waiting.shift(); next !== undefined; next = this.waiting.shift()) {
        try {
          if (!this.stopped) await this.one(next.root, next.chunk);
        } catch (error) {
          this.failure ??= { error };
          this.stop();
          this.fail(error);
        } finally {
          // Every chunk handed over is released exactly once, whatever became of it.
          this.o.release();
        }
      }
    } finally {
      this.busy = false;
    }
  }

  private async one(root: string, chunk: ScanChunk): Promise<void> {
    const linked: number[] = [];
    const alone: number[] = [];
    for (let i = 0; i < chunk.count; i++) (chunk.info[i * FIELDS + FIELD.nlink]! > 1 ? linked : alone).push(i);
    if (linked.length > 0) {
      const pairs = chunk.text.split('\0');
      const list = this.aside.get(root) ?? [];
      list.push(only(chunk, linked.map((i) => `${pairs[2 * i]}\0${pairs[2 * i + 1]}`), linked));
      this.aside.set(root, list);
    }
    if (alone.length === 0) return;
    this.streamed.set(root, (this.streamed.get(root) ?? 0) + alone.length);
    const records = [...recordsOf({ chunk, indices: alone })];
    this.o.beforeWrite(root, records);
    const scan: RootScan = { root, exists: true, complete: true, skipped: [], records };
    const view: CatalogView = { entries: [], findContent: this.o.view.findContent, hasSize: this.o.hadSize };
    const p = await planWithHashes([scan], view, this.o.volume, this.o.options, this.o.onSkip, this.o.fs);
    addCounts(this.counts, p.counts);
    this.bytesToCopy += p.bytesToCopy;
    this.filesRead += p.filesRead ?? 0;
    this.operations += p.ops.length;
    if (!(await this.o.apply(p.ops))) this.stop();
  }
}
