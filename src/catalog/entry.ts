/** A file, symlink or folder as one catalog knows it: which volume holds it and what it was when stored. */
export interface CatalogEntry {
  /** Absolute source path; also its place below the disk root. */
  path: string;
  /** Volume UUID. */
  volume: string;
  /** 'dir': a directory's own metadata (size 0; no hash, link target or parity). */
  kind: 'file' | 'symlink' | 'dir';
  size: number;
  mtimeSec: number;
  mtimeNsec: number;
  /** "dev:ino" on the data disk when last seen; null when unknown (e.g. rebuilt from a disk). */
  inode: string | null;
  /** Hex SHA-256 of the content; for a symlink null. */
  sha256: string | null;
  /**
   * Hex SHA-1 of a row migrated from a catalog older than schema 6 whose content was not read
   * since (then sha256 is null). SHA-1 has public collisions: it never makes two files one.
   */
  legacySha1?: string | null;
  mode: number;
  uid: number;
  gid: number;
  linkTarget: string | null;
  /**
   * Relative path (from the disk root) the PAR2 set was made for; parity files live at
   * .blaine/parity/<path>.par2 for the entry's current path. null: no parity (yet).
   */
  parityName: string | null;
  /** Unix seconds of the last full checksum verify, null if never. */
  verifiedAt: number | null;
}
