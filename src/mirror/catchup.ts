import { Executor, type ApplierFactory, type ExecutorContext } from '../apply/executor.js';
import type { CatalogEntry } from '../catalog/entry.js';
import { contentKey } from '../catalog/catalog.js';
import { checkDisk, type DiskSession } from '../archive/session.js';
import { planCatchUp } from '../plan/catchup.js';
import { sameModeOwner } from '../plan/entry.js';
import { differencesSince } from '../catalog/changes.js';
import { sameEntry } from '../catalog/same.js';
import { heldOnDisk, type Hold } from '../plan/held.js';

export interface CatchUpResult {
  changed: number;
  /** Deferred actions that are now reflected on the disk and were dropped from the queue. */
  applied: number;
  stopped: null | 'disk-full' | 'interrupted';
  /** DELETEs left queued, and their files on the disk, by the rule of SPEC §8 (plan/held.ts). */
  held: Array<{ path: string } & Hold>;
  /** Host rows of files the volume holds that this copy still lacks after catching up (the backup copies them). */
  lacking: CatalogEntry[];
}

/**
 * The executor's context for a run on the mounted copy that copies nothing from the data paths and
 * so makes no parity and needs no reserve (apply, remove).
 */
export function noCopyContext(
  s: DiskSession,
  o: Pick<ExecutorContext, 'signal' | 'tell' | 'fs'>,
): ExecutorContext {
  return { root: s.root, volume: s.info.volume, host: s.host, disk: s.disk, parity: null, parityPct: 0, reserve: 0, checkDisk: () => checkDisk(s), ...o };
}

/**
 * Brings the mounted copy up to its volume's state in the host catalog; the queue of deferred actions
 * empties. A dry run passes an applier that only records.
 */
export async function catchUp(
  s: DiskSession,
  ctx: ExecutorContext,
  makeApplier: ApplierFactory = (c) => new Executor(c),
): Promise<CatchUpResult> {
  const volume = s.info.volume;
  // Only the rows in which the copy and the volume differ: the rest needs nothing. Those are among
  // the rows the volume changed since this copy's generation, when the host knows them all; a copy
  // made behind by queued actions alone (generation unchanged) is compared whole.
  const volumeGeneration = s.generationBefore ?? s.host.volume(volume)?.generation ?? 0;
  // The copy's row of each changed path is read inside one read transaction: a statement outside
  // one takes and drops the catalog's read lock on its own (two fcntl calls and a check of the WAL).
  const changed = s.copyGeneration < volumeGeneration ? s.disk.transaction(() => differencesSince(s.disk, s.host, volume, s.copyGeneration)) : null;
  const { mine: onDisk, theirs: wanted } = changed ?? s.disk.differences(s.host, volume);
  // Queued actions name paths the comparison must see whatever the generations say: a DELETE held
  // on an earlier visit left its file and row on this copy, older than the copy's generation (the
  // paths a held DELETE keeps are all in the queue: its own and those of the RENAMEs before it).
  const queued = s.host.deferred(volume);
  const seen = new Set(onDisk.map((d) => d.path));
  const seenWanted = new Set(wanted.map((w) => w.path));
  for (const q of queued) {
    for (const p of q.target === null ? [q.path] : [q.path, q.target]) {
      const d = s.disk.get(volume, p);
      const w = s.host.get(volume, p);
      if (d && w && sameEntry(d, w, 'row')) continue;
      if (d && !seen.has(p)) {
        seen.add(p);
        onDisk.push(d);
      }
      if (w && !seenWanted.has(p)) {
        seenWanted.add(p);
        wanted.push(w);
      }
    }
  }
  const labels = new Map(s.host.volumes().map((v) => [v.uuid, v.label]));
  const { ids: heldIds, paths: held, holds } = heldOnDisk(queued, s.host.copies(), labels);
  const differing = new Set(onDisk.map((d) => d.path));
  // The plan asks where else the copy holds a content for each file it lacks: the stored names of
  // every content the plan can ask about, in one read of the disk catalog (not one query a file).
  let stored: Map<string, CatalogEntry[]> | undefined;
  const storedElsewhere = (size: number, sha256: string, like: CatalogEntry) => {
    stored ??= s.disk.findContents([...wanted, ...onDisk].filter((e) => e.kind === 'file' && e.sha256 !== null) as Array<CatalogEntry & { sha256: string }>);
    const k = contentKey(size, sha256);
    const found = (stored.get(k) ?? []).filter((e) => e.volume === volume && !differing.has(e.path));
    return found.find((e) => sameModeOwner(e, like)) ?? found[0];
  };
  const ops = planCatchUp(onDisk, wanted, storedElsewhere, held);
  // Parity names and verify times are facts of each physical copy: the host follows the mounted one.
  const hostRow = new Map(wanted.map((w) => [w.path, w]));
  s.host.transaction(() => {
    for (const d of onDisk) {
      const w = hostRow.get(d.path);
      if (w && w.sha256 === d.sha256 && (w.parityName !== d.parityName || w.verifiedAt !== d.verifiedAt)) {
        s.host.put({ ...w, parityName: d.parityName, verifiedAt: d.verifiedAt });
      }
    }
  });
  const ex = makeApplier(ctx);
  const result = await ex.run(ops);
  const stopped = result.stopped?.reason ?? null;
  const done = queued.filter((q) => !heldIds.has(q.id));
  if (!stopped) {
    s.host.transaction(() => done.forEach((q) => s.host.dropDeferred(q.id)));
    // A copy still keeping held files is not yet at its volume's generation: the other copy of a
    // mirrored volume may apply the DELETE and empty the queue, and this one must then still be
    // found behind (its catch-up reads the tombstones newer than its generation).
    s.caughtUp = ![...held].some((p) => s.disk.get(volume, p) !== undefined);
  }
  // Rows of the volume the copy lacks stay in the host catalog: the other copy still holds them.
  return {
    changed: result.done,
    applied: stopped ? 0 : done.length,
    held: holds.map((h) => ({ path: h.q.path, ...h.hold })),
    stopped,
    lacking: s.disk.transaction(() => wanted.filter((w) => s.disk.get(volume, w.path) === undefined)),
  };
}
