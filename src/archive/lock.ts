/**
 * One Blaine run per host catalog and per disk: a lock file holding who has it.
 *
 * The lock file is written completely under a private name and then hard-linked to the lock
 * path, which fails if the lock path exists: as exclusive as O_EXCL, and nobody ever reads a
 * half-written lock. (Where hard links are not supported it falls back to O_EXCL.)
 *
 * A lock is stale, and taken over, when its holder cannot be running: same boot of this machine
 * and the pid is gone or now belongs to a process started at another time (pid reuse), or the
 * lock predates this machine's last boot. A lock from another host cannot be checked: the
 * message says which file to delete if that run is gone.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { errCode, reason } from '../fsx/errno.js';

export interface LockHolder {
  pid: number;
  host: string;
  /** ISO time the run took the lock. */
  started: string;
  /** /proc/sys/kernel/random/boot_id: tells this boot of this machine from any other. */
  bootId?: string;
  /** Start time of the process in clock ticks since boot (/proc/PID/stat), to detect pid reuse. */
  procStart?: string;
  /** Identifies this taking of the lock, so that release never removes someone else's. */
  token: string;
}

export class LockError extends Error {
  override name = 'LockError';
  constructor(
    message: string,
    readonly holder?: LockHolder,
  ) {
    super(message);
  }
}

/** A lock file that cannot be parsed this soon after it was made may still be being written (O_EXCL fallback). */
const YOUNG_MS = 5000;


function readBootId(): string | undefined {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/PID/stat; the command name (field 2) may hold spaces and parentheses. */
export function processStartTicks(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return errCode(err) === 'EPERM';
  }
}

type HolderState = 'alive' | 'dead' | 'foreign';

function holderState(holder: LockHolder): HolderState {
  const bootId = readBootId();
  const sameMachine = holder.bootId !== undefined && bootId !== undefined ? holder.bootId === bootId : holder.host === os.hostname();
  if (!sameMachine) {
    if (holder.host !== os.hostname()) return 'foreign';
    // Same name, another boot: if the lock is older than this boot it was left by a crash.
    const bootedAt = Date.now() - os.uptime() * 1000;
    return Date.parse(holder.started) < bootedAt ? 'dead' : 'foreign';
  }
  if (!Number.isInteger(holder.pid) || holder.pid <= 0 || !pidExists(holder.pid)) return 'dead';
  if (holder.procStart !== undefined) {
    const now = processStartTicks(holder.pid);
    if (now !== undefined && now !== holder.procStart) return 'dead';
  }
  return 'alive';
}

function parseHolder(raw: string): LockHolder | undefined {
  try {
    const v = JSON.parse(raw) as Partial<LockHolder>;
    if (typeof v.pid === 'number' && typeof v.host === 'string' && typeof v.started === 'string' && typeof v.token === 'string') {
      return v as LockHolder;
    }
  } catch {
    // Treated as unparseable below.
  }
  return undefined;
}

function readLock(lockPath: string): { raw: string; mtimeMs: number } | undefined {
  try {
    const fd = fs.openSync(lockPath, 'r');
    try {
      return { raw: fs.readFileSync(fd, 'utf8'), mtimeMs: fs.fstatSync(fd).mtimeMs };
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    if (errCode(err) === 'ENOENT') return undefined;
    throw new Error(`Cannot read the lock file ${lockPath}: ${reason(err)}.`);
  }
}

function privateName(lockPath: string, kind: string): string {
  return `${lockPath}.${kind}-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
}

/** True when lockPath was created holding content; false when it already existed. */
function tryCreate(lockPath: string, content: string): boolean {
  const tmp = privateName(lockPath, 'new');
  try {
    fs.writeFileSync(tmp, content, { flag: 'wx', mode: 0o644 });
  } catch (err) {
    throw new Error(`Cannot create the lock file ${lockPath}: ${reason(err)}.`);
  }
  try {
    fs.linkSync(tmp, lockPath);
    return true;
  } catch (err) {
    const code = errCode(err);
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') {
      throw new Error(`Cannot create the lock file ${lockPath}: ${reason(err)}.`);
    }
  } finally {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // Nothing useful to do; it holds no lock.
    }
  }
  try {
    fs.writeFileSync(lockPath, content, { flag: 'wx', mode: 0o644 });
    return true;
  } catch (err) {
    if (errCode(err) === 'EEXIST') return false;
    throw new Error(`Cannot create the lock file ${lockPath}: ${reason(err)}.`);
  }
}

function inUse(what: string, lockPath: string, holder: LockHolder, state: HolderState): LockError {
  const started = Number.isNaN(Date.parse(holder.started)) ? holder.started : new Date(holder.started).toISOString();
  if (state === 'foreign') {
    return new LockError(
      `${what} is in use by a Blaine run on host ${holder.host} (pid ${holder.pid}, started ${started}); if that run is over, delete ${lockPath}.`,
      holder,
    );
  }
  return new LockError(`${what} is in use by another Blaine run (pid ${holder.pid}, started ${started}); wait for it to finish.`, holder);
}

/**
 * Moves a stale lock out of the way. It is renamed aside first and compared with what was judged
 * stale: if another run took the lock over in between, the rename grabbed that run's live lock,
 * which is put back.
 */
function removeStale(lockPath: string, staleRaw: string, what: string): void {
  const aside = privateName(lockPath, 'stale');
  try {
    fs.renameSync(lockPath, aside);
  } catch (err) {
    if (errCode(err) === 'ENOENT') return;
    throw new Error(`Cannot remove the stale lock file ${lockPath}: ${reason(err)}.`);
  }
  let moved = '';
  try {
    moved = fs.readFileSync(aside, 'utf8');
  } catch {
    // An unreadable file is not a lock anyone holds.
  }
  if (moved !== staleRaw) {
    try {
      fs.linkSync(aside, lockPath);
    } catch {
      // Someone else holds the lock path now; either way it is not ours.
    }
  }
  try {
    fs.unlinkSync(aside);
  } catch {
    // Harmless leftover.
  }
  if (moved !== staleRaw) {
    const holder = parseHolder(moved);
    if (holder) throw inUse(what, lockPath, holder, 'alive');
    throw new LockError(`${what} is in use by another Blaine run; wait for it to finish.`);
  }
}

/**
 * Takes the lock at lockPath for this process, naming `what` (e.g. "The disk /mnt/a") in the
 * error when another live run holds it. Its directory must exist: a missing disk must not get a
 * fresh .blaine directory on the mount point. Returns release(), which removes the lock only if
 * it is still this taking's, and may be called more than once.
 */
export function acquireLock(lockPath: string, whatGiven: string): () => void {
  // Messages start with `what`; callers may write it in lower case ("the disk /mnt/a").
  const what = whatGiven.charAt(0).toUpperCase() + whatGiven.slice(1);
  const me: LockHolder = {
    pid: process.pid,
    host: os.hostname(),
    started: new Date().toISOString(),
    bootId: readBootId(),
    procStart: processStartTicks(process.pid),
    token: crypto.randomUUID(),
  };
  const content = `${JSON.stringify(me)}\n`;
  for (let attempt = 0; attempt < 10; attempt++) {
    if (tryCreate(lockPath, content)) return releaser(lockPath, me.token);
    const seen = readLock(lockPath);
    if (seen === undefined) continue;
    const holder = parseHolder(seen.raw);
    if (holder === undefined) {
      if (Date.now() - seen.mtimeMs < YOUNG_MS) throw new LockError(`${what} is in use by another Blaine run; wait for it to finish.`);
    } else {
      const state = holderState(holder);
      if (state !== 'dead') throw inUse(what, lockPath, holder, state);
    }
    removeStale(lockPath, seen.raw, what);
  }
  throw new LockError(`${what} is locked by runs that keep replacing ${lockPath}; try again later.`);
}

function releaser(lockPath: string, token: string): () => void {
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const seen = readLockQuietly(lockPath);
    if (seen !== undefined && parseHolder(seen)?.token === token) {
      try {
        fs.unlinkSync(lockPath);
      } catch {
        // Gone already (the disk may have been unmounted under us).
      }
    }
  };
}

function readLockQuietly(lockPath: string): string | undefined {
  try {
    return fs.readFileSync(lockPath, 'utf8');
  } catch {
    return undefined;
  }
}
