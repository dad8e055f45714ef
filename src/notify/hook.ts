/**
 * The notify hook (`notify = "command …"` in the config): after a run, a shell command hears how
 * it went, so that a run nobody watched (a unit started by plugging a disk in) still reaches a
 * person. The run's report goes to the command's stdin as JSON; the exit status and a one-line
 * subject are in its environment, for commands that take no input (ntfy, mail -s).
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';

export interface RunReport {
  /** "backup", "verify", … */
  command: string;
  /** The exit status (SPEC §4). */
  status: number;
  /** The disk the run worked on, when it had one. */
  dest: string | null;
  /** ISO times. */
  started: string;
  finished: string;
  /** The summary lines, warnings and errors, as the terminal got them. */
  lines: string[];
  /** The run's result object (what --json prints), when the command has one. */
  summary: unknown;
}

const MEANING: Record<number, string> = {
  0: 'done',
  1: 'FAILED',
  2: 'usage or configuration error',
  3: 'disk full: mount a new disk',
  4: 'DAMAGE that could not be repaired',
  130: 'interrupted',
};

/** "blaine backup on /media/blaine/blaine-C: disk full: mount a new disk (exit 3)" */
export function subjectOf(r: Pick<RunReport, 'command' | 'status' | 'dest'>): string {
  const what = MEANING[r.status] ?? (r.status > 128 ? `killed by signal ${r.status - 128}` : 'FAILED');
  return `blaine ${r.command}${r.dest ? ` on ${r.dest}` : ''}@${os.hostname()}: ${what} (exit ${r.status})`;
}

/** The hook's time limit: a hook that hangs must not keep a unit (and its disk) busy. */
const HOOK_TIMEOUT_MS = 120_000;

/**
 * Runs the hook through /bin/sh; a hook that fails is one warning (returned), never a change of
 * the run's exit status.
 */
export function runNotifyHook(command: string, report: RunReport): string | null {
  const r = spawnSync('/bin/sh', ['-c', command], {
    input: `${JSON.stringify({ ...report, host: os.hostname(), subject: subjectOf(report) }, null, 2)}\n`,
    env: {
      ...process.env,
      BLAINE_STATUS: String(report.status),
      BLAINE_COMMAND: report.command,
      BLAINE_DEST: report.dest ?? '',
      BLAINE_SUBJECT: subjectOf(report),
      BLAINE_TEXT: report.lines.join('\n'),
    },
    stdio: ['pipe', 'ignore', 'pipe'],
    encoding: 'utf8',
    timeout: HOOK_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  });
  // A hook that does not read the report may exit before it is written (EPIPE): it ran all the same.
  const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
  if (r.error && !(code === 'EPIPE' && r.status !== null)) return `the notify hook could not run: ${r.error.message}`;
  if (r.signal) return `the notify hook was stopped (${r.signal}) after ${HOOK_TIMEOUT_MS / 1000} s`;
  if (r.status !== 0) return `the notify hook exited with status ${r.status}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').pop()}` : ''}`;
  return null;
}
