/** What verify reports, and how it sees the disk while it works. */
import type { DiskIdentity } from '../archive/identity.js';
import type { Catalog } from '../catalog/catalog.js';
import type { CatalogEntry } from '../catalog/entry.js';
import type { Par2Config } from '../parity/par2.js';
import type { Fsx } from '../fsx/fsx.js';

export type ProblemKind =
  | 'missing'
  | 'extra'
  | 'size'
  | 'mtime'
  | 'mode'
  | 'owner'
  | 'target'
  | 'checksum'
  | 'unrepairable'
  | 'parity-missing'
  | 'no-parity'
  | 'parity-damaged'
  | 'parity-orphan';

export interface Problem {
  /**
   * The absolute source path of the file concerned (as `list` shows it); for `extra` the path the
   * file would have; for `parity-orphan` the parity file's own path on the disk.
   */
  path: string;
  kind: ProblemKind;
  repaired: boolean;
  /** One sentence for the user. */
  detail: string;
}

export interface VerifyOptions {
  /** Where the volume's files are. */
  root: string;
  /** The disk as opened: checked before each commit, so a disk unmounted mid-run is never credited with repairs made elsewhere. */
  identity?: DiskIdentity;
  volume: string;
  /** The disk catalog: the truth for what the disk should hold. */
  disk: Catalog;
  /** The host catalog, kept in step for verified_at and parity names (rows it has only). */
  host: Catalog;
  checksum: boolean;
  /** With checksum: only files not verified within this many seconds. */
  olderThanSec?: number;
  /** With checksum: no file is started after this many ms (the first one always is, so every run gets on). */
  maxTimeMs?: number;
  fix: boolean;
  /**
   * With fix: delete files the catalog does not list instead of moving them to .blaine/quarantine;
   * held back, like a backup's removals, when they are more than maxDeletePct of the catalogued files.
   */
  dropExtra?: boolean;
  maxDeletePct?: number;
  force?: boolean;
  /** Top-level names that were on the disk before Blaine (volume.json `foreign`): never extra. */
  foreign?: string[];
  /** Redundancy of parity made by `fix`. */
  parityPct: number;
  paritySlices?: number;
  /** Bytes for making parity, shared by the jobs (default: the parity library's). */
  parityMemory?: number;
  jobs: number;
  par2?: Par2Config;
  /** `par2`: parity made by par2cmdline even where Blaine's own creator is built. */
  parityCreator?: 'native' | 'par2';
  signal: AbortSignal;
  /** Clock in ms (tests). */
  now?: () => number;
  detail(msg: string): void;
  warn(msg: string): void;
  progress?(checked: number, due: number, bytes: number): void;
  /** The file-system layer (default: the real one; tests pass a fault-injecting one). */
  fs: Fsx;
}

export interface VerifyResult {
  problems: Problem[];
  /** Catalogued paths compared with the disk. */
  compared: number;
  /** Catalogued files whose content was read and its SHA-256 checked in this run. */
  checked: number;
  /** Files due for a checksum that the time budget left for a later run. */
  remaining: number;
  interrupted: boolean;
}

export type ContentState = 'unknown' | 'good' | 'bad';

/** What verify needs of an lstat, kept small: a BigIntStats per row would not fit a million-file disk. */
export interface Seen {
  type: 'file' | 'symlink' | 'directory' | 'special';
  size: number;
  mtimeSec: number;
  mtimeNsec: number;
  /** "dev:ino" */
  inode: string;
  /** Permission bits (07777). */
  mode: number;
  uid: number;
  gid: number;
}

export interface Item {
  e: CatalogEntry;
  rel: string;
  full: string;
  st: Seen | null;
  group: Group | null;
  /** This name's parity files, as found in the parity tree. */
  parity: string[];
  state: ContentState;
  /** Its content was read (or repaired) in this run: verified_at is recorded. */
  verifiedNow: boolean;
  problems: Problem[];
}

/** One inode of the disk with every catalogued name on it. */
export interface Group {
  key: string;
  items: Item[];
  hashed: boolean;
}

export const FLUSH_ROWS = 500;
export const FLUSH_MS = 2000;
export const CHUNK = 1 << 20;
