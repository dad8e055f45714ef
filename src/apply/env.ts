import type { Catalog } from '../catalog/catalog.js';
import type { CatalogEntry } from '../catalog/entry.js';
import type { Operation } from '../plan/operation.js';
import type { ParityPool } from '../parity/pool.js';
import type { FileRecord } from '../scan/record.js';
import type { Fsx } from '../fsx/fsx.js';
import type { CatalogBatch } from './batch.js';
import type { CopyAhead } from './copy-ahead.js';
import type { LoosenedNames } from './loosened.js';
import type { ParityQueue } from './parity-queue.js';
import type { SpaceEstimate } from './space.js';

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
  reserve: number;
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
}

export interface ExecutionResult {
  done: number;
  bytesCopied: number;
  parityBytes: number;
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

export function emptyResult(): ExecutionResult {
  return {
    done: 0,
    bytesCopied: 0,
    parityBytes: 0,
    skipped: [],
    stopped: null,
    deferredVolumes: new Set(),
    counts: { added: 0, modified: 0, renamed: 0, linked: 0, removed: 0, deferred: 0 },
  };
}

/** What the operation handlers share during one run of the executor. */
export interface ApplyEnv {
  readonly ctx: ExecutorContext;
  readonly fs: Fsx;
  readonly batch: CatalogBatch;
  readonly space: SpaceEstimate;
  /** Small new files copied ahead to temporary names (copy-ahead.ts). */
  readonly ahead: CopyAhead;
  readonly result: ExecutionResult;
  readonly parity: ParityQueue;
  readonly loosened: LoosenedNames;
  /** Files of a swap or rotation waiting below .blaine/tmp: no commit and no stop until they are home. */
  readonly parked: Set<string>;
  /** The operation under way turned out to be content the volume already had. */
  deduped: boolean;
  /** The operation under way found its source file gone: nothing was done, nothing to count. */
  vanished: boolean;
  /** Records why the run stops (the first reason wins); the operation under way is the last. */
  stop(why: NonNullable<ExecutionResult['stopped']>): void;
  /** storedRow for this run. */
  stored(e: CatalogEntry): CatalogEntry;
}

/**
 * The mounted volume's row as the disk catalog holds it now: the planner works from a lean view
 * (no parity name, no verify time), and what is written back must keep those.
 */
export function storedRow(ctx: Pick<ExecutorContext, 'volume' | 'disk'>, e: CatalogEntry): CatalogEntry {
  return e.volume === ctx.volume ? (ctx.disk.get(e.volume, e.path) ?? e) : e;
}

/** The mode, owner and mtime a stored file takes from its data-path record. */
export function metaOf(r: FileRecord) {
  return { mode: r.mode & 0o7777, uid: r.uid, gid: r.gid, mtimeSec: r.mtimeSec, mtimeNsec: r.mtimeNsec };
}

/** The record of r's source as it is now, or null when it is no longer a regular file. */
export function currentRecord(r: FileRecord, fs: Fsx): FileRecord | null {
  let st;
  try {
    st = fs.lstatSync(r.path, { bigint: true });
  } catch {
    return null;
  }
  if (!st.isFile()) return null;
  const NS = 1_000_000_000n;
  // Floor, not truncation: a time before 1970 has a negative second and a positive nanosecond.
  const sec = st.mtimeNs / NS - (st.mtimeNs % NS < 0n ? 1n : 0n);
  const when = { mtimeSec: Number(sec), mtimeNsec: Number(st.mtimeNs - sec * NS) };
  return { ...r, ...when, size: Number(st.size), inode: `${st.dev}:${st.ino}`, nlink: Number(st.nlink), mode: Number(st.mode), uid: Number(st.uid), gid: Number(st.gid) };
}

/**
 * True only when the source path is known to be gone (ENOENT, ENOTDIR). A data path whose disk
 * fails (EIO and the like) has not lost its files: they are skipped with a warning instead.
 */
export function goneFromSource(p: string, fs: Fsx): boolean {
  try {
    fs.lstatSync(p);
    return false;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR';
  }
}

export function isSymlink(p: string, fs: Fsx): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
