/**
 * A file-system layer for tests that breaks on purpose: the Nth call of one kind (write, read,
 * rename, fsync, ...) fails with an errno (ENOSPC, EIO, EROFS, ...), or the process kills itself
 * with SIGKILL right after that call, so that no `finally` or signal handler runs and the files
 * stay exactly as a power cut would leave them. Calls are counted one by one, in the order the
 * engine makes them, so a given N always hits the same step.
 *
 * Test-only: bin/blaine uses it when the environment variable BLAINE_TEST_FAULTS is set
 * (see fileSystemFromEnv); no user-facing option selects it.
 */
import { execSync } from 'node:child_process';
import nodeFs from 'node:fs';
import type { Fsx, FsxMethod } from './fsx.js';
import { FSX_EXTRA_METHODS, FSX_METHODS, realFs, type NativeCopyJob, type NativeCopyResult, type NativeCopyFaults, type NativeFdCopy, type NativeFdCopyResult } from './fsx.js';
import { COPY_OUTCOME } from './addon.js';
import { fsPath } from './name-bytes.js';
import { constants as osConstants } from 'node:os';

export type FaultKind =
  | 'open'
  | 'close'
  | 'read'
  | 'write'
  | 'stat'
  | 'chmod'
  | 'chown'
  | 'utimes'
  | 'fsync'
  | 'truncate'
  | 'rename'
  | 'link'
  | 'unlink'
  | 'mkdir'
  | 'rmdir'
  | 'symlink'
  | 'readlink'
  | 'readdir'
  | 'copyfile'
  | 'statfs'
  | 'syncfs';

const KIND_OF: Record<FsxMethod | (typeof FSX_EXTRA_METHODS)[number], FaultKind> = {
  openSync: 'open',
  closeSync: 'close',
  readSync: 'read',
  read: 'read',
  readFileSync: 'read',
  writeSync: 'write',
  write: 'write',
  writeFileSync: 'write',
  fstatSync: 'stat',
  lstatSync: 'stat',
  statSync: 'stat',
  existsSync: 'stat',
  fchmodSync: 'chmod',
  chmodSync: 'chmod',
  fchownSync: 'chown',
  chownSync: 'chown',
  lchownSync: 'chown',
  futimesSync: 'utimes',
  lutimesSync: 'utimes',
  setMtime: 'utimes',
  setMtimeFd: 'utimes',
  fsyncSync: 'fsync',
  ftruncateSync: 'truncate',
  renameSync: 'rename',
  linkSync: 'link',
  unlinkSync: 'unlink',
  rmSync: 'unlink',
  mkdirSync: 'mkdir',
  mkdtempSync: 'mkdir',
  rmdirSync: 'rmdir',
  symlinkSync: 'symlink',
  readlinkSync: 'readlink',
  readdirSync: 'readdir',
  copyFileSync: 'copyfile',
  copyFile: 'copyfile',
  statfsSync: 'statfs',
  realpathSync: 'stat',
  accessSync: 'stat',
  syncfs: 'syncfs',
};

const MESSAGES: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EIO: 'i/o error',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EDQUOT: 'disk quota exceeded',
};

export interface Fault {
  kind: FaultKind;
  /** 1-based: the Nth call of this kind (among those on matching paths) fails or crashes. */
  nth: number;
  /** `N+`: every matching call from the Nth on (a disk that stays broken, a file that keeps changing). */
  every?: boolean;
  /**
   * An errno code to fail with, 'crash' to SIGKILL the process right after the call, or 'change'
   * to append a byte to the call's file right after it (a source written to while it is copied), or
   * 'hook' to run the shell command in BLAINE_TEST_HOOK right after it (a disk unmounted at that step).
   */
  action: string;
  /**
   * Only calls on a path containing this text count (a descriptor counts as the path it was opened
   * with); `^TEXT`: only paths starting with TEXT (a data path, not the disk's copy of it below the disk root).
   */
  pathIncludes?: string;
}

/**
 * "KIND:N[+]:ACTION[@[^]TEXT]" items separated by commas, e.g. "write:1:ENOSPC",
 * "read:2:EIO@/lib/b.jpg", "rename:3:crash", "stat:5+:EIO@^/lib/", "read:1:change@/lib/b.jpg".
 */
export function parseFaults(spec: string): Fault[] {
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item) => {
      const [body, pathIncludes] = item.split('@', 2) as [string, string | undefined];
      const [kind, nth, action] = body.split(':');
      if (!kind || !(Object.values(KIND_OF) as string[]).includes(kind) || !/^[1-9]\d*\+?$/.test(nth ?? '') || !action) {
        throw new Error(`BLAINE_TEST_FAULTS: cannot read "${item}" (KIND:N[+]:ERRNO|crash|change|hook[@TEXT])`);
      }
      const every = nth!.endsWith('+');
      return { kind: kind as FaultKind, nth: Number(nth!.replace('+', '')), ...(every ? { every } : {}), action, pathIncludes };
    });
}

function pathMatches(where: string, text: string): boolean {
  return text.startsWith('^') ? where.startsWith(text.slice(1)) : where.includes(text);
}

/** An error shaped as node:fs makes them: for a call on two paths, `path` is the first and `dest` the second. */
function injected(code: string, method: string, where: string | undefined): NodeJS.ErrnoException {
  const [from, to] = where?.split(' -> ') ?? [];
  const shown = from === undefined ? '' : to === undefined ? ` '${from}'` : ` '${from}' -> '${to}'`;
  const err: NodeJS.ErrnoException & { dest?: string } = new Error(`${code}: ${MESSAGES[code] ?? 'injected fault'}, ${method}${shown}`);
  err.code = code;
  err.syscall = method;
  if (from) err.path = from;
  if (to !== undefined) err.dest = to;
  return err;
}

/** What the fault layer saw: calls counted per kind, and the faults that fired. */
export interface FaultLog {
  calls: Partial<Record<FaultKind, number>>;
  fired: Fault[];
}

/** Wraps `base` so that the given faults fire; the returned log counts every call. */
export function faultyFs(base: Fsx, faults: Fault[]): Fsx & { log: FaultLog } {
  const log: FaultLog = { calls: {}, fired: [] };
  const counts = new Map<Fault, number>();
  const fdPaths = new Map<number, string>();
  const pathOf = (method: string, args: unknown[]): string | undefined => {
    const first = args[0];
    if (typeof first === 'number' && method !== 'openSync') return fdPaths.get(first);
    if (typeof first === 'string') return typeof args[1] === 'string' && /rename|link|copyFile/.test(method) ? `${first} -> ${args[1]}` : first;
    return undefined;
  };
  /** The fault that fires at this call, if any; counts the call for every fault it matches. */
  const due = (kind: FaultKind, where: string | undefined): Fault | undefined => {
    log.calls[kind] = (log.calls[kind] ?? 0) + 1;
    let hit: Fault | undefined;
    for (const f of faults) {
      if (f.kind !== kind) continue;
      if (f.pathIncludes !== undefined && !pathMatches(where ?? '', f.pathIncludes)) continue;
      const n = (counts.get(f) ?? 0) + 1;
      counts.set(f, n);
      if ((n === f.nth || (f.every && n > f.nth)) && hit === undefined) hit = f;
    }
    if (hit) log.fired.push(hit);
    return hit;
  };
  const crash = (): never => {
    process.kill(process.pid, 'SIGKILL');
    // SIGKILL is not delivered synchronously everywhere; nothing more may happen meanwhile.
    for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
  };
  const wrapped: Record<string, unknown> = { log };
  for (const method of [...FSX_METHODS, ...FSX_EXTRA_METHODS]) {
    const real = (base as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!;
    const kind = KIND_OF[method];
    wrapped[method] = (...args: unknown[]): unknown => {
      const where = pathOf(method, args);
      const fault = due(kind, where);
      const callback = typeof args[args.length - 1] === 'function' ? (args[args.length - 1] as (e: unknown) => void) : undefined;
      if (fault?.action === 'hook') {
        const out = real(...args);
        if (method === 'openSync' && typeof out === 'number' && typeof args[0] === 'string') fdPaths.set(out, args[0]);
        execSync(process.env.BLAINE_TEST_HOOK ?? 'true', { stdio: 'ignore' });
        return out;
      }
      if (fault?.action === 'change') {
        const out = real(...args);
        if (method === 'openSync' && typeof out === 'number' && typeof args[0] === 'string') fdPaths.set(out, args[0]);
        if (where !== undefined) nodeFs.appendFileSync(fsPath(where), 'x');
        return out;
      }
      if (fault && fault.action !== 'crash') {
        const err = injected(fault.action, method.replace(/Sync$/, ''), where);
        if (method === 'syncfs') return fault.action;
        if (callback) {
          process.nextTick(() => callback(err));
          return undefined;
        }
        throw err;
      }
      if (fault && callback) {
        // An asynchronous call crashes once it has completed.
        args[args.length - 1] = (...res: unknown[]) => {
          crash();
          callback(...(res as [unknown]));
        };
        return real(...args);
      }
      let out: unknown;
      try {
        out = real(...args);
      } catch (err) {
        // A call that failed (a rename whose folder is still to be made) is a step all the same.
        if (fault) crash();
        throw err;
      }
      if (method === 'openSync' && typeof out === 'number' && typeof args[0] === 'string') fdPaths.set(out, args[0]);
      if (method === 'closeSync' && typeof args[0] === 'number') fdPaths.delete(args[0]);
      if (fault) crash();
      return out;
    };
  }
  wrapped.copyFiles = base.copyFiles === null ? null : faultyCopyFiles(base.copyFiles, due, crash);
  wrapped.copyFd = base.copyFd === null ? null : faultyCopyFd(base.copyFd, due, crash);
  return wrapped as unknown as Fsx & { log: FaultLog };
}

/**
 * The native batch copy under faults: each file counts as the steps the copy makes for it, in
 * order — open of the source, a read of it, open of the temporary name, a write to it, the setting
 * of its mtime — so that `write:N:ENOSPC` or `read:N:EIO@/lib/b.jpg` hits that file of the batch
 * as it would hit the one-by-one copy of a small file. A file whose step fails gets the errno as
 * the addon reports it (a source or a target error) and is not copied; 'change' appends to the
 * source just before its copy (which then reads more bytes than the scan saw), 'crash' and
 * 'hook' act right after that file's copy (the files before it go in one batch, the rest in another).
 * A job to be placed at its destination is copied without that here, and placed afterwards as one
 * more step, a rename, in job order: an errno there leaves the copy at its temporary name (as the
 * addon does when the rename fails), 'crash' kills the process once the file is placed.
 */
function faultyCopyFiles(
  copy: (jobs: NativeCopyJob[]) => Promise<NativeCopyResult[]>,
  due: (kind: FaultKind, where: string | undefined) => Fault | undefined,
  crash: () => never,
): (jobs: NativeCopyJob[]) => Promise<NativeCopyResult[]> {
  const errnoOf = (code: string) => (osConstants.errno as Record<string, number>)[code] ?? osConstants.errno.EIO;
  return async (jobs) => {
    const fired = jobs.map((j) => {
      let first: { fault: Fault; outcome: number; where: string } | undefined;
      const steps: [FaultKind, string, number][] = [
        ['open', j.src, COPY_OUTCOME.sourceError],
        ['read', j.src, COPY_OUTCOME.sourceError],
        ['open', j.tmp, COPY_OUTCOME.targetError],
        ['write', j.tmp, COPY_OUTCOME.targetError],
        ['utimes', j.tmp, COPY_OUTCOME.targetError],
      ];
      for (const [kind, where, outcome] of steps) {
        const fault = due(kind, where);
        if (fault !== undefined && first === undefined) first = { fault, outcome, where };
      }
      return first;
    });
    const results: NativeCopyResult[] = new Array(jobs.length);
    let batch: number[] = [];
    const flush = async () => {
      const done = batch.length === 0 ? [] : await copy(batch.map((i) => ({ ...jobs[i]!, place: undefined })));
      batch.forEach((i, k) => (results[i] = place(jobs[i]!, done[k]!)));
      batch = [];
    };
    const place = (j: NativeCopyJob, res: NativeCopyResult): NativeCopyResult => {
      if (j.place === undefined || res.outcome !== COPY_OUTCOME.done || res.bytes !== j.place.size) return res;
      const fault = due('rename', `${j.tmp} -> ${j.place.dest}`);
      if (fault !== undefined && fault.action !== 'crash') return res;
      // Onto no existing name, as RENAME_NOREPLACE: a link that fails with EEXIST, then the old name goes.
      try {
        nodeFs.linkSync(fsPath(j.tmp), fsPath(j.place.dest));
      } catch {
        return res;
      }
      nodeFs.unlinkSync(fsPath(j.tmp));
      if (fault !== undefined) crash();
      return { ...res, placed: true };
    };
    for (let i = 0; i < jobs.length; i++) {
      const hit = fired[i];
      if (hit !== undefined && /^E[A-Z]+$/.test(hit.fault.action)) {
        results[i] = { outcome: hit.outcome, errno: errnoOf(hit.fault.action), bytes: 0, sha256: '', placed: false };
        continue;
      }
      if (hit?.fault.action === 'change') {
        await flush();
        nodeFs.appendFileSync(fsPath(jobs[i]!.src), 'x');
      }
      batch.push(i);
      if (hit === undefined || hit.fault.action === 'change') continue;
      await flush();
      if (hit.fault.action === 'crash') crash();
      if (hit.fault.action === 'hook') execSync(process.env.BLAINE_TEST_HOOK ?? 'true', { stdio: 'ignore' });
    }
    await flush();
    return results;
  };
}

/** Bytes per read and write of the native copy (native/parity_addon.c), as of the copy in JavaScript. */
const NATIVE_CHUNK = 1 << 20;

/**
 * The native copy of a big file under faults: it counts as the reads and writes the copy in
 * JavaScript makes for it, in that copy's order (read 0, then read i+1 before write i, and the read
 * at the end that finds nothing more), so that `write:N:ENOSPC` or `read:N:EIO@/lib/big.bin` hits
 * the same buffer of the same file either way. The first fault that fires decides: an errno fails
 * that read or write in C; 'crash' lets the copy write what it would have written by then and
 * kills the process; 'change' appends to the file, and 'hook' runs the command, before the copy.
 */
function faultyCopyFd(
  copy: (job: NativeFdCopy, faults?: NativeCopyFaults) => Promise<NativeFdCopyResult>,
  due: (kind: FaultKind, where: string | undefined) => Fault | undefined,
  crash: () => never,
): (job: NativeFdCopy) => Promise<NativeFdCopyResult> {
  const errnoOf = (code: string) => (osConstants.errno as Record<string, number>)[code] ?? osConstants.errno.EIO;
  return async (job) => {
    const chunks = Math.ceil(job.size / NATIVE_CHUNK);
    const steps: Array<{ kind: 'read' | 'write'; index: number }> = [{ kind: 'read', index: 0 }];
    for (let i = 0; i < chunks; i++) steps.push({ kind: 'read', index: i + 1 }, { kind: 'write', index: i });
    let hit: { fault: Fault; kind: 'read' | 'write'; index: number; where: string } | undefined;
    for (const step of steps) {
      const where = step.kind === 'read' ? job.src : job.tmp;
      const fault = due(step.kind, where);
      if (fault) {
        hit = { fault, ...step, where };
        break;
      }
    }
    if (hit === undefined) return copy(job);
    const action = hit.fault.action;
    if (/^E[A-Z]+$/.test(action)) {
      const nth = hit.index + 1;
      const errno = errnoOf(action);
      return copy(job, hit.kind === 'read' ? { ...NO_FAULTS, readNth: nth, readErrno: errno } : { ...NO_FAULTS, writeNth: nth, writeErrno: errno });
    }
    if (action === 'crash') {
      // The writes done by then: every one before this step (read i+1 comes before write i).
      const written = hit.kind === 'write' ? hit.index + 1 : Math.max(0, hit.index - 1);
      if (written > 0) await copy(job, { ...NO_FAULTS, stopAfterWrites: written });
      crash();
    }
    if (action === 'change') nodeFs.appendFileSync(fsPath(hit.where), 'x');
    if (action === 'hook') execSync(process.env.BLAINE_TEST_HOOK ?? 'true', { stdio: 'ignore' });
    return copy(job);
  };
}

const NO_FAULTS: NativeCopyFaults = { readNth: 0, readErrno: 0, writeNth: 0, writeErrno: 0, stopAfterWrites: 0 };

/**
 * The file-system layer a bin/blaine process gives its engines: the real one, unless the
 * test-only variable BLAINE_TEST_FAULTS describes faults (parseFaults), so that end-to-end tests
 * can break a child process's disk. One layer per process, so steps are counted across the run.
 */
export function fileSystemFromEnv(env: NodeJS.ProcessEnv = process.env): Fsx {
  const spec = env.BLAINE_TEST_FAULTS;
  return spec ? faultyFs(realFs, parseFaults(spec)) : realFs;
}
