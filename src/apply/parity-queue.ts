import type { CatalogEntry } from '../catalog/entry.js';
import type { Par2Feeder } from '../parity/creator.js';
import { linkParity } from '../parity/paths.js';
import { diskRelative } from '../fsx/paths.js';
import type { CatalogBatch } from './batch.js';
import type { ExecutionResult, ExecutorContext } from './env.js';

/**
 * Parity made while the run goes on: one par2 job per stored file, each recorded in the catalogs
 * when it finishes (SPEC §6), and waited for before the bytes it was made from change.
 */
export class ParityQueue {
  private readonly pending = new Map<string, Promise<string | null>>();
  /**
   * The first failure to record a finished set (SQLITE_FULL on a full host disk): it happens in a
   * promise callback, where a throw would be an unhandled rejection that kills Node, so it is kept
   * and thrown by the next waitFor or finish, on the run's own path to its one-sentence error.
   */
  private failure: { error: unknown } | null = null;

  constructor(
    private readonly ctx: ExecutorContext,
    private readonly batch: CatalogBatch,
    private readonly result: ExecutionResult,
    private readonly stop: (why: NonNullable<ExecutionResult['stopped']>) => void,
  ) {}

  /** Records a parity set when par2 finishes; the row may have moved on in the meantime. */
  private record(p: string, parityName: string | null): void {
    try {
      this.batch.madeParity(p, parityName);
      this.batch.step();
    } catch (err) {
      this.failure ??= { error: err };
    }
  }

  private throwFailure(): void {
    if (this.failure) throw this.failure.error;
  }

  /**
   * A creator for the copy of p to feed (CopyOptions.tap), so that its parity needs no second read;
   * null when its parity is made from the disk. Give it to start, or close it when the copy fails.
   */
  feederFor(p: string, size: number): Par2Feeder | null {
    return this.ctx.parity?.openFeeder(diskRelative(p), size) ?? null;
  }

  /**
   * Queues parity for the stored file p (made from what `feeder` was fed by its copy, when given);
   * `made` is called once the job has ended, however it ended.
   */
  start(p: string, size: number, made?: () => void, feeder?: Par2Feeder | null): void {
    const pool = this.ctx.parity;
    if (!pool || size === 0) {
      feeder?.close();
      made?.();
      return;
    }
    const submitted = pool.submit(this.ctx.root, diskRelative(p), size, feeder ?? undefined);
    if (made) void submitted.then(made, made);
    const job = submitted.then(
      (res) => {
        this.result.parityBytes += res.bytes;
        this.result.parityDiskBytes += res.diskBytes;
        this.record(p, res.parityName);
        return res.parityName;
      },
      (err: unknown) => {
        const e = err as Error & { code?: string };
        if (e.code === 'ENOSPC') {
          this.stop({ reason: 'disk-full', writing: 'parity', path: p });
        } else if (!this.ctx.signal.aborted && !this.diskGone()) {
          // (A disk that went away is said once, by the commit that stops the run: not per file.)
          this.ctx.tell({ type: 'no-parity', path: p, error: e.message });
        }
        return null;
      },
    );
    this.track(p, job);
  }

  private diskGone(): boolean {
    try {
      this.ctx.checkDisk?.();
      return false;
    } catch {
      return true;
    }
  }

  private track(p: string, job: Promise<string | null>): void {
    this.pending.set(p, job);
    void job.finally(() => {
      if (this.pending.get(p) === job) this.pending.delete(p);
    });
  }

  /**
   * Gives the new name `to` the parity of the stored file it links to. When the twin's parity is still
   * being made, `to` gets it when it is done (and so does any later link made from `to` in this run):
   * then the entry's parity name is cleared until that moment.
   */
  linkName(from: CatalogEntry, to: string, entry: CatalogEntry): void {
    const pending = this.pending.get(from.path);
    if (pending) {
      entry.parityName = null;
      this.pending.set(
        to,
        pending.then((name) => {
          if (name === null) return null;
          try {
            linkParity(this.ctx.root, diskRelative(from.path), diskRelative(to), this.ctx.fs);
          } catch (err) {
            this.failure ??= { error: err };
            return null;
          }
          this.record(to, name);
          return name;
        }),
      );
    } else if (from.parityName) {
      linkParity(this.ctx.root, diskRelative(from.path), diskRelative(to), this.ctx.fs);
    }
  }

  /** Waits for parity still being made for the bytes at p. */
  async waitFor(p: string): Promise<void> {
    const job = this.pending.get(p);
    if (job) await job;
    this.throwFailure();
  }

  /**
   * Waits for all parity still being made: it is part of the run. The space check kept room for the
   * parity of every copied file, so a full disk still gets it; an interrupt aborts the pool.
   */
  async finish(): Promise<void> {
    const pool = this.ctx.parity;
    if (!pool) return;
    const onAbort = () => {
      this.stop({ reason: 'interrupted' });
      void pool.abort();
    };
    if (this.ctx.signal.aborted || this.result.stopped?.reason === 'interrupted') onAbort();
    this.ctx.signal.addEventListener('abort', onAbort);
    try {
      await pool.drain();
      await Promise.allSettled([...this.pending.values()]);
    } finally {
      this.ctx.signal.removeEventListener('abort', onAbort);
    }
    this.throwFailure();
  }
}
