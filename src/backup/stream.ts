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
import type { FileRecord, RootScan } from '../scan/record.js';
import { recordsOf, type PartedScan, type RecordPart } from './quickcheck.js';
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

function addCounts(into: PlanCounts, more: PlanCounts): void {
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
    together.push({ ...rest, records, streamedCount: streamed });
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
