import type { Plan } from './operation.js';
import { indexCatalog, type PlanInput } from './catalog-index.js';
import { planContent, planUpdates } from './content.js';
import { decideRecords } from './decide.js';
import { Ledger } from './ledger.js';
import { planMoves } from './moves.js';
import { blockedByKept, clearKindChanges, goneEntries, guardRemovals, nowDirectories, planRemovals } from './removals.js';

export type { CatalogView, PlanInput } from './catalog-index.js';
export { entryFor, sameModeOwner } from './entry.js';

/**
 * Decides a backup: compares what the data paths hold now with what the catalog knows and returns
 * the operations that bring the mounted volume (and, by deferred actions, the offline ones) up to
 * date. Pure: no file system, no clock. When a decision needs a file's SHA-256 the plan lists it in
 * `needHash`; the caller hashes those files and plans again.
 *
 * Operations come in this order: what stands in the way of a kind change, renames, metadata-only
 * updates, new hardlinks and links to stored content, new content, removals.
 */
export function plan(input: PlanInput): Plan {
  let ix = indexCatalog(input);
  let decisions = decideRecords(ix);
  // The guard weighs every removal --clean would make, those below former directories too; what
  // the run then keeps below a former directory keeps the object now at its path off the disk.
  const replaced = nowDirectories(ix, decisions);
  const guarded = guardRemovals(ix, goneEntries(ix, decisions).filter((e) => !replaced.has(e)));
  const removing = ix.options.clean && (guarded.length === 0 || ix.options.force);
  const blocked = blockedByKept(ix, decisions, removing);
  if (blocked.length > 0) {
    const left = new Set(blocked.map((b) => b.path));
    ix = indexCatalog({ ...input, scans: input.scans.map((s) => ({ ...s, records: s.records.filter((r) => !left.has(r.path)) })) });
    decisions = decideRecords(ix);
  }
  const ledger = new Ledger(ix);
  clearKindChanges(ix, decisions, ledger);
  const moves = planMoves(ix, decisions, ledger);
  planUpdates(decisions, ledger);
  const bytesToCopy = planContent(ix, decisions, moves, ledger);
  planRemovals(ix, decisions, ledger, guarded);
  const { counts, options } = ix;
  if (ix.needHash.size > 0) {
    return { ops: [], needHash: [...ix.needHash].sort(), counts, bytesToCopy: 0, guarded, blocked };
  }
  return { ops: ledger.ops, needHash: [], counts, bytesToCopy, guarded: options.force ? [] : guarded, blocked };
}
