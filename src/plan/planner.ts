import type { Plan } from './operation.js';
import { indexCatalog, type PlanInput } from './catalog-index.js';
import { planContent, planUpdates } from './content.js';
import { decideRecords } from './decide.js';
import { Ledger } from './ledger.js';
import { planMoves } from './moves.js';
import { clearKindChanges, planRemovals } from './removals.js';

export type { CatalogView, PlanInput } from './catalog-index.js';
export { entryFor, sameModeOwner } from './entry.js';

/**
 * Decides a backup: compares what the data paths hold now with what the catalog knows and returns
 * the operations that bring the mounted volume (and, by deferred actions, the offline ones) up to
 * date. Pure: no file system, no clock. When a decision needs a file's SHA1 the plan lists it in
 * `needHash`; the caller hashes those files and plans again.
 *
 * Operations come in this order: what stands in the way of a kind change, renames, metadata-only
 * updates, new hardlinks and links to stored content, new content, removals.
 */
export function plan(input: PlanInput): Plan {
  const ix = indexCatalog(input);
  const decisions = decideRecords(ix);
  const ledger = new Ledger(ix);
  clearKindChanges(ix, decisions, ledger);
  const moves = planMoves(ix, decisions, ledger);
  planUpdates(decisions, ledger);
  const bytesToCopy = planContent(ix, decisions, moves, ledger);
  const guarded = planRemovals(ix, decisions, ledger);
  const { counts, options } = ix;
  if (ix.needHash.size > 0) {
    return { ops: [], needHash: [...ix.needHash].sort(), counts, bytesToCopy: 0, guarded };
  }
  return { ops: ledger.ops, needHash: [], counts, bytesToCopy, guarded: options.force ? [] : guarded };
}
