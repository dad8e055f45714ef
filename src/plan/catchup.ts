import type { CatalogEntry } from '../catalog/entry.js';
import { sameEntry } from '../catalog/same.js';
import type { Operation } from './operation.js';
import { orderMoves } from './renames.js';
import type { FileRecord } from '../scan/record.js';
import { byPath } from '../fsx/paths.js';

/** A catalog entry seen as a data-path record: what reconciling writes back into the disk catalog. */
export function recordOf(e: CatalogEntry): FileRecord {
  return {
    path: e.path,
    // Only file and symlink rows are reconciled here: the catalog's file statements leave directories out.
    kind: e.kind as FileRecord['kind'],
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

const classOf = (e: { mode: number; uid: number; gid: number }) => `${e.mode & 0o7777}:${e.uid}:${e.gid}`;

const contentKey = (e: CatalogEntry) => (e.kind === 'file' && e.sha256 !== null ? `${e.size}:${e.sha256}` : null);

const sameContent = (d: CatalogEntry, w: CatalogEntry): boolean => sameEntry(d, w, 'content');

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
 *
 * `held` are paths whose queued DELETE must wait (plan/held.ts, SPEC §8): the file the copy holds
 * there stays, with its row, and is neither moved nor overwritten; content the volume wants at such
 * a path stays wherever the copy holds it now, until a later catch-up can put it in place.
 */
export function planCatchUp(
  onDisk: CatalogEntry[],
  wanted: CatalogEntry[],
  storedElsewhere: (size: number, sha256: string, like: CatalogEntry) => CatalogEntry | undefined = () => undefined,
  heldPaths: ReadonlySet<string> = new Set(),
): Operation[] {
  const have = new Map(onDisk.map((e) => [e.path, e]));
  const want = new Map(wanted.map((e) => [e.path, e]));
  // A held file whose content the volume still wants (under another name, or already elsewhere on
  // the copy) loses nothing when it goes: only content found nowhere else is kept back.
  const wantedContent = new Set(wanted.map(contentKey));
  const held = new Set(
    [...heldPaths].filter((p) => {
      const d = have.get(p);
      const k = d ? contentKey(d) : null;
      return !d || k === null || (!wantedContent.has(k) && storedElsewhere(d.size, d.sha256!, d) === undefined);
    }),
  );
  const kept: CatalogEntry[] = [];
  const displaced: CatalogEntry[] = [];
  for (const d of [...onDisk].sort(byPath)) {
    const w = want.get(d.path);
    if (w && sameContent(d, w)) kept.push(d);
    else if (!held.has(d.path)) displaced.push(d);
  }
  // Content wanted at a path a held file occupies waits where it is (never removed below), and so,
  // in turn, does content wanted at a path where waiting content stands.
  const waiting = new Set<string>();
  const blocked = new Set(held);
  let needed = [...wanted].sort(byPath).filter((w) => {
    const d = have.get(w.path);
    return !d || !sameContent(d, w);
  });
  for (let more = true; more; ) {
    more = false;
    needed = needed.filter((w) => {
      const d = have.get(w.path);
      if (!d || !blocked.has(d.path)) return true;
      const k = contentKey(w);
      if (k !== null && !waiting.has(k)) {
        waiting.add(k);
        for (const x of displaced) if (contentKey(x) === k) blocked.add(x.path);
        more = true;
      }
      return false;
    });
  }
  const lacking = new Map<string, CatalogEntry[]>();
  for (const w of needed) {
    const k = contentKey(w);
    if (k === null) continue;
    const list = lacking.get(k) ?? [];
    list.push(w);
    lacking.set(k, list);
  }

  const ops: Operation[] = [];
  // A symlink or file standing where the volume now has a folder (a folder that was a link, made
  // again) goes first, so that what the folder holds can be put below it; unless its content is
  // still wanted elsewhere (a move or link source: then it goes last, as other removals do).
  const folders = new Set<string>();
  for (const w of wanted) for (let i = w.path.lastIndexOf('/'); i > 0; i = w.path.lastIndexOf('/', i - 1)) folders.add(w.path.slice(0, i));
  const clearedFirst = new Set<string>();
  for (const d of displaced) {
    const k = contentKey(d);
    if (!folders.has(d.path) || (k !== null && (lacking.has(k) || waiting.has(k)))) continue;
    ops.push({ type: 'delete', entry: d, why: 'removed' });
    clearedFirst.add(d.path);
  }
  // content -> where it stands once moves are done; and by content and the mode and owner that
  // name will have, so that a link joins names that may share an inode (SPEC §3)
  const present = new Map<string, CatalogEntry>();
  const presentAlike = new Map<string, CatalogEntry>();
  const stands = (k: string, at: CatalogEntry, like: CatalogEntry) => {
    if (!present.has(k)) present.set(k, at);
    const c = `${k}|${classOf(like)}`;
    if (!presentAlike.has(c)) presentAlike.set(c, at);
  };
  for (const d of kept) {
    const k = contentKey(d);
    if (k !== null) stands(k, d, want.get(d.path)!);
  }
  // A held file stays where it is, and what it holds can still be linked to a name the volume wants.
  for (const d of onDisk) {
    const k = contentKey(d);
    if (k !== null && held.has(d.path) && !kept.includes(d)) stands(k, d, d);
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
    if (final) stands(contentKey(m.w)!, { ...m.d, path: m.w.path }, m.w);
  }
  // What stands below a path the volume now holds as a file or symlink (a folder replaced) goes
  // before that object is made there; content still wanted stays (moved above, or waiting).
  const wantedAt = new Set(wanted.map((w) => w.path));
  const belowWanted = (p: string) => {
    for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) if (wantedAt.has(p.slice(0, i))) return true;
    return false;
  };
  for (const d of displaced) {
    const k = contentKey(d);
    if (movedAway.has(d.path) || clearedFirst.has(d.path) || !belowWanted(d.path) || (k !== null && waiting.has(k))) continue;
    ops.push({ type: 'delete', entry: d, why: 'removed' });
    clearedFirst.add(d.path);
  }
  // Metadata of names kept in place before any link: a link then joins an inode that already has
  // the mode and owner it will keep.
  for (const d of kept) {
    const w = want.get(d.path)!;
    const same = w.mtimeSec === d.mtimeSec && w.mtimeNsec === d.mtimeNsec && w.mode === d.mode && w.uid === d.uid && w.gid === d.gid;
    if (!same || w.inode !== d.inode) ops.push({ type: 'update', entry: d, record: recordOf(w), sha256: w.sha256, touchDisk: !same });
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
    if (k === null) continue;
    // Content held only under another mode or owner is linked all the same: the executor then gives
    // this name an inode of its own (apply/loosened.ts), copied on the disk, not from the data path.
    const from = presentAlike.get(`${k}|${classOf(w)}`) ?? storedElsewhere(w.size, w.sha256!, w) ?? present.get(k);
    if (!from) continue;
    ops.push({ type: 'link', record: recordOf(w), from, replaces, why: 'linked' });
    filled.add(w.path);
    stands(k, { ...from, path: w.path }, w);
  }
  // Removals last: a removed name may still have been a link's source above. A path that was
  // overwritten by a move or link is already gone.
  for (const d of displaced) {
    if (movedAway.has(d.path) || filled.has(d.path) || clearedFirst.has(d.path)) continue;
    const k = contentKey(d);
    if (k !== null && waiting.has(k)) continue;
    ops.push({ type: 'delete', entry: d, why: 'removed' });
  }
  return ops;
}
