/**
 * The file-system layer the engines receive (executor, verify, restore, clone, catch-up, and the
 * copy helpers they call, the archive's own files): the node:fs calls Blaine makes on disks and
 * data paths, plus syncfs and nanosecond mtimes.
 * The real one is node:fs and the native addon; tests hand engines a fault-injecting one
 * (fault.ts), so a full disk, a failing read or a crash after step N can be tested without root.
 * Its methods keep node:fs's names and signatures so that code moved onto it reads as before.
 */
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { errnoName, fsAddon, nativeAddon } from './addon.js';
import { setMtime, setMtimeFd } from './times.js';
import { bytesToName, fsPath } from './name-bytes.js';

/** Owners can be given to files only as root; elsewhere they are left to the file system. */
export const isRoot = process.getuid?.() === 0;

export const FSX_METHODS = [
  'openSync',
  'closeSync',
  'readSync',
  'read',
  'writeSync',
  'write',
  'fstatSync',
  'fchmodSync',
  'fchownSync',
  'futimesSync',
  'fsyncSync',
  'ftruncateSync',
  'renameSync',
  'linkSync',
  'unlinkSync',
  'mkdirSync',
  'mkdtempSync',
  'rmdirSync',
  'rmSync',
  'symlinkSync',
  'readlinkSync',
  'lstatSync',
  'statSync',
  'existsSync',
  'lutimesSync',
  'chmodSync',
  'chownSync',
  'lchownSync',
  'readdirSync',
  'readFileSync',
  'writeFileSync',
  'copyFileSync',
  'copyFile',
  'statfsSync',
  'realpathSync',
  'accessSync',
] as const;

/** node:fs's constants (open flags, access modes) and types, for code that reaches files through an Fsx. */
export const fsConstants = fs.constants;
export type { BigIntStats, Dirent, Stats } from 'node:fs';

export type FsxMethod = (typeof FSX_METHODS)[number];

/** Calls beyond node:fs: syncfs, and mtimes to the nanosecond (times.ts). */
export const FSX_EXTRA_METHODS = ['syncfs', 'setMtime', 'setMtimeFd'] as const;

/**
 * One file for the native batch copy: its source, the temporary name to write, and what the copy
 * gets; with `place`, the copy is then renamed to `place.dest` by the same thread, when it has
 * `place.size` bytes and nothing is at that name (else it stays at `tmp`).
 */
export interface NativeCopyJob {
  src: string;
  tmp: string;
  meta: { mode: number; uid: number; gid: number; mtimeSec: number; mtimeNsec: number };
  place?: { dest: string; size: number };
}

/**
 * What the native batch copy says of one file: COPY_OUTCOME (addon.ts), the errno of a failure,
 * bytes and SHA-256 (hex); `placed`: renamed to its job's `place.dest` (no file is left at `tmp`).
 */
export interface NativeCopyResult {
  outcome: number;
  errno: number;
  bytes: number;
  sha256: string;
  placed: boolean;
}

/** One big file for the native copy between open descriptors (copyFd): what it copies and what it feeds. */
export interface NativeFdCopy {
  inFd: number;
  outFd: number;
  /** The two paths, for the fault layer and messages. */
  src: string;
  tmp: string;
  /** The source's size when opened (the fault layer counts the copy's reads and writes from it). */
  size: number;
  /** A PAR2 creator's handle (native/parity_addon.c) to hand every buffer read, on its own thread. */
  feed?: object;
  /** Element 0 set to 1 stops the copy before its next read. */
  cancel: Int32Array;
}

/** What the native copy did: errnos of its first failed read and write (0: none; ECANCELED after a cancel), of its feed, and its counts. */
export interface NativeFdCopyResult {
  readErrno: number;
  writeErrno: number;
  feedErrno: number;
  bytes: number;
  fed: number;
  sha256: string;
}

/** Test faults for the native copy: the nth read or write fails with the errno, or the copy stops after a number of writes (0: none). */
export interface NativeCopyFaults {
  readNth: number;
  readErrno: number;
  writeNth: number;
  writeErrno: number;
  stopAfterWrites: number;
}

export type Fsx = Pick<typeof fs, FsxMethod> & {
  /** syncfs(2) of the file system holding `target`: 0, or the errno name of the failure. */
  syncfs(target: string): string | 0;
  /** A file's or symlink's own mtime, to the nanosecond; atime stays. Throws an errno error like node:fs. */
  setMtime(file: string, sec: number, nsec: number): void;
  /** The same for an open file. */
  setMtimeFd(fd: number, sec: number, nsec: number): void;
  /**
   * Copies files to their temporary names on the addon's worker thread (native/copyfiles.c), or
   * null when the addon is not built: callers then copy one by one through the other calls.
   */
  copyFiles: ((jobs: NativeCopyJob[]) => Promise<NativeCopyResult[]>) | null;
  /**
   * Copies a big file between two open descriptors in C (native/copyfeed.c: reads and SHA-256 on
   * libuv's pool, writes and the feed on threads of their own), or null when the addon is not
   * built: callers then copy through read and write. Never rejects: the errnos say what failed.
   */
  copyFd: ((job: NativeFdCopy, faults?: NativeCopyFaults) => Promise<NativeFdCopyResult>) | null;
};

const COPY_META_FIELDS = 7;
const COPY_OUT_FIELDS = 4;

/** The native batch copy of the real file system. */
function nativeCopyFiles(jobs: NativeCopyJob[]): Promise<NativeCopyResult[]> {
  const addon = fsAddon()!;
  const n = jobs.length;
  const meta = new Float64Array(n * COPY_META_FIELDS);
  let paths = '';
  jobs.forEach((j, i) => {
    paths += `${j.src}\0${j.tmp}\0${j.place?.dest ?? ''}\0`;
    meta.set([j.meta.mode, j.meta.uid, j.meta.gid, j.meta.mtimeSec, j.meta.mtimeNsec, isRoot ? 1 : 0, j.place?.size ?? -1], i * COPY_META_FIELDS);
  });
  const out = new Float64Array(n * COPY_OUT_FIELDS);
  const digests = Buffer.alloc(n * 32);
  return new Promise((resolve, reject) =>
    addon.copyFiles(n, paths, meta, out, digests, (ok) => {
      if (!ok) return reject(new Error('copyFiles: the worker thread did not run'));
      resolve(
        jobs.map((_, i) => ({
          outcome: out[i * COPY_OUT_FIELDS]!,
          errno: out[i * COPY_OUT_FIELDS + 1]!,
          bytes: out[i * COPY_OUT_FIELDS + 2]!,
          sha256: digests.toString('hex', i * 32, i * 32 + 32),
          placed: out[i * COPY_OUT_FIELDS + 3] === 1,
        })),
      );
    }),
  );
}

/** The native copy between descriptors of the real file system. */
function nativeCopyFd(job: NativeFdCopy, faults?: NativeCopyFaults): Promise<NativeFdCopyResult> {
  const addon = fsAddon()!;
  const f = faults && new Float64Array([faults.readNth, faults.readErrno, faults.writeNth, faults.writeErrno, faults.stopAfterWrites]);
  return new Promise((resolve) =>
    addon.copyFd(job.inFd, job.outFd, job.feed ?? null, job.cancel, f ?? null, (readErrno, writeErrno, feedErrno, bytes, fed, digest) =>
      resolve({ readErrno, writeErrno, feedErrno, bytes, fed, sha256: digest.toString('hex') }),
    ),
  );
}

function syncfs(target: string): string | 0 {
  const native = nativeAddon();
  if (native !== null) {
    const errno = native.syncfs(target);
    return errno === 0 ? 0 : errnoName(errno);
  }
  try {
    execFileSync('sync', ['-f', '--', target], { stdio: ['ignore', 'ignore', 'pipe'] });
    return 0;
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
    return /no space left|quota/i.test(stderr) ? 'ENOSPC' : stderr.replace(/^sync: /, '') || 'EIO';
  }
}

/**
 * Which arguments of each node:fs call are paths (or, for symlinkSync, the link's target, which is
 * a name too): the real Fsx passes them as their bytes (name-bytes.ts `fsPath`), the one place
 * where a path string meets node:fs.
 */
const PATH_ARGS: Partial<Record<FsxMethod, number[]>> = {
  openSync: [0],
  renameSync: [0, 1],
  linkSync: [0, 1],
  unlinkSync: [0],
  mkdirSync: [0],
  rmdirSync: [0],
  rmSync: [0],
  symlinkSync: [0, 1],
  lstatSync: [0],
  statSync: [0],
  existsSync: [0],
  lutimesSync: [0],
  chmodSync: [0],
  chownSync: [0],
  lchownSync: [0],
  readFileSync: [0],
  writeFileSync: [0],
  copyFileSync: [0, 1],
  copyFile: [0, 1],
  statfsSync: [0],
  accessSync: [0],
};

type AnyFn = (...args: unknown[]) => unknown;

function withPaths(name: FsxMethod, call: AnyFn): AnyFn {
  const at = PATH_ARGS[name];
  if (!at) return call;
  return (...args: unknown[]) => {
    for (const i of at) if (typeof args[i] === 'string') args[i] = fsPath(args[i] as string);
    return call(...args);
  };
}

function wantsBuffers(options: unknown): boolean {
  return options === 'buffer' || (typeof options === 'object' && options !== null && (options as { encoding?: unknown }).encoding === 'buffer');
}

/** readdirSync whose names keep their bytes (as escaped strings) unless Buffers were asked for. */
function readdirSync(dir: string, options?: unknown): unknown {
  if (wantsBuffers(options)) return fs.readdirSync(fsPath(dir), options as { encoding: 'buffer' });
  const withTypes = typeof options === 'object' && options !== null && (options as { withFileTypes?: boolean }).withFileTypes === true;
  const recursive = typeof options === 'object' && options !== null && (options as { recursive?: boolean }).recursive === true;
  if (withTypes) {
    const entries = fs.readdirSync(fsPath(dir), { withFileTypes: true, encoding: 'buffer', recursive });
    // The entries' own names become the escaped strings; a Dirent's name is a plain property.
    for (const d of entries) (d as unknown as { name: string }).name = bytesToName(d.name);
    return entries;
  }
  return fs.readdirSync(fsPath(dir), { encoding: 'buffer', recursive }).map((b) => bytesToName(b));
}

/** readlinkSync whose target keeps its bytes (as an escaped string) unless a Buffer was asked for. */
function readlinkSync(link: string, options?: unknown): unknown {
  if (wantsBuffers(options)) return fs.readlinkSync(fsPath(link), options as { encoding: 'buffer' });
  return bytesToName(fs.readlinkSync(fsPath(link), { encoding: 'buffer' }));
}

/** realpathSync whose argument and result are names like any other. */
function realpathSync(p: string, options?: unknown): unknown {
  if (wantsBuffers(options)) return fs.realpathSync(fsPath(p), options as { encoding: 'buffer' });
  return bytesToName(fs.realpathSync(fsPath(p), { encoding: 'buffer' }));
}

/** mkdtempSync whose prefix and result are names like any other. */
function mkdtempSync(prefix: string, options?: unknown): unknown {
  if (wantsBuffers(options)) return fs.mkdtempSync(prefix, options as { encoding: 'buffer' });
  return bytesToName(fs.mkdtempSync(fsPath(prefix) as string, { encoding: 'buffer' }));
}

/**
 * A hard link that reports the right size on an encrypted disk too: gocryptfs 2.3 (Debian 12)
 * answers link() with the ciphertext's attributes, and the kernel keeps them for a second (both
 * names then show a size larger by the encryption overhead, gocryptfs issue 724), so par2 reading
 * a file staged that way stops short. A chmod to the same mode makes the kernel take fresh
 * attributes; on other file systems it changes nothing but the ctime.
 */
export function hardLink(existing: string, newPath: string): void {
  fs.linkSync(fsPath(existing), fsPath(newPath));
  try {
    fs.chmodSync(fsPath(newPath), fs.lstatSync(fsPath(newPath)).mode & 0o7777);
  } catch {
    // Not ours to chmod (another owner): the stale size only lasts a second.
  }
}

/**
 * node:fs itself, with paths passed as their bytes and names read back losslessly (name-bytes.ts),
 * syncfs and nanosecond mtimes through the native addon (`sync -f` and libuv's microseconds
 * without it); hard links refresh the new name's attributes (hardLink).
 */
export const realFs: Fsx = Object.freeze({
  ...Object.fromEntries(FSX_METHODS.map((name) => [name, withPaths(name, fs[name] as AnyFn)])),
  readdirSync,
  readlinkSync,
  mkdtempSync,
  realpathSync,
  linkSync: hardLink,
  syncfs,
  setMtime,
  setMtimeFd,
  copyFiles: fsAddon()?.copyFiles ? nativeCopyFiles : null,
  copyFd: fsAddon()?.copyFd ? nativeCopyFd : null,
}) as Fsx;
