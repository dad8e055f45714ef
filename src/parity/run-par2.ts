/**
 * Running a par2cmdline-compatible program: whether it is there, its thread count, the child in its
 * own process group (killed with Blaine), and its failure as one sentence.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { aborted, fsError, ParityError } from './errors.js';
import { realFs as fs } from '../fsx/fsx.js';

export interface Par2Config {
  /** argv prefix of a par2cmdline-compatible program, e.g. ['par2'] or ['nice', '-n19', 'par2']. */
  command: string[];
  /** Default `-t` for runs that do not choose their own; unset: one thread per core. */
  threads?: number;
}

export const DEFAULT_PAR2: Par2Config = { command: ['par2'] };

export interface RunOptions {
  cfg?: Par2Config;
  /** par2 `-t`. */
  threads?: number;
  signal?: AbortSignal;
}

const availability = new Map<string, boolean>();

/** Whether the configured par2 runs (`par2 -V` exits 0); asked once per command. */
export function par2Available(cfg: Par2Config = DEFAULT_PAR2): boolean {
  const key = JSON.stringify(cfg.command);
  let ok = availability.get(key);
  if (ok === undefined) {
    const [cmd, ...pre] = cfg.command;
    const r = cmd ? spawnSync(cmd, [...pre, '-V'], { stdio: 'ignore', timeout: 30_000 }) : null;
    ok = r !== null && r.error === undefined && r.status === 0;
    availability.set(key, ok);
  }
  return ok;
}

/**
 * Always explicit: par2cmdline 0.8.1 left to choose its own thread count often spends ~0.25 s
 * more on a small file (0.01 s with any explicit -t), measured here.
 */
export function threadsFor(opts: RunOptions): number {
  const n = opts.threads ?? opts.cfg?.threads ?? os.availableParallelism();
  return Math.max(1, Math.floor(n));
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** par2 process groups still running, killed if Node exits first so none is left writing. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    // Negative pid: the whole group, so a wrapper's par2 dies too.
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/**
 * A par2 run must not outlive Blaine: killed (SIGKILL, power button) while par2 still writes into
 * .blaine/tmp, the next run would clean up under a live writer. The process-exit hook above cannot
 * run after SIGKILL, so the kernel is asked instead: util-linux's setpriv sets PR_SET_PDEATHSIG, which
 * survives exec but not fork, so it guards a small shell that runs the command in the background
 * and, on that signal, kills its whole process group (a configured wrapper's own children too).
 * The shell first checks that Blaine is still its parent: one that died before the signal was set
 * would never send it. Where setpriv is missing (not Linux) the command runs as it is.
 */
const DIE_WITH_PARENT = 'trap "kill -KILL 0" TERM; [ "$PPID" = "$1" ] || exit 125; shift; "$@" & wait $!';
/** The wrapper's exit status when the command itself could not be found (sh: "not found"). */
const NOT_FOUND = 127;
let pdeathsig: boolean | undefined;

function diesWithParent(argv: string[]): string[] {
  pdeathsig ??= spawnSync('setpriv', ['--pdeathsig', 'TERM', '--', 'true'], { stdio: 'ignore', timeout: 30_000 }).status === 0;
  if (!pdeathsig) return argv;
  return ['setpriv', '--pdeathsig', 'TERM', '--', 'sh', '-c', DIE_WITH_PARENT, 'blaine-par2', String(process.pid), ...argv];
}

export function runPar2(cfg: Par2Config, args: string[], cwd: string, signal: AbortSignal | undefined, rel: string): Promise<RunResult> {
  const [cmd, ...pre] = cfg.command;
  if (!cmd) return Promise.reject(new ParityError('the par2 command is empty', 'ENOPAR2'));
  const [exe, ...argv] = diesWithParent([cmd, ...pre, ...args]);
  const wrapped = exe !== cmd;
  if (signal?.aborted) return Promise.reject(aborted(rel));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of live) killGroup(c);
    });
  }
  // stderr goes to a file, read only when par2 fails: cheaper per run than a pipe and its stream.
  const errPath = path.join(cwd, 'stderr.txt');
  let errFd: number;
  try {
    errFd = fs.openSync(errPath, 'w');
  } catch (e) {
    return Promise.reject(fsError(e, `cannot run par2 for ${rel}`));
  }
  return new Promise<RunResult>((resolve, reject) => {
    let child: ChildProcess;
    try {
      // Its own process group (detached): Ctrl-C reaches Blaine, which decides, and abort kills all of it.
      child = spawn(exe!, argv, { cwd, stdio: ['ignore', 'ignore', errFd], detached: true });
    } finally {
      fs.closeSync(errFd);
    }
    live.add(child);
    const onAbort = (): void => killGroup(child);
    signal?.addEventListener('abort', onAbort, { once: true });
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      live.delete(child);
      signal?.removeEventListener('abort', onAbort);
      return true;
    };
    child.on('error', (e) => {
      if (!settle()) return;
      killGroup(child);
      reject(new ParityError(`cannot run ${cmd} (${e.message}); install par2cmdline (Debian package par2)`, 'ENOPAR2', { cause: e }));
    });
    child.on('close', (code, sig) => {
      if (!settle()) return;
      if (signal?.aborted) reject(aborted(rel));
      else if (wrapped && code === NOT_FOUND) reject(new ParityError(`cannot run ${cmd} (not found); install par2cmdline (Debian package par2)`, 'ENOPAR2'));
      else resolve({ code, signal: sig, stderr: code === 0 ? '' : readTail(errPath, 4096) });
    });
  }).finally(() => fs.rmSync(errPath, { force: true }));
}

function readTail(file: string, max: number): string {
  try {
    const buf = fs.readFileSync(file);
    return buf.subarray(Math.max(0, buf.length - max)).toString('utf8');
  } catch {
    return '';
  }
}

const FULL = /No space left on device|Disk quota exceeded/i;

/** A one-sentence error for a failed par2 run; ENOSPC when par2 said so or the disk has no room left. */
export function failure(run: RunResult, what: string, scratch: string): ParityError {
  const lastLine =
    run.stderr
      .split(/[\r\n]+/)
      .map((l) => l.trim())
      .filter(Boolean)
      .pop() ?? '';
  const how = run.signal ? `killed by ${run.signal}` : `exit status ${run.code}`;
  if (FULL.test(run.stderr) || diskFull(scratch)) {
    return new ParityError(`${what}: the disk is full`, 'ENOSPC');
  }
  return new ParityError(`${what} (${how}${lastLine ? `: ${lastLine.replace(/\.$/, '')}` : ''})`, 'EPAR2');
}

function diskFull(dir: string): boolean {
  try {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize < 64 * 1024;
  } catch {
    return false;
  }
}
