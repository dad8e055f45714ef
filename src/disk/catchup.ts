import type { CatalogEntry } from '../catalog/entry.js';
import type { Operation } from '../plan/operation.js';
import type { FileRecord } from '../scan/record.js';
import { Executor, type ExecutorContext } from './executor.js';
import type { DiskSession } from './session.js';

/** A catalog entry seen as a data-path record: what reconciling writes back into the disk catalog. */
export function recordOf(e: CatalogEntry): FileRecord {
  return {
    path: e.path,
    kind: e.kind,
    size: e.size,
    mtimeSec: e.mtimeSec,
    mtimeNsec: e.mtimeNsec,
    inode: e.inode ?? '',
    nlink: 1,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    linkTarget: e.linkTarget ?? undefined,
  };
}

const contentKey = (e: CatalogEntry) => (e.sha1 === null ? null : `${e.size}:${e.sha1}`);

/**
 * Decides how to bring a copy (its disk catalog `onDisk`) to the volume's state in the host
 * catalog (`wanted`), by content: a file the volume now holds under another name is moved or
 * linked, a file the volume no longer holds is removed, changed metadata is rewritten. Deferred
 * actions queued while the volume was offline and changes made through the other copy of a mirror
 * both come down to this, and so does an action that no longer fits the disk: whatever the order
 * of events, the copy ends holding what the volume holds. What the copy lacks altogether is left to
 * the backup that follows, which copies it from the data paths. Pure.
 */
export function planCatchUp(onDisk: CatalogEntry[], wanted: CatalogEntry[]): Operation[] {
  const have = new Map(onDisk.map((e) => [e.path, e]));
  const want = new Map(wanted.map((e) => [e.path, e]));
  // Paths the volume holds that this copy lacks, by content: the places stored files may move to.
  const lacking = new Map<string, CatalogEntry[]>();
  for (const w of wanted) {
    if (have.has(w.path)) continue;
    const k = contentKey(w);
    if (k === null) continue;
    const list = lacking.get(k) ?? [];
    list.push(w);
    lacking.set(k, list);
  }
  const ops: Operation[] = [];
  const present = new Map<string, CatalogEntry>(); // content -> a path holding it once moves are done
  const removals: CatalogEntry[] = [];
  for (const d of onDisk) {
    if (want.has(d.path)) {
      const k = contentKey(d);
      if (k !== null && want.get(d.path)!.sha1 === d.sha1) present.set(k, d);
      continue;
    }
    const k = contentKey(d);
    const target = k === null ? undefined : lacking.get(k)?.shift();
    if (target) {
      ops.push({ type: 'rename', from: d, to: target.path, record: recordOf(target) });
      present.set(k!, { ...d, path: target.path });
    } else removals.push(d);
  }
  for (const [k, list] of lacking) {
    const from = present.get(k);
    if (!from) continue;
    for (const w of list) ops.push({ type: 'link', record: recordOf(w), from, why: 'linked' });
  }
  for (const d of onDisk) {
    const w = want.get(d.path);
    if (!w || w.sha1 !== d.sha1 || w.kind !== d.kind) continue;
    const same = w.mtimeSec === d.mtimeSec && w.mtimeNsec === d.mtimeNsec && w.mode === d.mode && w.uid === d.uid && w.gid === d.gid;
    if (!same || w.inode !== d.inode) ops.push({ type: 'update', entry: d, record: recordOf(w), sha1: w.sha1, touchDisk: !same });
  }
  // Removals last: a file removed under one name may still be the source of a link above.
  for (const d of removals) ops.push({ type: 'delete', entry: d, why: 'removed' });
  return ops;
}

export interface CatchUpResult {
  changed: number;
  /** Deferred actions that are now reflected on the disk and were dropped from the queue. */
  applied: number;
  stopped: null | 'disk-full' | 'interrupted';
  /** Files the volume holds that this copy still lacks after catching up (before the backup copies them). */
  lacking: number;
}

/** Brings the mounted copy up to its volume's state in the host catalog; the queue of deferred actions empties. */
export async function catchUp(s: DiskSession, ctx: ExecutorContext): Promise<CatchUpResult> {
  const volume = s.info.volume;
  const onDisk = s.disk.entriesOfVolume(volume);
  const wanted = s.host.entriesOfVolume(volume);
  const ops = planCatchUp(onDisk, wanted);
  const queued = s.host.deferred(volume);
  const ex = new Executor(ctx);
  const result = await ex.run(ops);
  const stopped = result.stopped?.reason ?? null;
  if (!stopped) s.host.transaction(() => queued.forEach((q) => s.host.dropDeferred(q.id)));
  // Rows of the volume the copy lacks stay in the host catalog: the other copy still holds them.
  const nowOnDisk = new Set(s.disk.entriesOfVolume(volume).map((e) => e.path));
  return {
    changed: result.done,
    applied: stopped ? 0 : queued.length,
    stopped,
    lacking: wanted.filter((w) => !nowOnDisk.has(w.path)).length,
  };
}
