import type { CopyRow, DeferredRow } from '../catalog/rows.js';

/** Why a queued action waits, for `pending`, `disks`, the report and the apply's summary. */
export interface Hold {
  /** One sentence: what the action would spend. */
  reason: string;
  /** What releases it: the copies that must catch up first (labels). */
  until: string;
  /** Those copies' labels. */
  waitingFor: string[];
}

/**
 * SPEC §8, "Apply never spends the promise": the offsite set (the stored disks plus the twin that
 * is not mounted) must give back the library as at that twin's last backup. A DELETE queued for a
 * stored disk by a run on a mirrored volume removes content the twin's last backup may still need
 * (an edited file's old version, a file deleted since), so it waits until every copy of that volume
 * holds the state of the run that queued it: the copy whose run queued it at once, its twin once it
 * has caught up (its generation reaches the one recorded on the action). Then a later visit applies
 * it. RENAME and LINK keep the content and are never held; neither is a DELETE queued by a volume
 * with one copy (no twin to wait for), by `blaine remove` (the user asked for it), or one queued
 * before the queuing volume was recorded.
 */
export function holdOf(q: DeferredRow, copies: readonly CopyRow[], labels: ReadonlyMap<string, string>): Hold | null {
  if (q.action !== 'DELETE' || q.queuedBy === null || q.queuedGen === null) return null;
  const mine = copies.filter((c) => c.volume === q.queuedBy);
  if (mine.length < 2) return null;
  const behind = mine.filter((c) => c.generation < q.queuedGen!);
  if (behind.length === 0) return null;
  const names = behind.map((c) => c.label);
  const quoted = names.map((n) => `"${n}"`).join(' and ');
  const volume = labels.get(q.queuedBy) ?? q.queuedBy;
  return {
    reason: `queued by a backup of the mirrored volume "${volume}" that its copy ${quoted} does not hold yet: until then the offsite disks may need this file to give back the library`,
    until: `${quoted} caught up (its next backup or apply)`,
    waitingFor: names,
  };
}

/** The queued actions of one volume (or all) with their holds, in queue order. */
export function withHolds(
  queue: readonly DeferredRow[],
  copies: readonly CopyRow[],
  labels: ReadonlyMap<string, string>,
): Array<{ q: DeferredRow; hold: Hold | null }> {
  return queue.map((q) => ({ q, hold: holdOf(q, copies, labels) }));
}

/**
 * The held actions of one volume's queue and the paths on its disk that keep their files for them.
 * A held DELETE keeps the content it would remove wherever the disk has it: at its path, or, when
 * RENAMEs queued before it moved that path (a folder renamed, then a file in it deleted), at the
 * path those RENAMEs started from. Those RENAMEs wait with it (they stay queued): a later catch-up
 * still has to find the chain that leads to the file it keeps.
 */
export function heldOnDisk(
  queue: readonly DeferredRow[],
  copies: readonly CopyRow[],
  labels: ReadonlyMap<string, string>,
): { ids: Set<number>; paths: Set<string>; holds: Array<{ q: DeferredRow; hold: Hold }> } {
  const ids = new Set<number>();
  const paths = new Set<string>();
  const holds: Array<{ q: DeferredRow; hold: Hold }> = [];
  queue.forEach((q, i) => {
    const hold = holdOf(q, copies, labels);
    if (!hold) return;
    holds.push({ q, hold });
    ids.add(q.id);
    let p = q.path;
    paths.add(p);
    for (let j = i - 1; j >= 0; j--) {
      const r = queue[j]!;
      if (r.action !== 'RENAME' || r.target !== p) continue;
      ids.add(r.id);
      p = r.path;
      paths.add(p);
    }
  });
  return { ids, paths, holds };
}
