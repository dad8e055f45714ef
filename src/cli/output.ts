import fs from 'node:fs';
import { showMountedPaths } from '../crypt/gocryptfs.js';

export type Verbosity = -1 | 0 | 1;

/** A pseudo-terminal that was never sized (script, some CI runners) reports 0 columns. */
function terminalWidth(): number {
  return process.stderr.columns || 80;
}

/**
 * Where a command speaks. With --json only the result goes to stdout; every human line goes to
 * stderr so scripts can parse stdout. --log-file gets every line, debug included, with a timestamp.
 */
export class Output {
  private logFd: number | undefined;
  private progressShown = false;

  constructor(
    readonly verbosity: Verbosity,
    readonly json: boolean,
    logFile?: string,
  ) {
    if (logFile) this.logFd = fs.openSync(logFile, 'a');
  }

  private toLog(level: string, msg: string): void {
    if (this.logFd !== undefined) fs.writeSync(this.logFd, `${new Date().toISOString()} ${level} ${showMountedPaths(msg)}\n`);
  }

  private human(msg: string): void {
    this.clearProgress();
    if (this.json) process.stderr.write(showMountedPaths(msg) + '\n');
    else process.stdout.write(showMountedPaths(msg) + '\n');
  }

  /** Normal output: summaries, plans. Silenced by -q. */
  info(msg: string): void {
    this.toLog('INFO', msg);
    if (this.verbosity >= 0) this.human(msg);
  }

  /** Per-file detail, shown with -v. */
  detail(msg: string): void {
    this.toLog('DETAIL', msg);
    if (this.verbosity >= 1) this.human(msg);
  }

  debug(msg: string): void {
    this.toLog('DEBUG', msg);
  }

  warn(msg: string): void {
    this.toLog('WARN', msg);
    this.clearProgress();
    process.stderr.write(`warning: ${showMountedPaths(msg)}\n`);
  }

  error(msg: string): void {
    this.toLog('ERROR', msg);
    this.clearProgress();
    process.stderr.write(`blaine: ${showMountedPaths(msg)}\n`);
  }

  /** A machine-readable result on stdout (only with --json). */
  result(value: unknown): void {
    process.stdout.write(JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? showMountedPaths(v) : v), 2) + '\n');
  }

  /** A one-line progress display on a terminal; nothing when stderr is not a TTY or with -q. */
  progress(line: string): void {
    if (this.verbosity < 0 || !process.stderr.isTTY) return;
    const width = terminalWidth();
    process.stderr.write(`\r${line.slice(0, width - 1).padEnd(width - 1)}`);
    this.progressShown = true;
  }

  clearProgress(): void {
    if (!this.progressShown) return;
    process.stderr.write(`\r${' '.repeat(terminalWidth() - 1)}\r`);
    this.progressShown = false;
  }

  close(): void {
    this.clearProgress();
    if (this.logFd !== undefined) fs.closeSync(this.logFd);
    this.logFd = undefined;
  }
}
