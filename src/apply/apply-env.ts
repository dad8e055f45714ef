import type { CatalogEntry } from '../catalog/entry.js';
import type { Fsx } from '../fsx/fsx.js';
import type { CatalogBatch } from './batch.js';
import type { ContentFilter } from './content-filter.js';
import type { CopyAhead } from './copy-ahead.js';
import type { ExecutionResult, ExecutorContext } from './env.js';
import type { LoosenedNames } from './loosened.js';
import type { ParityQueue } from './parity-queue.js';
import type { SpaceBudget } from './space.js';

/** What the operation handlers share during one run of the executor. */
export interface ApplyEnv {
  readonly ctx: ExecutorContext;
  readonly fs: Fsx;
  readonly batch: CatalogBatch;
  readonly space: SpaceBudget;
  /** Small new files copied ahead to temporary names (copy-ahead.ts). */
  readonly ahead: CopyAhead;
  readonly result: ExecutionResult;
  readonly parity: ParityQueue;
  readonly loosened: LoosenedNames;
  /** Files of a swap or rotation waiting below .blaine/tmp: no commit and no stop until they are home. */
  readonly parked: Set<string>;
  /** The operation under way turned out to be content the volume already had. */
  deduped: boolean;
  /**
   * By content, mode and owner (write-ops.ts contentKey): the stored name equal files link to from
   * now on, once another name's inode had all the names the file system allows (EMLINK).
   */
  readonly linkGroups: Map<string, CatalogEntry>;
  /**
   * When the volume held no file as the run began: every content its rows have (the run's own),
   * so that a copy looks for a stored twin in the catalog only when there may be one.
   */
  readonly written: ContentFilter | null;
  /** The operation under way found its source file gone: nothing was done, nothing to count. */
  vanished: boolean;
  /** Records why the run stops (the first reason wins); the operation under way is the last. */
  stop(why: NonNullable<ExecutionResult['stopped']>): void;
  /** storedRow for this run. */
  stored(e: CatalogEntry): CatalogEntry;
}
