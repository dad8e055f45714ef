/**
 * Runs parity jobs concurrently, one single-threaded par2 per core.
 *
 * Measured on the 2-core machine (par2cmdline 0.8.1, 256 MiB files, 1 MiB slices, 26 recovery):
 * one par2 with -t2 takes ~40% more CPU time per byte than with -t1, so two single-threaded jobs
 * side by side outrun one two-threaded job by ~1.4×, and a two-threaded job next to another job
 * wastes CPU. par2's own threads therefore only pay when there is nothing else to run: a big file
 * gets `-t<jobs>` and the whole pool to itself when it is the last work known (drain() was called
 * and nothing is queued behind it) — the tail of a run, where a single-threaded job would leave
 * cores idle. Otherwise every job, big or small, takes one slot with `-t1`.
 */
import os from 'node:os';
import { defaultParityMemory } from './creator.js';
import type { Par2Feeder } from './creator.js';
import { createParity, DEFAULT_PAR2, openParityFeeder, ParityError, type MadeParity, type Par2Config } from './par2.js';
import type { ParityFs } from './paths.js';

export interface ParityPoolOptions {
  /** par2 processes at once (normally the number of cores). */
  jobs: number;
  cfg?: Par2Config;
  pct: number;
  maxSlices?: number;
  /** Files at least this big may run alone with par2's threads (default 256 MiB). */
  bigFileBytes?: number;
  /** par2 `-m` per process; default: half the machine's memory shared between the jobs. */
  memoryMiB?: number;
  /** Bytes Blaine's own creator may use, shared between the jobs (default defaultParityMemory()). */
  memoryBytes?: number;
  /** Puts finished sets in place (default node:fs; engines pass their file-system layer). */
  fs?: ParityFs;
  /** `par2`: par2cmdline even where Blaine's own creator is built. */
  creator?: 'native' | 'par2';
  /**
   * Sets may be made in a copy's read pass (openFeeder): up to `jobs` at a time, sharing one share
   * of the memory (the budget is split jobs + 1 ways).
   */
  feeders?: boolean;
}

/** Files from this size get their set made in the copy's read pass: below it a set costs less than its thread round trips. */
export const FEED_FROM = 4 * 1024 * 1024;

interface Job {
  diskRoot: string;
  relPath: string;
  size: number;
  feeder?: Par2Feeder;
  resolve(v: MadeParity): void;
  reject(e: unknown): void;
}

export class ParityPool {
  private readonly jobs: number;
  private readonly cfg: Par2Config;
  private readonly pct: number;
  private readonly maxSlices: number | undefined;
  private readonly bigFileBytes: number;
  private readonly memoryMiB: number;
  private readonly memoryBytes: number;
  private readonly fs: ParityFs | undefined;
  private readonly creator: 'native' | 'par2' | undefined;
  private readonly feeders: boolean;
  /** Feeders opened and not yet finished; each holds one of the slots. */
  private feeding = 0;
  /** Bytes their creators hold. */
  private feedMemory = 0;
  private queue: Job[] = [];
  private head = 0;
  /** Slots taken; a job running alone takes them all. */
  private used = 0;
  private readonly running = new Set<AbortController>();
  private idleWaiters: Array<() => void> = [];
  /** The caller said no more work is coming (drain), so the last big file may use every core. */
  private draining = false;
  private stopped = false;

  constructor(opts: ParityPoolOptions) {
    if (!Number.isInteger(opts.jobs) || opts.jobs < 1) throw new RangeError(`parity jobs must be a whole number of at least 1, not ${opts.jobs}`);
    this.jobs = opts.jobs;
    this.cfg = opts.cfg ?? DEFAULT_PAR2;
    this.pct = opts.pct;
    this.maxSlices = opts.maxSlices;
    this.bigFileBytes = opts.bigFileBytes ?? 256 * 1024 * 1024;
    this.memoryMiB = opts.memoryMiB ?? Math.max(16, Math.floor(os.totalmem() / 2 / 1048576 / opts.jobs));
    this.feeders = opts.feeders ?? false;
    this.memoryBytes = Math.floor((opts.memoryBytes ?? defaultParityMemory()) / (opts.jobs + (this.feeders ? 1 : 0)));
    this.fs = opts.fs;
    this.creator = opts.creator;
  }

  /** Jobs waiting for a slot. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  /** par2 processes running. */
  get active(): number {
    return this.running.size;
  }

  /**
   * A creator to give the copy of `<disk>/<relPath>` (`size` bytes) as its tap, then to submit
   * with the file; null when the set is to be made from the disk (a small file, `jobs` being fed
   * already or no memory left for another, par2cmdline, too big for the share). It takes a slot
   * (even one not free: the pool then starts no queued job until one ends) until submit's job
   * ends or close().
   *
   * More than one at a time: the copy of the next big file starts while the set of the one before
   * is still being finished (its last stage multiplied, its files written); made from the disk
   * instead, it would be read a second time. They share one share of the memory: a set fed alone
   * takes a fraction of it (its recovery slices and two stages), and a second one opens only when
   * both fit.
   */
  openFeeder(relPath: string, size: number): Par2Feeder | null {
    if (!this.feeders || this.stopped || this.feeding >= this.jobs || size < FEED_FROM) return null;
    let held = 0;
    // However it ends (its job, or the copy failing), the next file may have a feeder then.
    const feeder = openParityFeeder(relPath, size, { pct: this.pct, maxSlices: this.maxSlices, memoryBytes: this.memoryBytes, cfg: this.cfg }, () => {
      if (held === 0) return;
      this.feeding--;
      this.used--;
      this.feedMemory -= held;
      held = 0;
      this.pump();
    });
    if (!feeder) return null;
    if (this.feeding > 0 && this.feedMemory + feeder.memory > this.memoryBytes) {
      feeder.close();
      return null;
    }
    // A set being fed is a creator at work: it takes a slot, so that the jobs queued meanwhile
    // do not crowd the copy and the stream off the cores (measured: more CPU time and wall
    // time than letting them wait).
    held = Math.max(1, feeder.memory);
    this.feeding++;
    this.used++;
    this.feedMemory += held;
    return feeder;
  }

  /**
   * Queues parity for `<disk>/<relPath>` (`size` bytes); resolves when its set is in place. A set
   * fed by the copy (`feeder`) is finished at once, in the slot its feeder holds.
   */
  submit(diskRoot: string, relPath: string, size: number, feeder?: Par2Feeder): Promise<MadeParity> {
    if (this.stopped) {
      feeder?.close();
      return Promise.reject(new ParityError(`parity for ${relPath} was not made: the parity pool was stopped`, 'ABORTED'));
    }
    return new Promise((resolve, reject) => {
      const job = { diskRoot, relPath, size, feeder, resolve, reject };
      if (feeder) this.start(job, 0);
      else {
        this.queue.push(job);
        this.pump();
      }
    });
  }

  /** Resolves when every submitted job has finished (each job's own promise says how). */
  drain(): Promise<void> {
    if (this.idle()) return Promise.resolve();
    this.draining = true;
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops everything: queued jobs reject, running par2 processes are killed and their partial
   * output removed. The pool takes no more work. The promise (also drain()) resolves once the
   * killed jobs have cleaned up.
   */
  abort(): Promise<void> {
    this.stopped = true;
    const waiting = this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    for (const job of waiting) job.reject(new ParityError(`parity for ${job.relPath} was not made: the parity pool was stopped`, 'ABORTED'));
    for (const ac of this.running) ac.abort();
    const done = this.drain();
    this.settleIdle();
    return done;
  }

  private idle(): boolean {
    return this.queued === 0 && this.running.size === 0;
  }

  private settleIdle(): void {
    if (!this.idle()) return;
    this.draining = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private pump(): void {
    while (!this.stopped && this.queued > 0 && this.used < this.jobs) {
      const job = this.queue[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      const alone = this.jobs > 1 && job.size >= this.bigFileBytes && this.draining && this.queued === 0;
      this.start(job, alone ? this.jobs : 1);
    }
  }

  private start(job: Job, slots: number): void {
    this.used += slots;
    const ac = new AbortController();
    this.running.add(ac);
    createParity(job.diskRoot, job.relPath, {
      pct: this.pct,
      maxSlices: this.maxSlices,
      cfg: this.cfg,
      threads: Math.max(1, slots),
      memoryMiB: this.memoryMiB * Math.max(1, slots),
      memoryBytes: this.memoryBytes * Math.max(1, slots),
      signal: ac.signal,
      fs: this.fs,
      creator: this.creator,
      feeder: job.feeder,
    })
      .then(job.resolve, job.reject)
      .finally(() => {
        job.feeder?.close();
        this.running.delete(ac);
        this.used -= slots;
        this.pump();
        this.settleIdle();
      });
  }
}
