import type { Operation } from '../plan/operation.js';
import { CopyError, syncDisk } from '../fsx/copy.js';

import { identityOf, Journal, type JournalStep } from '../archive/journal.js';
import { CatalogBatch, storedRow } from './batch.js';
import { ContentFilter } from './content-filter.js';
import { AHEAD_WINDOW, CopyAhead } from './copy-ahead.js';
import type { ApplyEnv } from './apply-env.js';
import type { Applier, ExecutionResult, ExecutorContext } from './env.js';
import { LoosenedNames } from './loosened.js';
import { applyDefer, applyDelete, applyRename, applyUpdate } from './move-ops.js';
import { ParityQueue } from './parity-queue.js';
import { refused, SpaceBudget, spaceRuleOf } from './space.js';
import { emptyResult, opPath, tally } from './tally.js';
import { applyCopy, applyLink, applySymlink } from './write-ops.js';

export type { Applier, ApplierFactory, ExecutionResult, ExecutorContext } from './env.js';

/** Operations journalled at once (one fsync); see journalFor. */
const JOURNAL_AHEAD = 1000;

type Handler<T extends Operation['type']> = (env: ApplyEnv, op: Extract<Operation, { type: T }>) => Promise<void> | void;

/** One handler per operation kind. */
const HANDLERS: { [T in Operation['type']]: Handler<T> } = {
  copy: applyCopy,
  symlink: applySymlink,
  link: applyLink,
  rename: applyRename,
  delete: applyDelete,
  update: applyUpdate,
  defer: applyDefer,
};

function dispatch(env: ApplyEnv, op: Operation): Promise<void> | void {
  return (HANDLERS[op.type] as Handler<Operation['type']>)(env, op);
}

/**
 * Carries out a plan on the mounted disk and records each step in both catalogs. Catalog writes are
 * batched in transactions; before each commit the disk is synced, so the catalogs never claim a
 * file the disk does not durably hold. A full disk or an interrupt stops after the step under way,
 * with everything done so far committed.
 */
export class Executor implements Applier {
  readonly result: ExecutionResult = emptyResult();
  private readonly env: ApplyEnv;
  private readonly batch: CatalogBatch;
  private readonly journal: Journal;
  /** Index of the first operation not yet written to the journal. */
  private journalled = 0;
  /** The journal batch those operations went into (a commit starts a new one). */
  private journalledBatch: string | null = null;

  constructor(private readonly ctx: ExecutorContext) {
    const fs = ctx.fs;
    const parked = new Set<string>();
    this.journal = new Journal(ctx.root, fs);
    // Not while a swap is parked, nor while copies may stand at their names unrecorded: a commit ends
    // the journal that names them (copy-ahead.ts fill's `placeable`).
    const canCommit = () => parked.size === 0 && this.env.ahead.unrecorded === 0;
    this.batch = new CatalogBatch(ctx.host, ctx.disk, ctx.volume, () => syncDisk(ctx.root, fs), this.journal, canCommit, ctx.checkDisk);
    const stop = (why: NonNullable<ExecutionResult['stopped']>) => {
      if (!this.result.stopped) this.result.stopped = why;
    };
    const space = new SpaceBudget(ctx.root, fs, spaceRuleOf(ctx, ctx.parity ? ctx.parityPct : 0), true, ctx.reservedFiles);
    const parity = new ParityQueue(ctx, this.batch, this.result, stop);
    // A volume without files yet (a first backup) holds only what this run writes: known here.
    const written = ctx.disk.holdsFiles(ctx.volume) ? null : new ContentFilter();
    this.batch.contents = written;
    this.env = {
      ctx,
      fs,
      batch: this.batch,
      space,
      ahead: new CopyAhead(ctx.root, fs, space, ctx.signal, (p, size) => parity.feederFor(p, size)),
      result: this.result,
      parity,
      loosened: new LoosenedNames(ctx.volume),
      parked,
      deduped: false,
      linkGroups: new Map(),
      written,
      vanished: false,
      stop,
      stored: (e) => storedRow(ctx, e),
    };
  }

  /** Commits the catalog changes made so far (after syncing the data they point at). */
  commit(): void {
    this.batch.commit();
  }

  /** Parity for files that should have it and do not (an earlier crash, an earlier failure). */
  resumeParity(): number {
    if (!this.ctx.parity) return 0;
    let n = 0;
    for (const e of this.ctx.disk.withoutParity(this.ctx.volume)) {
      // Parity takes room too: on a disk too full for it, the file waits (verify --fix or a later run).
      const room = this.env.space.admitParity(e.path, e.size);
      if (refused(room)) break;
      this.env.parity.start(e.path, e.size, () => this.env.space.wrote(room.parity));
      n++;
    }
    return n;
  }

  /**
   * Writes the journal steps of ops[i] before it is carried out, together with those of the ops
   * after it, in one fsync: a whole run of moves, or up to JOURNAL_AHEAD other ops. A step that
   * was journalled but never made is harmless to recovery (a move is recognised as not made; a
   * path whose file and row still agree is left alone), while one fsync per file made a first
   * backup of small files wait for the disk after every file. A commit empties the journal, so
   * steps journalled ahead of it are written again into the next batch.
   */
  private journalFor(ops: Operation[], i: number): void {
    let from = i;
    if (i < this.journalled && this.journal.batch === this.journalledBatch) {
      // Journalled far enough ahead for the copies made ahead (placeable) — or the next ops are
      // moves, which are journalled only when the executor reaches them.
      if (this.journalled - i > AHEAD_WINDOW || this.journalled >= ops.length || ops[this.journalled]!.type === 'rename' || ops[i]!.type === 'rename') return;
      from = this.journalled;
    }
    const steps: JournalStep[] = [];
    // Moves are looked up in the disk catalog (stepOf): a run of them never mixes with other ops,
    // which could change those rows before the moves are made.
    const moves = ops[from]!.type === 'rename';
    let j = from;
    do {
      const s = this.stepOf(ops[j]!);
      if (s) steps.push(s);
      j++;
    } while (j < ops.length && (ops[j]!.type === 'rename') === moves && (moves || j - from < JOURNAL_AHEAD));
    this.journal.intend(steps);
    this.journalled = j;
    this.journalledBatch = this.journal.batch;
  }

  /**
   * Whether ops[index]'s copy may be put in place by the copying thread as soon as it is made: its
   * step is in the journal on the disk, and no commit, which would end that journal, is waiting.
   */
  private placeable(index: number): boolean {
    return index < this.journalled && this.journal.batch === this.journalledBatch && this.journalledBatch !== null && !this.batch.due();
  }

  private stepOf(op: Operation): JournalStep | null {
    switch (op.type) {
      case 'copy':
      case 'symlink':
      case 'link':
        return { op: 'write', path: op.record.path };
      case 'delete':
        return { op: 'write', path: op.entry.path };
      case 'rename':
        return { op: 'rename', from: op.from.path, to: op.to, file: identityOf(this.env.stored(op.from)) };
      default:
        return null;
    }
  }

  /**
   * Waits for parity still being made for a path this operation replaces, moves or deletes: made
   * for the bytes there now, it would otherwise be installed after them (for other content, or at
   * a name the file has left).
   */
  private async waitForParity(op: Operation): Promise<void> {
    const step = this.stepOf(op);
    if (step !== null) await this.env.parity.waitFor(step.op === 'rename' ? step.from : step.path);
  }

  /**
   * Carries out `ops`. With `more`, another part of the same run follows (a backup applies its plan
   * a chunk at a time): what was done is committed, but the parity still being made is waited for
   * only by the last part.
   */
  async run(ops: Operation[], opts: { more?: boolean } = {}): Promise<ExecutionResult> {
    const env = this.env;
    this.journalled = 0;
    let failed = true;
    try {
      // An index loop: every way to the next operation (the `continue`s too) moves i with it.
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i]!;
        if (this.ctx.signal.aborted) env.stop({ reason: 'interrupted' });
        // A swap or rotation under way is finished first: it is only moves, which need no space.
        if (this.result.stopped && (env.parked.size === 0 || op.type !== 'rename')) {
          if (env.parked.size === 0) break;
          continue;
        }
        const before = this.result.skipped.length;
        env.deduped = false;
        env.vanished = false;
        // Parity settling may commit a batch, which empties the journal: journal after it.
        await this.waitForParity(op);
        try {
          this.journalFor(ops, i);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          env.stop({ reason: 'disk-full', writing: 'journal', path: null });
          continue;
        }
        // After the journal: the copies made ahead of steps journalled now can go straight to their names.
        env.ahead.fill(ops, i, (k) => this.placeable(k));
        try {
          await dispatch(env, op);
        } catch (err) {
          // One file that cannot be written is skipped (SPEC §5); the run and the disk go on.
          if (!this.failed(op, err)) throw err;
        }
        if (!this.result.stopped && !env.vanished && this.result.skipped.length === before) tally(this.result.counts, op, env.deduped);
        this.result.done++;
        this.ctx.progress?.(i + 1, ops.length, this.result.bytesCopied, ops[i + 1]);
        this.batch.step();
      }
      // Names of content this run linked, moved, removed or changed, in the shape the catalog says.
      await env.loosened.reshape(env, (paths) => this.journal.intend(paths.map((p) => ({ op: 'write', path: p }))));
      // Copies made ahead and never taken (the run stopped) are removed, and their folders.
      await env.ahead.discard();
      // What is copied is committed now, not only once the (slower) parity is done. A part of a
      // backup that more parts follow commits as any batch does, when full or old: a commit per part
      // wrote the catalogs' touched pages sixty times over in a weekly run of a million files.
      if (opts.more) this.batch.commitIfDue();
      else this.batch.commit();
      if (!opts.more) await env.parity.finish();
      failed = false;
    } finally {
      await env.ahead.discard();
      // A failure with a file still parked: the catalog must not name the parking place; the journal
      // (kept) lets the next run put the file back.
      if (failed && env.parked.size > 0) this.batch.rollback();
      else if (failed || !opts.more) this.batch.commit();
    }
    return this.result;
  }

  /**
   * Records an operation that failed on the disk as skipped, with a warning; false for what must
   * stop the run (a full disk, an interrupt), which is then recorded as the reason to stop.
   */
  private failed(op: Operation, err: unknown): boolean {
    // A write that failed because the disk went away is no one file's problem: the run stops.
    this.ctx.checkDisk?.();
    if (op.type === 'defer' || !this.ctx.skipFailures) return false;
    const code = err instanceof CopyError ? err.code : (err as NodeJS.ErrnoException | null)?.code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      this.env.stop({ reason: 'disk-full', writing: 'file', path: opPath(op) });
      return true;
    }
    if (this.ctx.signal.aborted) {
      this.env.stop({ reason: 'interrupted' });
      return true;
    }
    this.result.skipped.push({ path: opPath(op) });
    this.ctx.tell({ type: 'write-skipped', path: opPath(op), error: err instanceof Error ? err.message : String(err) });
    return true;
  }
}
