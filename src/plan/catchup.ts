import type { CatalogEntry } from '../catalog/entry.js';
import type { Operation } from './operation.js';
import { orderMoves } from './renames.js';
import type { FileRecord } from '../scan/record.js';
import { byPath } from '../fsx/paths.js';

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

const contentKey = (e: CatalogEntry) => (e.kind === 'file' && e.sha256 !== null ? `${e.size}:${e.sha256}` : null);

function sameContent(d: CatalogEntry, w: CatalogEntry): boolean {
  if (d.kind !== w.kind) return false;
  return d.kind === 'symlink' ? d.linkTarget === w.linkTarget : d.sha256 === w.sha256 && d.size === w.size;
}

/**
 * Decides how to bring a copy (its disk catalog `onDisk`) to the volume's state in the host
 * catalog (`wanted`), by content: a stored file the volume now wants under another name is moved
 * (swaps and rotations through a temporary name) or linked, a symlink is remade from its target,
 * a file the volume no longer holds is removed, changed metadata is rewritten. Deferred actions
 * queued while the volume was offline and changes made through the other copy of a mirror both
 * come down to this, and so does an action that no longer fits the disk: whatever the order of
 * events, the copy ends holding what the volume holds. Content the copy lacks altogether is left
 * to the backup that follows, which copies it from the data paths. Pure.
 *
 * `onDisk` and `wanted` may be just the rows in which the two catalogs differ (Catalog.differences):
 * rows alike on both sides need nothing, and `storedElsewhere` then finds content the copy holds
 * under one of those, for a link.
 */
export function planCatchUp(
  onDisk: CatalogEntry[],
  wanted: CatalogEntry[],
  storedElsewhere: (size: number, sha256: string) => CatalogEntry | undefined = () => undefined,
): Operation[] {
  const have = new Map(onDisk.map((e) => [e.path, e]));
  const want = new Map(wanted.map((e) => [e.path, e]));
  const kept: CatalogEntry[] = [];
  const displaced: CatalogEntry[] = [];
  for (const d of [...onDisk].sort(byPath)) {
    const w = want.get(d.path);
    if (w && sameContent(d, w)) kept.push(d);
    else displaced.push(d);
  }
  const needed = [...wanted].sort(byPath).filter((w) => {
    const d = have.get(w.path);
    return !d || !sameContent(d, w);
  });
  const lacking = new Map<string, CatalogEntry[]>();
  for (const w of needed) {
    const k = contentKey(w);
    if (k === null) continue;
    const list = lacking.get(k) ?? [];
    list.push(w);
    lacking.set(k, list);
  }

  const ops: Operation[] = [];
  const present = new Map<string, CatalogEntry>(); // content -> where it stands once moves are done
  for (const d of kept) {
    const k = contentKey(d);
    if (k !== null && !present.has(k)) present.set(k, d);
  }
  const moves: Array<{ d: CatalogEntry; w: CatalogEntry }> = [];
  const movedAway = new Set<string>();
  const filled = new Set<string>();
  for (const d of displaced) {
    const k = contentKey(d);
    const w = k === null ? undefined : lacking.get(k)?.shift();
    if (!w) continue;
    moves.push({ d, w });
    movedAway.add(d.path);
    filled.add(w.path);
  }
  const bySource = new Map(moves.map((m) => [m.d.path, m]));
  const at = new Map(moves.map((m) => [m.d.path, m]));
  for (const step of orderMoves(moves.map((m) => ({ from: m.d.path, to: m.w.path })))) {
    const m = at.get(step.from) ?? bySource.get(step.from)!;
    at.delete(step.from);
    const final = step.to === m.w.path;
    if (!final) at.set(step.to, m);
    ops.push({ type: 'rename', from: { ...m.d, path: step.from }, to: step.to, record: final ? recordOf(m.w) : null });
    if (final) {
      const k = contentKey(m.w)!;
      if (!present.has(k)) present.set(k, { ...m.d, path: m.w.path });
    }
  }
  for (const w of needed) {
    if (filled.has(w.path)) continue;
    const d = have.get(w.path);
    const replaces = d && !movedAway.has(d.path) ? d : undefined;
    if (w.kind === 'symlink') {
      ops.push({ type: 'symlink', record: recordOf(w), replaces, why: replaces ? 'modified' : 'added' });
      filled.add(w.path);
      continue;
    }
    const k = contentKey(w);
    const from = k === null ? undefined : (present.get(k) ?? storedElsewhere(w.size, w.sha256!));
    if (!from) continue;
    ops.push({ type: 'link', record: recordOf(w), from, replaces, why: 'linked' });
    filled.add(w.path);
  }
  for (const d of kept) {
    const w = want.get(d.path)!;
    const same = w.mtimeSec === d.mtimeSec && w.mtimeNsec === d.mtimeNsec && w.mode === d.mode && w.uid === d.uid && w.gid === d.gid;
    if (!same || w.inode !== d.inode) ops.push({ type: 'update', entry: d, record: recordOf(w), sha256: w.sha256, touchDisk: !same });
  }
  // Removals last: a removed name may still have been a link's source above. A path that was
  // overwritten by a move or link is already gone.
  for (const d of displaced) {
    if (movedAway.has(d.path) || filled.has(d.path)) continue;
    ops.push({ type: 'delete', entry: d, why: 'removed' });
  }
  return ops;
}
