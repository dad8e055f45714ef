import path from 'node:path';
import type { Catalog } from '../catalog/catalog.js';
import { INDEX_SUFFIX, isCompleteSet, parityStem, RECOVERY_SUFFIX, matchParityToRow } from '../parity/paths.js';
import { diskRelative } from '../fsx/paths.js';
import { ParityPool } from '../parity/pool.js';
import { SMALL_SET_BYTES } from '../parity/slices.js';
import { syncDisk } from '../fsx/copy.js';
import { type Fsx } from '../fsx/fsx.js';
import { tempName } from '../fsx/temp.js';
import { diskTempDir } from '../archive/layout.js';
import { requireSameDisk } from '../archive/identity.js';
import { Journal, type JournalStep } from '../archive/journal.js';
import { JOURNAL_COMMITTED } from '../catalog/meta-keys.js';
import { FLUSH_ROWS, FLUSH_MS } from './types.js';
import type { ProblemKind, Problem, VerifyOptions, Item, Group } from './types.js';

/**
 * What one verify run knows and has found: the catalogued items by inode group, the problems, and
 * the catalog updates waiting to be written. The checks (check.ts) and repairs (repair.ts) build on it.
 */
export abstract class VerifyState {
  protected readonly now: () => number;
  protected readonly started: number;
  protected readonly problems: Problem[] = [];
  protected readonly items: Item[] = [];
  protected readonly byRel = new Map<string, Item>();
  protected readonly groups = new Map<string, Group>();
  protected readonly orphans: string[] = [];
  protected readonly intactCache = new Map<string, boolean>();
  protected readonly judgedGroups = new Set<Group>();
  /** Names whose content was read (or repaired and checked) in this run. */
  protected readonly checked = new Set<Item>();
  protected remaining = 0;
  protected bytesRead = 0;
  protected interrupted = false;
  protected pending: Array<(c: Catalog) => void> = [];
  protected lastFlush: number;
  protected wroteData = false;
  protected pool: ParityPool | null = null;
  /** With fix: what the repairs are about to do, for the next run to recover after a crash. */
  protected readonly journal: Journal | null;
  /** Journalled steps under way (parity jobs run while others go on): the batch commits only without any. */
  private stepsUnderWay = 0;
  /** A journalled step failed half-way: its batch stays open for the next run to recover. */
  private stepFailed = false;

  protected readonly fs: Fsx;

  constructor(protected readonly o: VerifyOptions) {
    this.fs = o.fs;
    this.now = o.now ?? Date.now;
    this.started = this.now();
    this.lastFlush = this.started;
    this.journal = o.fix ? new Journal(o.root, this.fs) : null;
  }

  /**
   * Journals a step of a repair, then makes it (`make`); the batch the step belongs to is marked
   * done by the first flush after it has finished.
   */
  protected async journalled<T>(step: JournalStep, make: () => T | Promise<T>): Promise<T> {
    this.journal?.intend([step]);
    this.stepsUnderWay++;
    try {
      return await make();
    } catch (e) {
      if (!this.recoveredNow(step)) this.stepFailed = true;
      throw e;
    } finally {
      this.stepsUnderWay--;
      this.wroteData = true;
    }
  }

  /**
   * A parity step that failed (a name the disk refuses, a full disk) is recovered at once, as the
   * next run's recovery would, so that its batch can still commit: a journal left open
   * by an error that happens again every run would block the disk for good. False when even that
   * fails, or for other steps.
   */
  private recoveredNow(step: JournalStep): boolean {
    if (step.op !== 'parity') return false;
    const item = this.byRel.get(diskRelative(step.path));
    try {
      matchParityToRow(this.o.root, diskRelative(step.path), item?.e, this.fs);
      return true;
    } catch {
      return false;
    }
  }

  protected stopped(): boolean {
    if (this.o.signal.aborted) this.interrupted = true;
    return this.interrupted;
  }

  protected add(item: Item | null, p: string, kind: ProblemKind, detail: string): Problem {
    const pr: Problem = { path: p, kind, repaired: false, detail };
    this.problems.push(pr);
    item?.problems.push(pr);
    return pr;
  }

  protected has(item: Item, ...kinds: ProblemKind[]): Problem | undefined {
    return item.problems.find((p) => kinds.includes(p.kind));
  }

  protected repaired(item: Item, ...kinds: ProblemKind[]): void {
    for (const p of item.problems) if (kinds.includes(p.kind)) p.repaired = true;
  }

  protected parityStem(item: Item): string {
    return parityStem(this.o.root, item.rel);
  }

  /** The files createParity makes are there: index and recovery file, or a small file's one file. */
  protected parityComplete(item: Item): boolean {
    const stem = this.parityStem(item);
    const own = [INDEX_SUFFIX, RECOVERY_SUFFIX].map((s) => stem + s).filter((f) => item.parity.includes(f));
    return isCompleteSet(this.o.root, item.rel, own, item.e.size);
  }

  /**
   * par2 can verify and repair from the recovery file alone (it repeats the set's description); a
   * small file's one-file set is such a recovery file under the index's name.
   */
  protected hasRecovery(item: Item): boolean {
    const stem = this.parityStem(item);
    if (item.parity.includes(stem + RECOVERY_SUFFIX)) return true;
    return item.e.size < SMALL_SET_BYTES && item.parity.includes(stem + INDEX_SUFFIX);
  }

  protected newTemp(): string {
    const dir = diskTempDir(this.o.root);
    this.fs.mkdirSync(dir, { recursive: true });
    return path.join(dir, tempName('verify'));
  }

  /** Names in the group with the given content and a usable parity set, one per distinct set. */
  protected makePool(): ParityPool {
    const pool = new ParityPool({ jobs: this.o.jobs, pct: this.o.parityPct, maxSlices: this.o.paritySlices, memoryBytes: this.o.parityMemory, cfg: this.o.par2, creator: this.o.parityCreator, fs: this.fs });
    this.o.signal.addEventListener('abort', () => void pool.abort(), { once: true });
    return pool;
  }

  protected setParity(item: Item, parityName: string): void {
    this.wroteData = true;
    this.repaired(item, 'parity-missing', 'no-parity', 'parity-damaged');
    const { volume } = this.o;
    const p = item.e.path;
    this.pending.push((c) => c.setParityName(volume, p, parityName));
    this.o.detail(`parity made for ${p}`);
    this.maybeFlush();
  }

  // ---- catalogs ----

  protected markVerified(item: Item): void {
    this.checked.add(item);
    if (item.verifiedNow) return;
    item.verifiedNow = true;
    const at = Math.floor(this.now() / 1000);
    const { volume } = this.o;
    const p = item.e.path;
    this.pending.push((c) => c.setVerifiedAt(volume, p, at));
  }

  private sha1Linked: Set<string> | undefined;

  /**
   * Migrated rows stored as one with another by SHA-1 alone: the disk's bytes cannot tell whether
   * they are this file's or its pair's (a collision), so only a backup, which reads the data path
   * too, gives them their SHA-256 (backup/sha1-links.ts).
   */
  protected linkedBySha1(): Set<string> {
    this.sha1Linked ??= new Set(this.o.disk.linkedBySha1(this.o.volume).map((e) => e.path));
    return this.sha1Linked;
  }

  /** A migrated row's content was read and matches its SHA-1: from now on it is known by its SHA-256. */
  protected recordContentHash(item: Item, sha256: string): void {
    item.e = { ...item.e, sha256, legacySha1: null };
    const { volume } = this.o;
    const p = item.e.path;
    this.pending.push((c) => c.setContentHash(volume, p, sha256));
  }

  protected maybeFlush(): void {
    if (this.pending.length >= FLUSH_ROWS || this.now() - this.lastFlush >= FLUSH_MS) this.flush();
  }

  /** Writes what this run learnt, disk catalog first (the truth for the volume), as the executor does. */
  protected flush(): void {
    this.lastFlush = this.now();
    const batch = this.stepsUnderWay === 0 && !this.stepFailed ? (this.journal?.batch ?? null) : null;
    if (this.pending.length === 0 && batch === null) return;
    const writes = this.pending;
    this.pending = [];
    // New parity files must be on the disk before a catalog says they are there.
    if (this.wroteData) syncDisk(this.o.root, this.fs);
    this.wroteData = false;
    requireSameDisk(this.o.identity);
    this.o.disk.transaction(() => {
      writes.forEach((w) => w(this.o.disk));
      if (batch !== null) this.o.disk.setMeta(JOURNAL_COMMITTED, batch);
    });
    if (batch !== null) this.journal!.committed();
    this.o.host.transaction(() => writes.forEach((w) => w(this.o.host)));
  }
}
