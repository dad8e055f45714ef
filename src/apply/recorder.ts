import type { CatalogEntry } from '../catalog/entry.js';
import type { Operation } from '../plan/operation.js';
import { entryFor, sameModeOwner } from '../plan/entry.js';
import type { FileRecord } from '../scan/record.js';
import { sha256File } from '../fsx/copy.js';

import { CatalogBatch, storedRow } from './batch.js';
import type { Applier, ExecutionResult, ExecutorContext } from './env.js';
import { applyDefer } from './move-ops.js';
import { refused, SpaceBudget, spaceRuleOf } from './space.js';
import { emptyResult, tally } from './tally.js';

/**
 * The dry run's applier (SPEC §5 `--dry-run`): writes nothing to the disk. Each operation is recorded
 * (into `recorded`, shared by the catch-up and the backup), counted as the Executor counts it, and
 * given the effect the Executor would have on the catalogs it is handed, which for a dry run are
 * private copies: so the steps after it (the catch-up's lacking rows, the quick check, the plan)
 * see what the real run would see. Each planned copy goes through the same space rule as the real
 * run's (apply/space.ts, with its parity, gocryptfs's overhead and the catalogs' growth), so the dry
 * run stops where the real one finds the disk full.
 */
export class RecordingApplier implements Applier {
  /** Copies recorded so far, by size, with their SHA-256 once read (see twinCopied). */
  private readonly copiesBySize = new Map<number, Array<{ record: FileRecord; sha256?: string | null }>>();

  constructor(
    private readonly ctx: ExecutorContext,
    private readonly recorded: Operation[],
    /** The parity the real run makes, in percent (0: none). */
    private readonly parityPct: number,
  ) {}

  /** A dry run makes no parity. */
  resumeParity(): number {
    return 0;
  }

  /** What the parts of the run so far did, and the disk space their copies took. */
  private readonly result = emptyResult();
  private space: SpaceBudget | undefined;

  async run(ops: Operation[]): Promise<ExecutionResult> {
    const ctx = this.ctx;
    const result = this.result;
    const batch = new CatalogBatch(ctx.host, ctx.disk, ctx.volume, () => {});
    const space = (this.space ??= new SpaceBudget(ctx.root, ctx.fs, spaceRuleOf(ctx, this.parityPct), false, ctx.reservedFiles));
    let i = 0;
    for (const op of ops) {
      if (result.stopped) break;
      let deduped = false;
      if (op.type === 'copy') {
        const size = op.record.size;
        const room = space.admit(op.record.path, size);
        if (refused(room)) {
          result.stopped = { reason: 'disk-full', refused: room };
          break;
        }
        deduped = !!op.dedupe && size > 0 && (await this.twinCopied(op.record));
        // The real run copies it, finds its twin, and gives the room back for a link.
        if (deduped) space.withdraw(room);
        else result.bytesCopied += size;
      }
      this.catalogEffect(batch, result, op);
      tally(result.counts, op, deduped);
      this.recorded.push(op);
      result.done++;
      i++;
      ctx.progress?.(i, ops.length, result.bytesCopied, ops[i]);
      batch.step();
    }
    batch.commit();
    return result;
  }

  /**
   * Whether an earlier copy of this run holds the same content (with the same mode and owner): the
   * real run finds that by the SHA-256 it computes while copying, and links instead. Only files of a
   * size copied before are read; the planner has already linked content stored earlier.
   */
  private async twinCopied(r: FileRecord): Promise<boolean> {
    const seen = this.copiesBySize.get(r.size);
    const mine: { record: FileRecord; sha256?: string | null } = { record: r };
    if (!seen) {
      this.copiesBySize.set(r.size, [mine]);
      return false;
    }
    seen.push(mine);
    const alike = seen.filter((c) => c !== mine && sameModeOwner(c.record, r));
    if (alike.length === 0) return false;
    const sha256Of = async (c: { record: FileRecord; sha256?: string | null }) => {
      if (c.sha256 === undefined) {
        try {
          c.sha256 = (await sha256File(c.record.path, { fs: this.ctx.fs })).sha256;
        } catch {
          c.sha256 = null; // unreadable: the real run reports it; here it simply has no twin
        }
      }
      return c.sha256;
    };
    const own = await sha256Of(mine);
    if (own === null) return false;
    for (const c of alike) if ((await sha256Of(c)) === own) return true;
    return false;
  }

  /** What the Executor's handler for op writes to the catalogs (write-ops.ts, move-ops.ts). */
  private catalogEffect(batch: CatalogBatch, result: ExecutionResult, op: Operation): void {
    const { ctx } = this;
    const stored = (e: CatalogEntry) => storedRow(ctx, e);
    switch (op.type) {
      case 'copy':
        if (op.replaces && op.replaces.volume !== ctx.volume) batch.drop(op.replaces);
        batch.put(entryFor(op.record, ctx.volume, null));
        return;
      case 'symlink':
        batch.put(entryFor(op.record, ctx.volume, null));
        return;
      case 'link': {
        const from = stored(op.from);
        batch.put(entryFor(op.record, ctx.volume, from.sha256, from));
        return;
      }
      case 'rename': {
        const from = stored(op.from);
        batch.drop(from);
        batch.put(op.record ? entryFor(op.record, ctx.volume, from.sha256, from) : { ...from, path: op.to });
        return;
      }
      case 'delete':
        batch.drop(op.entry);
        return;
      case 'update': {
        const e = stored(op.entry);
        batch.put(entryFor(op.record, e.volume, op.sha256 ?? e.sha256, e));
        return;
      }
      case 'defer':
        applyDefer({ ctx: { ...ctx, tell: () => {} }, batch, result }, op);
        return;
    }
  }
}
