import type { CatalogEntry } from '../catalog/entry.js';
import type { DeferredAction } from '../catalog/catalog.js';
import type { FileRecord } from '../scan/record.js';

/**
 * What a backup does, decided before anything is touched. Operations on the mounted volume are
 * carried out in the order given; `defer` operations are queued for an offline volume, also in order.
 */
export type Operation =
  /**
   * New content from the data path onto the mounted volume; `replaces` is the entry it overwrites
   * there. With `dedupe`, content the volume already holds (known by the SHA-256 computed while
   * copying) is kept once: the copy becomes a hardlink to it.
   */
  | { type: 'copy'; record: FileRecord; replaces?: CatalogEntry; why: 'added' | 'modified'; dedupe?: boolean }
  /** A symlink made (or remade) on the mounted volume. */
  | { type: 'symlink'; record: FileRecord; replaces?: CatalogEntry; why: 'added' | 'modified' }
  /** A hardlink on the mounted volume to content already stored at `from` (after earlier operations). */
  | { type: 'link'; record: FileRecord; from: CatalogEntry; replaces?: CatalogEntry; why: 'linked' | 'modified' }
  /**
   * A stored file moved on the mounted volume. `record` is what the data path now holds there; null for
   * the intermediate step of a swap or cycle (a temporary name below .blaine/tmp).
   */
  | { type: 'rename'; from: CatalogEntry; to: string; record: FileRecord | null }
  /**
   * A stored file removed from the mounted volume. `makesRoomFor`: a gone file below a former
   * directory, removed (with --clean) before the object now at the directory's path is archived,
   * so it goes first rather than with the other removals at the end.
   */
  | { type: 'delete'; entry: CatalogEntry; why: 'removed' | 'replaced'; makesRoomFor?: string }
  /** Only the catalog (and the disk's mtime/mode when they changed) follows the data path. */
  | { type: 'update'; entry: CatalogEntry; record: FileRecord; sha256: string | null; touchDisk: boolean }
  /**
   * An action queued for an offline volume; the host catalog changes now, the disk when it is mounted.
   * `entry` is the stored file it acts on; `record` what the data path now holds at the target.
   */
  | {
      type: 'defer';
      volume: string;
      action: DeferredAction;
      path: string;
      target: string | null;
      entry: CatalogEntry;
      record: FileRecord | null;
      why: 'renamed' | 'linked' | 'removed' | 'replaced';
    };

export interface PlanCounts {
  unchanged: number;
  added: number;
  modified: number;
  renamed: number;
  linked: number;
  removed: number;
  deferred: number;
  /** Catalogued files whose path is gone but which are kept (no --clean, or the scan was incomplete). */
  missing: number;
  /** Catalogued files that this run's rules exclude: kept as they are, never taken as gone. */
  excluded: number;
}

export interface Plan {
  ops: Operation[];
  /** Paths whose SHA-256 must be known before the plan can be decided; hash them and plan again. */
  needHash: string[];
  /** Data-path files read (hashed) to reach the decision; set by the caller that hashed them. */
  filesRead?: number;
  counts: PlanCounts;
  /** Bytes of new content the mounted volume will receive. */
  bytesToCopy: number;
  /** Data paths whose removals were held back by the mass-delete guard, with the reason. */
  guarded: Array<{ root: string; reason: string }>;
  /**
   * Paths where a directory of stored files was and something else is now (a symlink, a file) that
   * this run does not archive: the stored files below stay (no --clean, the mass-delete guard, an
   * incomplete scan), and the disk cannot hold both. `kept`: how many stored files are below.
   */
  blocked?: Array<{ path: string; kind: 'file' | 'symlink'; kept: number }>;
}

export type MatchMode = 'inode' | 'size-mtime' | 'path-size-mtime' | 'strict';

export interface PlanOptions {
  matchMode: MatchMode;
  clean: boolean;
  /** Percent of the files catalogued under a data path that one run may remove. */
  maxDeletePct: number;
  force: boolean;
}
