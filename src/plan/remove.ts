import type { CatalogEntry } from '../catalog/entry.js';
import { byPath } from '../fsx/paths.js';
import type { Operation } from './operation.js';

export interface RemovePlan {
  /** Deletions on the mounted volume first (in path order), then those deferred for other volumes. */
  ops: Operation[];
  /** Matching files per volume. */
  perVolume: Map<string, number>;
  /** Volumes whose removals the mass-delete guard held back, with the reason; the plan is then empty. */
  guarded: Array<{ volume: string; reason: string }>;
}

/**
 * `blaine remove`: the archived files matching the user's patterns (`matches`, from the host catalog)
 * leave the archive — deleted from the mounted volume now, and queued as DELETE for every other
 * volume holding them. The mass-delete guard (SPEC §5) holds everything back when one volume would
 * lose more than `maxDeletePct` of its files, unless `force`. Pure.
 */
export function planRemove(
  matches: readonly CatalogEntry[],
  mounted: string,
  catalogued: (volume: string) => number,
  opts: { maxDeletePct: number; force: boolean; label: (volume: string) => string },
): RemovePlan {
  const perVolume = new Map<string, number>();
  for (const e of matches) perVolume.set(e.volume, (perVolume.get(e.volume) ?? 0) + 1);
  const guarded: RemovePlan['guarded'] = [];
  for (const [volume, n] of perVolume) {
    const total = catalogued(volume);
    if (n > (opts.maxDeletePct / 100) * total) {
      guarded.push({ volume, reason: `it would remove ${n} of the ${total} files archived on "${opts.label(volume)}" (more than ${opts.maxDeletePct}%)` });
    }
  }
  if (guarded.length > 0 && !opts.force) return { ops: [], perVolume, guarded };
  const sorted = [...matches].sort(byPath);
  const ops: Operation[] = [];
  for (const e of sorted) if (e.volume === mounted) ops.push({ type: 'delete', entry: e, why: 'removed' });
  for (const e of sorted) {
    if (e.volume === mounted) continue;
    ops.push({ type: 'defer', volume: e.volume, action: 'DELETE', path: e.path, target: null, entry: e, record: null, why: 'removed' });
  }
  return { ops, perVolume, guarded: [] };
}
