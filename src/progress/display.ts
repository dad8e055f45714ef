/**
 * Shows a Progress on stderr. On a terminal the line is redrawn in place a few times a second;
 * anywhere else (a pipe, a log, cron) one plain line every 30 s, so logs stay readable. Drawing
 * runs on its own timer and never throws: a broken or odd terminal cannot fail a run.
 */
import { plainLine, terminalLine } from './line.js';
import type { Progress } from './progress.js';

export type DisplayMode = 'terminal' | 'plain' | 'off';

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Repeats fn every ms milliseconds until the returned function is called; must not keep the process alive. */
export type Every = (ms: number, fn: () => void) => () => void;

const realEvery: Every = (ms, fn) => {
  const t = setInterval(fn, ms);
  t.unref();
  return () => clearInterval(t);
};

/** -q shows no progress; a terminal gets the redrawn line; anything else the periodic plain line. */
export function displayMode(stream: ProgressStream, quiet: boolean): DisplayMode {
  if (quiet) return 'off';
  return stream.isTTY ? 'terminal' : 'plain';
}

/** Redraws per second on a terminal: enough to look alive, too few to cost anything. */
export const TERMINAL_INTERVAL_MS = 250;
export const PLAIN_INTERVAL_MS = 30_000;

export class ProgressDisplay {
  private stopTimer: (() => void) | null = null;
  private shown = false;
  private lastLine = '';

  constructor(
    private readonly progress: Progress,
    private readonly stream: ProgressStream,
    readonly mode: DisplayMode,
    private readonly every: Every = realEvery,
  ) {
    if (mode === 'off') return;
    progress.onPhase = () => {
      this.start();
      if (mode === 'terminal') this.draw();
    };
  }

  private start(): void {
    if (this.stopTimer || this.mode === 'off') return;
    this.stopTimer = this.every(this.mode === 'terminal' ? TERMINAL_INTERVAL_MS : PLAIN_INTERVAL_MS, () => this.draw());
  }

  private write(text: string): void {
    try {
      this.stream.write(text);
    } catch {
      // A closed or failing stderr loses the progress line, never the run.
    }
  }

  /** Draws the current state now (the timer calls this). */
  draw(): void {
    if (this.mode === 'off' || this.progress.phase === null) return;
    const snap = this.progress.snapshot();
    if (this.mode === 'plain') {
      this.write(plainLine(snap) + '\n');
      return;
    }
    const columns = this.stream.columns;
    const line = terminalLine(snap, typeof columns === 'number' && Number.isFinite(columns) ? columns : 0);
    if (this.shown && line === this.lastLine) return;
    // \r to the line's start, the text, then erase what an earlier, longer line left to the right.
    this.write(`\r${line}\x1b[K`);
    this.shown = true;
    this.lastLine = line;
  }

  /** Takes the line off the terminal so a message can be printed; the next tick puts it back. */
  clear(): void {
    if (!this.shown) return;
    this.write('\r\x1b[K');
    this.shown = false;
    this.lastLine = '';
  }

  stop(): void {
    this.stopTimer?.();
    this.stopTimer = null;
    this.clear();
    this.progress.onPhase = null;
  }
}
