import type { CatalogEntry } from '../catalog/entry.js';
import type { FileRecord } from '../scan/record.js';

export function sameMtime(a: { mtimeSec: number; mtimeNsec: number }, b: { mtimeSec: number; mtimeNsec: number }): boolean {
  return a.mtimeSec === b.mtimeSec && a.mtimeNsec === b.mtimeNsec;
}

export function looksUnchanged(e: CatalogEntry, r: FileRecord): boolean {
  if (e.kind !== r.kind || e.size !== r.size || !sameMtime(e, r)) return false;
  return r.kind !== 'symlink' || e.linkTarget === (r.linkTarget ?? null);
}

/** Equal content may be stored once only for names that also share mode and owner (SPEC §3). */
export function sameModeOwner(a: { mode: number; uid: number; gid: number }, b: { mode: number; uid: number; gid: number }): boolean {
  return (a.mode & 0o7777) === (b.mode & 0o7777) && a.uid === b.uid && a.gid === b.gid;
}

/** The catalog entry a data-path record becomes once stored. */
export function entryFor(r: FileRecord, volume: string, sha256: string | null, keep?: CatalogEntry): CatalogEntry {
  return {
    path: r.path,
    volume,
    kind: r.kind,
    size: r.size,
    mtimeSec: r.mtimeSec,
    mtimeNsec: r.mtimeNsec,
    inode: r.inode,
    sha256: r.kind === 'symlink' ? null : sha256,
    // A migrated row's SHA-1 stays only while its content has not been read since (schema.ts).
    legacySha1: r.kind === 'symlink' || sha256 !== null ? null : (keep?.legacySha1 ?? null),
    mode: r.mode,
    uid: r.uid,
    gid: r.gid,
    linkTarget: r.kind === 'symlink' ? (r.linkTarget ?? '') : null,
    parityName: keep?.parityName ?? null,
    verifiedAt: keep?.verifiedAt ?? null,
  };
}

/** The mode, owner and mtime a stored file takes from its data-path record. */
export function metaOf(r: FileRecord) {
  return { mode: r.mode & 0o7777, uid: r.uid, gid: r.gid, mtimeSec: r.mtimeSec, mtimeNsec: r.mtimeNsec };
}
