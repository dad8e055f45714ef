import type { CatalogEntry } from '../catalog/entry.js';
import type { FileRecord } from '../scan/record.js';
import type { PlanIndex } from './catalog-index.js';
import type { Decision, Decisions } from './decide.js';
import { entryFor } from './entry.js';
import type { Ledger } from './ledger.js';
import { orderMoves } from './renames.js';

interface PlannedMove {
  from: string;
  to: string;
  source: CatalogEntry;
  record: FileRecord;
}

export interface Moves {
  /** Stored files that move to another name in this run. */
  movingAway: Set<CatalogEntry>;
  /** Where each moved file stands once the renames are done. */
  finalPathOf: Map<CatalogEntry, string>;
}

/** Renames: replaced targets first, then the moves of each volume in a safe order (the mounted one first). */
export function planMoves(ix: PlanIndex, d: Decisions, ledger: Ledger): Moves {
  const renames = d.decided
    .map((r) => ({ r, d: d.byPath.get(r.path)! }))
    .filter((x): x is { r: FileRecord; d: Extract<Decision, { kind: 'rename' }> } => x.d.kind === 'rename');
  const movingAway = new Set(renames.map((x) => x.d.source));
  for (const { r } of renames) {
    const o = ledger.get(r.path);
    if (o && !movingAway.has(o)) ledger.removeOccupant(o, 'replaced');
  }
  const movesByVolume = new Map<string, PlannedMove[]>();
  for (const { r, d } of renames) {
    const list = movesByVolume.get(d.source.volume) ?? [];
    list.push({ from: d.source.path, to: r.path, source: d.source, record: r });
    movesByVolume.set(d.source.volume, list);
  }
  const current = ix.current;
  const volumesInOrder = [...movesByVolume.keys()].sort((a, b) => (a === current ? -1 : b === current ? 1 : a < b ? -1 : 1));
  let temps = 0;
  for (const vol of volumesInOrder) temps = sequenceMoves(ix, ledger, vol, movesByVolume.get(vol)!, temps);
  const finalPathOf = new Map<CatalogEntry, string>();
  for (const moves of movesByVolume.values()) for (const m of moves) finalPathOf.set(m.source, m.to);
  return { movingAway, finalPathOf };
}

/** One volume's moves as operations (deferred when offline); returns the temporary names used so far. */
function sequenceMoves(ix: PlanIndex, ledger: Ledger, vol: string, moves: PlannedMove[], temps: number): number {
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
    if (vol === ix.current) ledger.ops.push({ type: 'rename', from, to: step.to, record });
    else {
      ledger.ops.push({ type: 'defer', volume: vol, action: 'RENAME', path: step.from, target: step.to, entry: from, record, why: 'renamed' });
      ix.counts.deferred++;
    }
  }
  for (const m of moves) {
    if (ledger.get(m.from) === m.source) ledger.delete(m.from);
  }
  for (const m of moves) {
    ledger.set(m.to, entryFor(m.record, vol, m.source.sha256, m.source));
    ix.counts.renamed++;
  }
  return temps;
}
