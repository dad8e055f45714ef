import path from 'node:path';
import type { Operation } from '../plan/operation.js';
import type { FileRecord } from '../scan/record.js';
import { CopyError } from '../fsx/copy-error.js';
import { copyToTemp, SMALL_FILE, type TempCopy } from '../fsx/copy.js';
import { copyBatchToTemp, type BatchCopied } from '../fsx/copy-batch.js';
import type { Fsx } from '../fsx/fsx.js';
import { removeQuietly } from '../fsx/parents.js';
import { startWriteback } from '../fsx/durable.js';
import { diskTempDir, onDisk } from '../archive/layout.js';
import { refused, type Admitted, type SpaceBudget } from './space.js';
import type { Par2Feeder } from '../parity/creator.js';
import { FEED_FROM } from '../parity/pool.js';

/** Files per batch: one worker-thread round trip each. */
const BATCH = 64;
/**
 * Folders of .blaine/tmp that the batches take turns in. The executor renames copies out of a folder
 * while the worker creates the next ones: in one folder both wait on its lock, and a first backup of
 * 100,000 small files on ext4 ran 5% slower.
 */
const FOLDERS = 8;
/** Operations looked at ahead of the one being carried out: two batches when all are copies. */
export const AHEAD_WINDOW = 2 * BATCH;

type Prepared = Promise<TempCopy | BatchCopied | CopyError>;

/** A copy made ahead, and the room the space rule counted for it (its data already reported written). */
export interface Ahead {
  copy: Prepared;
  room: Admitted;
  /** The set its copy fed (a big file's), for the executor to finish or close. */
  feeder?: Par2Feeder | null;
  /** Its destination was given to the copying thread: once done, the copy may already be in place. */
  placing?: boolean;
}

/**
 * Files too big for the batches copied ahead at once, each on its own (the native copy): two, the
 * one the executor waits for and the next. A big file's set (from FEED_FROM) is fed by its copy,
 * and its whole-file MD5 is one serial chain that a lone copy waits for; two at once pair their
 * chains (md5_update_shared, about the price of one) and keep both cores busy. Measured on the 8
 * big files of the bench's 1 GiB (715 MiB, fed sets, three alternated runs, load ~5): one at a time
 * 3.84–5.60 s, two at once 3.00–3.11 s. When one ends the next is started (fill again), not only
 * when the executor moves on: it waits for the other meanwhile.
 */
const BIG_AHEAD = 2;

/**
 * A first backup is mostly new small files in a row, where the cost is all per-file system calls.
 * (Big files are copied ahead too, two at once: BIG_AHEAD.)
 * Their copies are made ahead, a batch at a time on the addon's worker thread (fsx/copy-batch.ts),
 * while the executor puts the previous ones in place and records their rows. Only the data is
 * written ahead, under temporary names in .blaine/tmp (which the next run's cleanup removes after a
 * crash); each copy is renamed into place by the executor in plan order, after its journal entry,
 * exactly as an ordinary copy. The free-space check is made here, in plan order, for each file
 * before it is written, as the executor would have made it.
 */
export class CopyAhead {
  private readonly ready = new Map<FileRecord, Ahead>();
  private readonly batches: Array<Promise<unknown>> = [];
  /** The folders made for batches this run (FOLDERS), removed once empty. */
  private readonly folders = new Set<string>();
  private turn = 0;
  /** The operations being carried out (a backup applies its plan a chunk at a time, one run each). */
  private ops: Operation[] | null = null;
  /** The first operation of `ops` not yet looked at. */
  private next = 0;
  /** The space check failed ahead: the executor's own check stops the run there. */
  private noRoom = false;
  /** Big copies made ahead and not yet finished. */
  private bigUnderway = 0;
  /** The executor's operation when it last called fill; false once the run's copies are discarded. */
  private at = 0;
  private live = false;
  /** Which operations' copies may be put in place by the copying thread (fill's `placeable`). */
  private placeable: (index: number) => boolean = () => false;
  /** Copies given their destination and not yet taken by the executor (nor discarded). */
  private placing = 0;
  /** Destination folders made (or found) for copies put in place by the copying thread. */
  private readonly destFolders = new Set<string>();

  constructor(
    private readonly root: string,
    private readonly fsx: Fsx,
    /** The one space rule: a file is admitted here, in plan order, before it is written. */
    private readonly space: SpaceBudget,
    private readonly signal: AbortSignal,
    /** A set for a big file's copy to feed (ParityQueue.feederFor), or null. */
    private readonly feederFor: (p: string, size: number) => Par2Feeder | null = () => null,
  ) {}

  /**
   * Before ops[i] is carried out: starts the copies of the small new files after it, a batch at a
   * time, while fewer than AHEAD_WINDOW operations are covered. A copy to a new name whose
   * operation is `placeable` (its step is journalled: the executor says) is renamed into place by
   * the copying thread too, onto no existing name; the executor then only records it.
   */
  fill(ops: Operation[], i: number, placeable?: (index: number) => boolean): void {
    if (ops !== this.ops) {
      this.ops = ops;
      this.next = i;
    }
    if (placeable) this.placeable = placeable;
    this.at = i;
    this.live = true;
    if (this.next < i) this.next = i;
    while (!this.noRoom && !this.signal.aborted && this.next - i < AHEAD_WINDOW && this.next < ops.length) {
      const records: Array<{ r: FileRecord; room: Admitted; place: boolean }> = [];
      while (records.length < BATCH && this.next < ops.length) {
        const op = ops[this.next]!;
        const big = bigCopy(op);
        if (big) {
          // The executor's own next file too: admitted here in plan order, before the one after it.
          if (this.bigUnderway >= BIG_AHEAD || this.ready.has(big)) break;
          const room = this.space.admit(big.path, big.size);
          if (refused(room)) {
            this.noRoom = true;
            break;
          }
          this.startBig(big, room);
          this.next++;
          continue;
        }
        if (!eligible(op)) {
          // Links, symlinks, moves and catalog changes take no room: the copies after them can go
          // ahead in the same plan order of space checks. A delete frees room and another copy
          // takes some: those are waited for.
          if (!spaceNeutral(op)) break;
          this.next++;
          continue;
        }
        const r = op.record;
        const room = this.space.admit(r.path, r.size);
        if (refused(room)) {
          this.noRoom = true;
          break;
        }
        // A copy that replaces a stored name is put in place by the executor, after that name's parity and link group are let go of.
        records.push({ r, room, place: op.replaces === undefined && this.placeable(this.next) });
        this.next++;
      }
      if (records.length > 0) this.start(records);
      if (records.length < BATCH) break;
    }
  }

  private start(records: Array<{ r: FileRecord; room: Admitted; place: boolean }>): void {
    const tempDir = path.join(diskTempDir(this.root), `ahead-${this.turn++ % FOLDERS}`);
    if (!this.folders.has(tempDir)) {
      this.fsx.mkdirSync(tempDir, { recursive: true });
      this.folders.add(tempDir);
    }
    const jobs = records.map((rec) => {
      const dest = onDisk(this.root, rec.r.path);
      // The copying thread makes no folders: the executor makes them as its own rename would have.
      rec.place &&= this.folderFor(dest);
      const r = rec.r;
      return { src: r.path, dest, meta: { mode: r.mode & 0o7777, uid: r.uid, gid: r.gid, mtimeSec: r.mtimeSec, mtimeNsec: r.mtimeNsec }, placeSize: rec.place ? r.size : undefined };
    });
    // Written on the worker's thread: statfs sees the data once the batch is done, not before.
    const batch = copyBatchToTemp(jobs, tempDir, this.fsx).finally(() => {
      for (const { room } of records) this.space.wrote(room.data);
    });
    this.batches.push(batch.catch(() => {}));
    records.forEach(({ r, room, place }, k) => {
      const one = batch.then((all) => all[k]!);
      // Taken later, or never (a run that stops): an unhandled rejection would end the process.
      one.catch(() => {});
      if (place) this.placing++;
      this.ready.set(r, { copy: one, room, placing: place });
    });
  }

  /** Whether dest's folder is there (made now if need be, as installTemp makes it); false leaves the rename to the executor. */
  private folderFor(dest: string): boolean {
    const dir = path.dirname(dest);
    if (this.destFolders.has(dir)) return true;
    try {
      this.fsx.mkdirSync(dir, { recursive: true });
    } catch {
      return false;
    }
    this.destFolders.add(dir);
    return true;
  }

  /** One big file's copy to a temporary name, with its set fed by the copy when the pool has one for it. */
  private startBig(r: FileRecord, room: Admitted): void {
    const feeder = this.feederFor(r.path, r.size);
    const meta = { mode: r.mode & 0o7777, uid: r.uid, gid: r.gid, mtimeSec: r.mtimeSec, mtimeNsec: r.mtimeNsec };
    this.bigUnderway++;
    const opts = { signal: this.signal, expectedSize: r.size, tempDir: diskTempDir(this.root), fs: this.fsx, tap: feeder?.take, nativeTap: feeder?.nativeTap };
    const copy: Prepared = copyToTemp(r.path, onDisk(this.root, r.path), meta, opts)
      .catch((err: unknown) => {
        if (err instanceof CopyError) return err;
        throw err;
      })
      .finally(() => {
        this.bigUnderway--;
        this.space.wrote(room.data);
        // On an encrypted disk the copy's ciphertext starts on its way to the disk now (see startWriteback).
        startWriteback(this.root);
        // The next big copy starts now, beside the other one, even while the executor waits for that.
        if (this.live && this.ops) this.fill(this.ops, this.at);
      });
    // Taken later, or never (a run that stops): an unhandled rejection would end the process.
    copy.catch(() => {});
    this.batches.push(copy.catch(() => {}));
    this.ready.set(r, { copy, room, feeder });
  }

  /** The copy made ahead for this record (its space already admitted, its data counted written), if there is one. */
  take(r: FileRecord): Ahead | undefined {
    const p = this.ready.get(r);
    this.ready.delete(r);
    if (p?.placing) this.placing--;
    return p;
  }

  /**
   * Copies that may be at their destination with no catalog row yet (given their destination, not
   * yet taken): while there are any, the catalogs are not committed, since a commit ends the
   * journal that names them (apply/executor.ts).
   */
  get unrecorded(): number {
    return this.placing;
  }

  /** Waits for the batches under way and removes the copies nobody took (the run stopped before them). */
  async discard(): Promise<void> {
    this.live = false;
    await Promise.all(this.batches);
    for (const [r, { copy, room, feeder }] of this.ready) {
      feeder?.close();
      const res = await copy.catch(() => null);
      // A copy put in place is at a name nothing was at (the rename replaces nothing): it goes as it came.
      if (res && 'placed' in res && res.placed) removeQuietly(onDisk(this.root, r.path), this.fsx);
      else if (res && 'tmp' in res) removeQuietly(res.tmp, this.fsx);
      this.space.withdraw(room, room.data);
    }
    this.ready.clear();
    this.placing = 0;
    this.batches.length = 0;
    // Empty now: the next run finds nothing of this one in .blaine/tmp.
    for (const dir of this.folders) {
      try {
        this.fsx.rmdirSync(dir);
      } catch {
        // Left for the next run's cleanup of .blaine/tmp.
      }
    }
    this.folders.clear();
  }
}

function spaceNeutral(op: Operation): boolean {
  return op.type === 'link' || op.type === 'symlink' || op.type === 'rename' || op.type === 'update' || op.type === 'defer';
}

/** The file of a copy too big for the batches (copied on its own, its set fed from FEED_FROM), or null. */
function bigCopy(op: Operation | undefined): FileRecord | null {
  return op !== undefined && op.type === 'copy' && op.record.kind === 'file' && op.record.size > SMALL_FILE ? op.record : null;
}

function eligible(op: Operation | undefined): op is Extract<Operation, { type: 'copy' }> {
  // A copy that replaces a stored file is made the same way: to a temporary name, renamed over the
  // old one in plan order (write-ops.ts copyFile).
  return op !== undefined && op.type === 'copy' && op.record.kind === 'file' && op.record.size <= SMALL_FILE;
}
