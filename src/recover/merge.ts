import { trackChangesFrom } from '../catalog/changes.js';
/**
 * How a host catalog takes in what a disk knows about one volume (SPEC §8): the newest
 * information wins, by generation, and the host's queued actions that the source has not seen
 * stay queued. The source is a catalog read from a disk: its snapshot of a whole host catalog, or
 * its own disk catalog.
 */
import type { Catalog, DeferredRow } from '../catalog/catalog.js';
import type { CatalogEntry } from '../catalog/entry.js';

export interface VolumeSource {
  cat: Catalog;
  from: 'snapshot' | 'disk';
  /** The volume's generation as the source knows it (0: not at all). */
  generation(volume: string): number;
  /**
   * When the source's state was taken. Host actions queued later are news to it and are kept over
   * its state; null when that time is unknown, and then every queued action is kept (an action
   * that turns out to be done already costs a catch-up nothing, a lost one loses a change).
   */
  asOf: string | null;
}

/** What the host catalog did with a volume: took it in (unknown before, or newer), or kept its own. */
export type Taken = 'added' | 'newer' | 'in-step' | 'older';

export interface VolumeChange {
  volume: string;
  label: string;
  from: VolumeSource['from'];
  taken: Taken;
  /** Files the host catalog holds for the volume afterwards. */
  files: number;
  /** The host's queued actions newer than the source: kept, with the rows they made. */
  keptPending: number;
  /** The host's queued actions the source had already seen (it holds their outcome): dropped. */
  droppedPending: number;
}

/** Brings one volume of `host` to the newest of what it knows and what `src` knows. */
export function mergeVolume(host: Catalog, src: VolumeSource, volume: string): VolumeChange | null {
  const theirs = src.cat.volume(volume);
  if (!theirs) return null;
  const ours = host.volume(volume);
  const generation = src.generation(volume);
  const change = (taken: Taken, kept = 0, dropped = 0): VolumeChange => ({
    volume,
    label: (ours ?? theirs).label,
    from: src.from,
    taken,
    files: host.volumeStats(volume).files,
    keptPending: kept,
    droppedPending: dropped,
  });
  if (ours && generation <= ours.generation) {
    host.transaction(() => {
      takeNewerCopies(host, src.cat, volume);
      if (generation === ours.generation && src.from === 'disk') takeCopyFacts(host, src.cat, volume);
    });
    return change(generation === ours.generation ? 'in-step' : 'older');
  }
  const queued = ours ? host.deferred(volume) : [];
  const news = queued.filter((q) => src.asOf === null || q.created > src.asOf);
  host.transaction(() => {
    // The rows the news made, read before the volume is replaced.
    const made = new Map(news.map((q) => [q.id, q.target === null ? undefined : host.get(volume, q.target)]));
    host.replaceVolume(volume, src.cat.iterateVolume(volume), src.cat.dirsOf(volume));
    host.dropDeferredOf(volume);
    for (const d of src.cat.deferred(volume)) host.requeue(d);
    for (const q of news) {
      host.requeue(q);
      redo(host, q, made.get(q.id));
    }
    // Still behind the news: a copy holding the source's state is then caught up when mounted.
    host.putVolume({ ...theirs, generation: generation + (news.length > 0 ? 1 : 0) });
    // The rows were written anew, with no tombstones for what went: a copy older than this
    // generation is caught up by comparing whole catalogs, not by the changed rows.
    trackChangesFrom(host, volume);
    takeNewerCopies(host, src.cat, volume);
  });
  return change(ours ? 'newer' : 'added', news.length, queued.length - news.length);
}

/** Makes a queued action's change to the volume's rows again, with the row it had made. */
function redo(host: Catalog, q: DeferredRow, made: CatalogEntry | undefined): void {
  if (q.action !== 'LINK') host.remove(q.volume, q.path);
  if (q.action !== 'DELETE' && made) host.put(made);
}

/** Each copy's row (last sync, free space, size) as of whichever catalog saw it last. */
function takeNewerCopies(host: Catalog, src: Catalog, volume: string): void {
  const known = new Map(host.copies().map((c) => [c.copy, c]));
  for (const c of src.copies()) {
    if (c.volume !== volume) continue;
    const mine = known.get(c.copy);
    if (!mine || (c.lastSync ?? '') > (mine.lastSync ?? '')) host.putCopy(c);
  }
}

/**
 * A copy in step with the host: the rows are the same files, but parity names and verify times are
 * facts of the physical copy, which the disk knows best (as a catch-up takes them from a mounted copy).
 */
function takeCopyFacts(host: Catalog, disk: Catalog, volume: string): void {
  const { mine, theirs } = host.differences(disk, volume);
  const onDisk = new Map(theirs.map((d) => [d.path, d]));
  for (const h of mine) {
    const d = onDisk.get(h.path);
    if (!d || d.sha256 !== h.sha256 || d.kind !== h.kind) continue;
    if (d.parityName !== h.parityName) host.setParityName(volume, h.path, d.parityName);
    if ((d.verifiedAt ?? 0) > (h.verifiedAt ?? 0)) host.setVerifiedAt(volume, h.path, d.verifiedAt!);
  }
}
