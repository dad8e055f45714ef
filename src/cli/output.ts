import fs from 'node:fs';
import { showMountedPaths } from '../crypt/gocryptfs.js';
import { displayMode, ProgressDisplay } from '../progress/display.js';
import { Progress } from '../progress/progress.js';
import { hasEscapedBytes, nameToBytes } from '../fsx/name-bytes.js';

export type Verbosity = -1 | 0 | 1;

/**
 * Writes text to a terminal or pipe with names as their exact bytes (name-bytes.ts), as ls and
 * find do: a byte that is not UTF-8 goes out as itself, not as U+FFFD.
 */
export function writeText(stream: NodeJS.WritableStream, text: string): void {
  stream.write(hasEscapedBytes(text) ? nameToBytes(text) : text);
}

/**
 * The fields `--json` adds beside a name that holds bytes that are not UTF-8 (SPEC §4, README
 * "Names that are not UTF-8"): the exact bytes in base64 under `<field>Base64`. The name itself
 * is printed with each such byte as the JSON escape \udcXX; names that are UTF-8 get nothing more.
 */
export function nameBytesFields(fields: Record<string, string | null>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== null && hasEscapedBytes(v)) out[`${k}Base64`] = nameToBytes(v).toString('base64');
  return out;
}

/** How many of a run's last lines the notify hook hears. */
export const TOLD_LINES = 60;

/**
 * Where a command speaks. With --json only the result goes to stdout; every human line goes to
 * stderr so scripts can parse stdout. --log-file gets every line, debug included, with a timestamp.
 */
export class Output {
  private logFd: number | undefined;
  /** What the run is doing; the pipeline updates it, the display samples it (stderr, never stdout). */
  readonly progress = new Progress();
  private readonly display: ProgressDisplay;

  constructor(
    readonly verbosity: Verbosity,
    readonly json: boolean,
    logFile?: string,
  ) {
    if (logFile) this.logFd = fs.openSync(logFile, 'a');
    this.display = new ProgressDisplay(this.progress, process.stderr, displayMode(process.stderr, verbosity < 0));
    if (this.logFd !== undefined) {
      const draw = this.progress.onPhase;
      this.progress.onPhase = () => {
        const p = this.progress;
        const totals = [p.filesTotal !== null ? `${p.filesTotal} files` : '', p.bytesTotal !== null ? `${p.bytesTotal} bytes` : ''].filter(Boolean);
        this.toLog('PHASE', `${p.phase}${totals.length > 0 ? ` (${totals.join(', ')})` : ''}`);
        draw?.();
      };
    }
  }

  private toLog(level: string, msg: string): void {
    if (this.logFd === undefined) return;
    // Every line of a message (a stack trace too) carries the stamp, so the log can be filtered by line.
    const head = `${new Date().toISOString()} ${level} `;
    fs.writeSync(this.logFd, head + showMountedPaths(msg).replace(/\n(?!$)/g, `\n${head}`) + '\n');
  }

  private human(msg: string): void {
    this.clearProgress();
    writeText(this.json ? process.stderr : process.stdout, showMountedPaths(msg) + '\n');
  }

  /** Normal output: summaries, plans. Silenced by -q. */
  info(msg: string): void {
    this.toLog('INFO', msg);
    this.tell(msg);
    if (this.verbosity >= 0) this.human(msg);
  }

  /**
   * The final summary of a run (on stderr with --json, where stdout is the result). Silenced by
   * -q like all normal output: -q shows warnings and errors only, the exit status says the rest
   * (the log file and the notify hook still get the summary).
   */
  summary(msg: string): void {
    this.toLog('INFO', msg);
    this.tell(msg);
    if (this.verbosity >= 0) this.human(msg);
  }

  /**
   * The last lines of this run (normal output, summary, warnings, errors), in order: what the
   * notify hook is told. Only the last TOLD_LINES are kept: a dry run may list a million operations.
   */
  readonly told: string[] = [];

  private tell(line: string): void {
    this.told.push(line);
    if (this.told.length > 2 * TOLD_LINES) this.told.splice(0, this.told.length - TOLD_LINES);
  }
  /** The run's result as an object (what --json prints), when the command has one. */
  outcome: unknown = null;
  /** The status the notify hook is told when it is not this process's own (`blaine notify`). */
  reportedStatus: number | undefined;

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
    this.tell(`warning: ${msg}`);
    this.clearProgress();
    writeText(process.stderr, `warning: ${showMountedPaths(msg)}\n`);
  }

  error(msg: string): void {
    this.toLog('ERROR', msg);
    this.tell(`error: ${msg}`);
    this.clearProgress();
    writeText(process.stderr, `blaine: ${showMountedPaths(msg)}\n`);
  }

  /** A machine-readable result on stdout (only with --json). */
  result(value: unknown): void {
    this.outcome = value;
    process.stdout.write(JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? showMountedPaths(v) : v), 2) + '\n');
  }

  /** Takes the progress line off the terminal before other output; it comes back at its next redraw. */
  clearProgress(): void {
    this.display.clear();
  }

  close(): void {
    this.display.stop();
    if (this.logFd !== undefined) fs.closeSync(this.logFd);
    this.logFd = undefined;
  }
}
