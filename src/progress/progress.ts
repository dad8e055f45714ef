/**
 * What a run is doing, as plain numbers. The pipeline only assigns fields here (no formatting, no
 * I/O, no clock reads per file), so progress costs nothing measurable however many files pass;
 * a display samples a snapshot on its own timer.
 */

export type Phase =
  | 'applying deferred actions'
  | 'scanning'
  | 'quick check'
  | 'copying'
  | 'parity'
  | 'writing catalogs'
  | 'verifying'
  | 'restoring'
  | 'cloning';

export interface ProgressSnapshot {
  phase: Phase | null;
  filesDone: number;
  filesTotal: number | null;
  bytesDone: number;
  bytesTotal: number | null;
  current: string | null;
  /** Parity jobs waiting (null when the run makes no parity). */
  parityQueue: number | null;
  /** ms since the epoch: when the phase began, and when the snapshot was taken. */
  phaseStarted: number;
  now: number;
}

export class Progress {
  phase: Phase | null = null;
  filesDone = 0;
  filesTotal: number | null = null;
  bytesDone = 0;
  bytesTotal: number | null = null;
  current: string | null = null;
  parityQueue: number | null = null;
  phaseStarted = Date.now();
  /** Told when the phase changes, so a display can redraw at once rather than at its next tick. */
  onPhase: (() => void) | null = null;
  /**
   * Asked for fresh figures when a snapshot is taken, for counts that live elsewhere (a parity
   * pool's queue): they are read a few times a second, not pushed on every change.
   */
  poll: (() => void) | null = null;

  constructor(private readonly clock: () => number = Date.now) {
    this.phaseStarted = clock();
  }

  begin(phase: Phase, totals: { files?: number | null; bytes?: number | null } = {}): void {
    this.phase = phase;
    this.filesDone = 0;
    this.bytesDone = 0;
    this.filesTotal = totals.files ?? null;
    this.bytesTotal = totals.bytes ?? null;
    this.current = null;
    this.phaseStarted = this.clock();
    this.onPhase?.();
  }

  /** Where the phase stands now (absolute counts: callers usually hold them already). */
  at(filesDone: number, bytesDone: number, current?: string | null): void {
    this.filesDone = filesDone;
    this.bytesDone = bytesDone;
    if (current !== undefined) this.current = current;
  }

  snapshot(): ProgressSnapshot {
    this.poll?.();
    return {
      phase: this.phase,
      filesDone: this.filesDone,
      filesTotal: this.filesTotal,
      bytesDone: this.bytesDone,
      bytesTotal: this.bytesTotal,
      current: this.current,
      parityQueue: this.parityQueue,
      phaseStarted: this.phaseStarted,
      now: this.clock(),
    };
  }
}
