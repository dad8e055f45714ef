import path from 'node:path';
import { CatalogError, type Catalog } from '../catalog/catalog.js';
import type { CatalogEntry } from '../catalog/entry.js';
import { type Journal } from '../archive/journal.js';
import type { ContentFilter } from './content-filter.js';
import { JOURNAL_COMMITTED } from '../catalog/meta-keys.js';
import type { ExecutorContext } from './env.js';

// Each commit syncs the disk and writes every catalog page the batch touched, the content index's
// all over the file: a first backup of 100,000 small files spent a seventh of its time committing
// every 2,000 operations, and 5% more at 16,384. The time bounds what a crash costs (the next run
// undoes the batch from the journal and copies it again); the count bounds the journal.
const BATCH_OPS = 100_000;
const BATCH_MS = 10_000;

/**
 * Both catalogs' changes of a run, batched in transactions of up to BATCH_OPS steps or BATCH_MS.
 * Before each commit the data written since is synced (`sync`), so the catalogs never claim a file
 * the disk does not durably hold.
 */
export class CatalogBatch {
  private inTx = false;
  private opsInTx = 0;
  private txStarted = 0;
  /** Data was written since the last commit: sync before committing. */
  wroteData = false;
  /** Told every content of the mounted volume's rows this batch writes (ApplyEnv.written). */
  contents: ContentFilter | null = null;

  constructor(
    private readonly host: Catalog,
    private readonly disk: Catalog,
    /** The mounted volume: its rows go to the disk catalog too. */
    private readonly volume: string,
    private readonly sync: () => void,
    /** The steps on the disk that this batch's rows record; the commit names its batch. */
    private readonly journal?: Journal,
    /** False while the disk is mid-way through a change the catalog cannot describe (a parked swap). */
    private readonly canCommit: () => boolean = () => true,
    /** Throws when the disk is no longer the one the run opened (archive/identity.ts): nothing is committed then. */
    private readonly checkDisk: () => void = () => {},
  ) {}

  begin(): void {
    if (this.inTx) return;
    this.disk.beginTransaction();
    this.host.beginTransaction();
    this.inTx = true;
    this.opsInTx = 0;
    this.txStarted = Date.now();
  }

  commit(): void {
    if (!this.inTx) return;
    try {
      if (this.wroteData) this.sync();
    } catch (err) {
      this.requireSameDisk();
      throw err;
    }
    this.wroteData = false;
    // After the sync: a disk unmounted while the batch was written is seen before any row names it.
    this.requireSameDisk();
    const batch = this.journal?.batch;
    if (batch) this.disk.setMeta(JOURNAL_COMMITTED, batch);
    // Host first (SPEC §5). The host transaction carries what no disk holds: other
    // volumes' rows and their deferred actions. A crash after it and before the disk's commit leaves
    // the mounted volume's run unfinished (DIRTY): the next run undoes the disk's steps from the journal
    // and re-imports the volume's rows from the disk catalog, while the offline volumes' share survives.
    // The other order lost that share and left two volumes claiming one path.
    try {
      this.host.commitTransaction();
    } catch (err) {
      // Nothing of the batch is committed anywhere: the journal stays and the next run undoes its steps.
      this.rollback();
      throw hostCatalogFull(err, this.host.file) ?? err;
    }
    try {
      this.disk.commitTransaction();
    } catch (err) {
      // The host has the batch and the disk not: the disk is marked DIRTY (beginWrite), so the next
      // run undoes the disk's steps from the journal and re-imports the volume's rows from the disk.
      this.rollback();
      throw err;
    }
    this.inTx = false;
    this.journal?.committed();
  }

  /** A disk that went away: the batch's rows are dropped (the files they name are not provably there) and the run stops. */
  private requireSameDisk(): void {
    try {
      this.checkDisk();
    } catch (err) {
      this.rollback();
      throw err;
    }
  }

  /** Drops the rows of this batch: the journal stays, and the next run undoes its steps on the disk. */
  rollback(): void {
    if (!this.inTx) return;
    // A failed COMMIT (SQLITE_FULL) may have rolled its transaction back already.
    for (const c of [this.disk, this.host]) c.rollbackTransaction();
    this.inTx = false;
    this.journal?.close();
  }

  /** One step done: commits when the batch is full or old enough. */
  step(): void {
    this.opsInTx++;
    this.commitIfDue();
  }

  /** Commits when the batch is full or old enough (and the disk is not mid-way through a swap). */
  commitIfDue(): void {
    if (this.due() && this.canCommit()) this.commit();
  }

  /** The batch is full or old enough: a commit comes as soon as it can. */
  due(): boolean {
    return this.inTx && (this.opsInTx >= BATCH_OPS || Date.now() - this.txStarted > BATCH_MS);
  }

  put(e: CatalogEntry): void {
    this.begin();
    if (e.volume === this.volume) {
      this.disk.put(e);
      if (e.sha256 !== null) this.contents?.add(e.size, e.sha256);
    } else this.otherVolume(e.volume);
    this.host.put(e);
  }

  /** A parity set made for the mounted volume's stored file p: both catalogs, unless the disk no longer has the row. */
  madeParity(p: string, parityName: string | null): void {
    this.begin();
    if (this.disk.madeParity(this.volume, p, parityName)) this.host.madeParity(this.volume, p, parityName);
  }

  drop(e: CatalogEntry): void {
    this.begin();
    if (e.volume === this.volume) this.disk.remove(e.volume, e.path);
    else this.otherVolume(e.volume);
    this.host.remove(e.volume, e.path);
  }

  private readonly bumped = new Set<string>();

  /**
   * Before the host changes rows of an offline volume: its generation moves on (once a run), in
   * the transaction under way, so its copies are behind on the change and the rows carry a
   * generation newer than any copy's (catalog/changes.ts).
   */
  otherVolume(volume: string): void {
    this.begin();
    if (this.bumped.has(volume)) return;
    this.host.bumpGeneration(volume);
    this.bumped.add(volume);
  }
}

/** The host catalog could not grow (SQLITE_FULL): one sentence naming where space is needed (SPEC §5). */
export function hostCatalogFull(err: unknown, hostFile: string): CatalogError | null {
  const e = err as { name?: string; code?: string } | null;
  if (e?.name !== 'SqliteError' || e.code !== 'SQLITE_FULL') return null;
  return new CatalogError(hostCatalogFullMessage(hostFile));
}

export function hostCatalogFullMessage(hostFile: string): string {
  return `the disk holding the host catalog (${path.dirname(hostFile)}) is full: the catalog could not grow, and nothing was lost; free space there and run the command again`;
}

/**
 * The mounted volume's row as the disk catalog holds it now: the planner works from a lean view
 * (no parity name, no verify time), and what is written back must keep those.
 */
export function storedRow(ctx: Pick<ExecutorContext, 'volume' | 'disk'>, e: CatalogEntry): CatalogEntry {
  return e.volume === ctx.volume ? (ctx.disk.get(e.volume, e.path) ?? e) : e;
}
