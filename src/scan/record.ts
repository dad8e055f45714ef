/** One entry found under a data path, as lstat saw it. Symlinks are never followed. */
export interface FileRecord {
  /** Absolute source path, e.g. /mnt/media/photos/a.jpg */
  path: string;
  kind: 'file' | 'symlink';
  /** Bytes; for a symlink the length of its target string. */
  size: number;
  mtimeSec: number;
  /** Nanoseconds within the second, 0..999999999. */
  mtimeNsec: number;
  /** "dev:ino" — inode identity on the data disk; unstable on some file systems (see SPEC §5). */
  inode: string;
  nlink: number;
  mode: number;
  uid: number;
  gid: number;
  /** Symlink target, as stored in the link. */
  linkTarget?: string;
}

/** Result of scanning one data path. */
export interface RootScan {
  /** Absolute data path as given (normalised, no trailing slash). */
  root: string;
  /** False when any directory under it could not be read: nothing under it may be treated as deleted. */
  complete: boolean;
  /** False when the data path itself is missing or not a directory. */
  exists: boolean;
  records: FileRecord[];
  /** Files left out of `records` because a quick check found them unchanged (they still count). */
  unchangedCount?: number;
  /**
   * Files left out of `records` to be planned apart, a chunk at a time: new content nothing in the
   * catalog ties to (plan/partition.ts). They are not catalogued; they only make the path not empty.
   */
  streamedCount?: number;
  /** Entries left out with a reason: special files (FIFO, socket, device) and unreadable entries. */
  skipped: SkippedEntry[];
}

/**
 * A data path's scan as the scanner makes it: records packed into chunks of numbers and one string,
 * so that a million files cost no objects; recordAt (scanner.ts) unpacks one.
 */
export interface PackedScan {
  root: string;
  exists: boolean;
  complete: boolean;
  skipped: SkippedEntry[];
  /** In byte order of their paths; together they cover every path under the root. */
  chunks: ScanChunk[];
  /**
   * The folders below the root, from the same walk (the native one; undefined from the node:fs
   * walk, whose caller then lists the folders itself): pieces of text (paths joined by NUL) and
   * FIELDS numbers per folder, in no particular order.
   */
  folders?: PackedFolders[];
  /**
   * Folders the scan's planning listed and cut into parts (scan/background.ts planParts): no part
   * walks into them, so their records are not among `folders`.
   */
  openedFolders?: string[];
}

/** Folders found by a walk, packed as a chunk's files are. */
export interface PackedFolders {
  text: string;
  count: number;
  info: Float64Array;
}

/** Up to CHUNK files of a scan, in byte order. */
export interface ScanChunk {
  /** Every path of the chunk lies in [lo, hi) in byte order; the chunks of a scan tile the root's range. */
  lo: string;
  hi: string;
  /** "path\0stamp\0path\0stamp…" (catalog/stamp.ts): what the quick check compares with the catalog's own. */
  text: string;
  count: number;
  /** FIELDS numbers per file, laid out as native.ts FIELD says. */
  info: Float64Array;
  /** Symlink targets, by index within the chunk. */
  targets: [number, string][];
  /**
   * The SHA-256 of `text`'s bytes (the native scan's chunks; 32 bytes): the quick check compares it
   * with the catalog's digest of its rows in the same range (Catalog.quickDigest) before any text.
   */
  digest?: Uint8Array;
}

export interface SkippedEntry {
  path: string;
  reason: 'special' | 'unreadable';
  /** One sentence for the user, e.g. "is a FIFO" or "permission denied". */
  message: string;
}
