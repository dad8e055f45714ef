/**
 * One writer, or any number of readers, per host catalog and per disk (SPEC §4).
 *
 * The lock is flock(2), through the native addon: the kernel releases it when its holder exits or
 * dies, so there is no stale lock to detect and no pid to trust. Writers take it exclusive,
 * readers shared. A disk's lock is on its .blaine directory, so that readers write nothing (a
 * restore never changes the disk) and nothing stays behind in the clear on an encrypted disk; the
 * host catalog's is on a lock file beside it, which stays (removing a file others may have open
 * would let two runs lock two different files). Once it holds the lock, a writer writes who it is
 * (pid, command, start time, host) into the lock file, so that whoever finds the lock busy can
 * name it; a disk's writer removes that label again when done.
 */
import os from 'node:os';
import path from 'node:path';
import { errnoName, fsAddon } from '../fsx/addon.js';
import { errCode, reason } from '../fsx/errno.js';
import { diskLockPath } from './layout.js';
import { BlaineError } from '../error.js';
import { fsConstants, realFs as fs } from '../fsx/fsx.js';

export interface LockHolder {
  pid: number;
  host: string;
  /** What the holder runs (e.g. "blaine backup"). */
  command: string;
  /** ISO time the run took the lock. */
  started: string;
}

export class LockError extends BlaineError {
  override name = 'LockError';
  constructor(
    message: string,
    readonly holder?: LockHolder,
  ) {
    super(message);
  }
}

export interface LockOptions {
  /** A reader's lock (flock LOCK_SH); default: a writer's, exclusive. */
  shared?: boolean;
  /** Lock this directory; the lock file is then only the writer's label, removed on release. */
  directory?: string;
  /** The command named to whoever finds the lock busy; default: this process's Blaine command. */
  command?: string;
}

function parseHolder(raw: string): LockHolder | undefined {
  try {
    const v = JSON.parse(raw) as Partial<LockHolder>;
    if (typeof v.pid === 'number' && typeof v.started === 'string') {
      return { pid: v.pid, host: v.host ?? '', command: v.command ?? 'blaine', started: v.started };
    }
  } catch {
    // a holder still writing it, or several readers at once: no name to give
  }
  return undefined;
}

function busy(what: string, labelPath: string): LockError {
  let raw = '';
  try {
    raw = fs.readFileSync(labelPath, 'utf8');
  } catch {
    // unreadable: said without a name
  }
  const holder = parseHolder(raw);
  const here = !holder?.host || holder.host === os.hostname();
  // No label, or the label of a writer that is gone: readers hold it (or a writer not yet labelled).
  if (!holder || (here && !pidExists(holder.pid))) return new LockError(`${what} is in use by another Blaine run; wait for it to finish.`);
  const where = here ? '' : ` on host ${holder.host}`;
  return new LockError(
    `${what} is in use by another Blaine run (${holder.command}${where}, pid ${holder.pid}, started ${holder.started}); wait for it to finish.`,
    holder,
  );
}

/**
 * How long a busy lock is waited for, for the whole process (`--wait`): 0 fails at once, as
 * always; Infinity waits as long as it takes. onWait hears once that the wait began.
 */
let waitLimitMs = 0;
let onWaitStart: ((message: string) => void) | undefined;

export function setLockWait(ms: number, onWait?: (message: string) => void): void {
  waitLimitMs = ms;
  onWaitStart = onWait;
}

const POLL_MS = 500;

/**
 * Tries the lock until it is free or the limit passes; the error for a busy lock when it stays
 * busy. The wait blocks this thread (the lock is taken synchronously), so while it lasts a
 * signal's own handlers could not run: they are set aside and SIGINT/SIGTERM end the process at
 * once, which is safe since nothing has been started yet (the kernel drops any lock held).
 */
function waitForLock(fd: number, shared: boolean, what: string, lockPath: string, addon: NonNullable<ReturnType<typeof fsAddon>>): number {
  const first = busy(what, lockPath);
  onWaitStart?.(first.message.replace(/; wait for it to finish\.$/, `: waiting${Number.isFinite(waitLimitMs) ? ` up to ${Math.round(waitLimitMs / 1000)} s` : ''} for it to finish`));
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const handlers = signals.map((sig) => [sig, process.listeners(sig)] as const);
  for (const sig of signals) process.removeAllListeners(sig);
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + waitLimitMs;
  try {
    for (;;) {
      Atomics.wait(sleeper, 0, 0, Math.max(1, Math.min(POLL_MS, deadline - Date.now())));
      const err = addon.flock(fd, shared, false);
      const code = err === 0 ? null : errnoName(err);
      if (code !== 'EWOULDBLOCK' && code !== 'EAGAIN') return err;
      if (Date.now() >= deadline) return err;
    }
  } finally {
    for (const [sig, fns] of handlers) for (const fn of fns) process.on(sig, fn as (s: NodeJS.Signals) => void);
  }
}

/** "blaine backup" when run as bin/blaine, else the script's name (a test, a tool). */
function defaultCommand(): string {
  const script = path.basename(process.argv[1] ?? 'node');
  if (script !== 'blaine') return script;
  const sub = process.argv.slice(2).find((a) => !a.startsWith('-'));
  return sub ? `blaine ${sub}` : 'blaine';
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errCode(err) === 'EPERM'; // someone else's process
  }
}

/**
 * A writer's lock file, made when missing; a reader only opens it (a read-only descriptor can be
 * locked too): null when there is none, since then no writer can be at work.
 */
function openLockFile(lockPath: string, shared: boolean): number | null {
  try {
    return shared ? fs.openSync(lockPath, fsConstants.O_RDONLY) : fs.openSync(lockPath, fsConstants.O_RDWR | fsConstants.O_CREAT, 0o600);
  } catch (err) {
    if (shared && errCode(err) === 'ENOENT' && fs.existsSync(path.dirname(lockPath))) return null;
    throw new Error(`Cannot open the lock file ${lockPath}: ${reason(err)}.`);
  }
}

/**
 * Takes the lock at lockPath for this process, naming `what` (e.g. "the disk /mnt/a") in the
 * error when another run holds it. Its directory must exist: a missing disk must not get a fresh
 * .blaine directory on the mount point. Returns release(), which may be called more than once.
 */
export function acquireLock(lockPath: string, whatGiven: string, opts: LockOptions = {}): () => void {
  // Messages start with `what`; callers may write it in lower case ("the disk /mnt/a").
  const what = whatGiven.charAt(0).toUpperCase() + whatGiven.slice(1);
  const shared = !!opts.shared;
  const addon = fsAddon();
  let fd: number | null;
  if (opts.directory === undefined) fd = openLockFile(lockPath, shared);
  else {
    try {
      fd = fs.openSync(opts.directory, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
    } catch (err) {
      throw new Error(`Cannot open ${opts.directory} to lock it: ${reason(err)}.`);
    }
  }
  if (fd === null) return () => {};
  const labelled = opts.directory === undefined ? fd : null;
  let held = false;
  try {
    if (addon) {
      let err = addon.flock(fd, shared, false);
      const busyNow = err !== 0 && ['EWOULDBLOCK', 'EAGAIN'].includes(errnoName(err));
      if (busyNow && waitLimitMs > 0) err = waitForLock(fd, shared, what, lockPath, addon);
      if (err !== 0) {
        const code = errnoName(err);
        if (code === 'EWOULDBLOCK' || code === 'EAGAIN') throw busy(what, lockPath);
        throw new Error(`Cannot lock ${opts.directory ?? lockPath}: ${code}.`);
      }
    }
    // Without the addon (no C compiler at install) there is no kernel lock: the label only says who runs.
    held = true;
    if (!shared) {
      const me: LockHolder = { pid: process.pid, host: os.hostname(), command: opts.command ?? defaultCommand(), started: new Date().toISOString() };
      try {
        if (labelled === null) fs.writeFileSync(lockPath, `${JSON.stringify(me)}\n`);
        else {
          fs.ftruncateSync(labelled, 0);
          fs.writeSync(labelled, `${JSON.stringify(me)}\n`, 0);
        }
      } catch {
        // the lock holds without its label; a busy message then names no holder
      }
    }
  } finally {
    if (!held) fs.closeSync(fd);
  }
  let released = false;
  const lockedFd = fd;
  return () => {
    if (released) return;
    released = true;
    try {
      if (!shared && labelled === null) fs.rmSync(lockPath, { force: true });
      else if (!shared) fs.ftruncateSync(lockedFd, 0);
    } catch {
      // the disk may have gone away under us
    }
    try {
      fs.closeSync(lockedFd);
    } catch {
      // closed already
    }
  };
}

/** The lock of a Blaine disk (its .blaine directory must exist): exclusive for writers, shared for readers. */
export function acquireDiskLock(dest: string, opts: Omit<LockOptions, 'directory'> = {}): () => void {
  const label = diskLockPath(dest);
  return acquireLock(label, `the disk ${dest}`, { ...opts, directory: path.dirname(label) });
}
