/** The executor's inputs and result, and what carries operations out: types only. */
import type { Catalog } from '../catalog/catalog.js';
import type { Operation } from '../plan/operation.js';
import type { ParityPool } from '../parity/pool.js';
import type { Fsx } from '../fsx/fsx.js';
import type { SpaceRefusal } from './space.js';

export interface ExecutorContext {
  /** Where the volume's files are. */
  root: string;
  /**
   * A backup's run: an operation that fails on the disk is skipped with a warning and the run goes
   * on (the next scan plans it again). Otherwise (a catch-up, whose copy must not be taken as caught
   * up) the failure ends the run.
   */
  skipFailures?: boolean;
  /** `blaine remove`: the DELETEs it queues are the user's wish and never wait (plan/held.ts). */
  userRemoval?: boolean;
  volume: string;
  host: Catalog;
  disk: Catalog;
  /** null: --no-parity. */
  parity: ParityPool | null;
  parityPct: number;
  /** `--parity-slices` (default 256): how parity is sliced decides what it takes on the disk. */
  paritySlices?: number;
  /** Bytes to keep free on the disk: `--reserve` and the room the catalogs' end-of-run writes need. */
  reserve: number;
  /** The run's own files whose room `reserve` holds (the disk catalog's write-ahead log): see SpaceBudget. */
  reservedFiles?: string[];
  /** Bytes the disk's file system spends on a file of the given size (more on an encrypted disk); default: the size. */
  storedBytes?: (bytes: number) => number;
  signal: AbortSignal;
  /** What was done, operation by operation, and what went wrong (the command puts it in words). */
  tell(e: ApplyEvent): void;
  /** After each operation; `next` is the one about to start (undefined after the last). */
  progress?(done: number, total: number, bytes: number, next?: Operation): void;
  /** The file-system layer (default: the real one; tests pass a fault-injecting one). */
  fs: Fsx;
  /** Throws when the disk is no longer the one the run opened (archive/identity.ts); checked before commits and on write errors. */
  checkDisk?: () => void;
  /**
   * Whether the directory at an absolute source path is a folder of the library now (a backup's
   * scan, dirs/): an emptied one stays on the disk. Without it, the disk catalog's directory rows say.
   */
  isLibraryFolder?: (p: string) => boolean;
}

/**
 * What carrying operations out tells as it goes, a fact per event. The first group is detail (what
 * was done, shown with -v); the second, problems: the run goes on (each says what became of the file).
 */
export type ApplyEvent =
  | { type: 'added'; path: string; replaced: boolean }
  | { type: 'symlinked'; path: string; target: string }
  /** `path` now shares `to`'s stored inode; `gathered`: put there at the end of the run (equal content, mode and owner). */
  | { type: 'linked'; path: string; to: string; gathered?: boolean }
  | { type: 'renamed'; from: string; to: string }
  | { type: 'removed'; path: string }
  | { type: 'deferred'; volume: string; action: string; path: string; target: string | null }
  /** Written to while it was read: copied once more. */
  | { type: 'copying-again'; path: string }
  /** Gone from the data path since the scan: nothing to store. */
  | { type: 'vanished'; path: string }
  /** The copy it was to be linked to was not made in this run (skipped): it is copied itself. */
  | { type: 'copying-instead-of-link'; path: string; planned: string }
  /** Its content's inode has as many names as the file system allows: stored as a copy of its own. */
  | { type: 'link-limit'; path: string; from: string }
  /** Its mode or owner differs from the names it shared an inode with: stored on its own inode. */
  | { type: 'stored-apart'; path: string }
  /** The data-path file could not be read (or kept changing): skipped, the next backup tries again. */
  | { type: 'source-skipped'; path: string; error: string; changedTwice: boolean }
  /** A catalogued file is missing on the disk: `copy` copies `path` instead of linking, `store` stores it again later. */
  | { type: 'missing-on-disk'; path: string; then: { copy: string } | 'store-again' }
  | { type: 'update-failed'; path: string; error: string }
  /** The names of one stored content could not be put in the catalog's shape at the end of the run. */
  | { type: 'names-unsorted'; size: number; error: string }
  | { type: 'no-parity'; path: string; error: string }
  /** An operation failed on the disk: skipped, the archive keeps what it had. */
  | { type: 'write-skipped'; path: string; error: string };

/**
 * Why a run stopped for a full disk: the space rule refused what came next (apply/space.ts), or a
 * write met a full disk while copying or writing `path`, writing its parity, or writing the
 * journal (`writing` null: not said where, e.g. during a catch-up).
 */
export type DiskFull =
  | { reason: 'disk-full'; refused: SpaceRefusal }
  | { reason: 'disk-full'; writing: 'copy' | 'file' | 'parity' | 'journal' | null; path: string | null };

export interface ExecutionResult {
  done: number;
  bytesCopied: number;
  parityBytes: number;
  /** What the parity files made take on the disk, in blocks (a small file's set is at least one). */
  parityDiskBytes: number;
  /** Data-path files that could not be read: reported, left as they were in the catalog. */
  skipped: Array<{ path: string }>;
  /** Why the run stopped early, if it did. */
  stopped: null | DiskFull | { reason: 'interrupted' };
  /** Offline volumes that got deferred actions. */
  deferredVolumes: Set<string>;
  /** What was actually done, by kind (a stopped run does less than its plan). */
  counts: { added: number; modified: number; renamed: number; linked: number; removed: number; deferred: number };
}

/**
 * What carries a list of operations out: the Executor on the disk, or (a dry run) the RecordingApplier,
 * which only records them and changes the dry run's private copies of the catalogs.
 */
export interface Applier {
  /** Parity for files that lack it; the number of files queued. */
  resumeParity(): number;
  /**
   * Carries out `ops`. With `more`, another part of the same run follows (a backup applies its plan
   * a chunk at a time); the result counts every part so far.
   */
  run(ops: Operation[], opts?: { more?: boolean }): Promise<ExecutionResult>;
}

export type ApplierFactory = (ctx: ExecutorContext) => Applier;
