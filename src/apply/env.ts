/** The executor's inputs and result, and what carries operations out: types only. */
import type { Catalog } from '../catalog/catalog.js';
import type { Operation } from '../plan/operation.js';
import type { ParityPool } from '../parity/pool.js';
import type { Fsx } from '../fsx/fsx.js';

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
  /** Per-operation detail (shown with -v) and problems. */
  detail(msg: string): void;
  warn(msg: string): void;
  /** After each operation; `next` is the one about to start (undefined after the last). */
  progress?(done: number, total: number, bytes: number, next?: Operation): void;
  /** The file-system layer (default: the real one; tests pass a fault-injecting one). */
  fs?: Fsx;
  /** Throws when the disk is no longer the one the run opened (archive/identity.ts); checked before commits and on write errors. */
  checkDisk?: () => void;
  /**
   * Whether the directory at an absolute source path is a folder of the library now (a backup's
   * scan, dirs/): an emptied one stays on the disk. Without it, the disk catalog's directory rows say.
   */
  isLibraryFolder?: (p: string) => boolean;
}

export interface ExecutionResult {
  done: number;
  bytesCopied: number;
  parityBytes: number;
  /** What the parity files made take on the disk, in blocks (a small file's set is at least one). */
  parityDiskBytes: number;
  /** Data-path files that could not be read: reported, left as they were in the catalog. */
  skipped: Array<{ path: string; message: string }>;
  /** Why the run stopped early, if it did. */
  stopped: null | { reason: 'disk-full'; message: string } | { reason: 'interrupted' };
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
