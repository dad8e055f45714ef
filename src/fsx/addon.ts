import { createRequire } from 'node:module';
import os from 'node:os';

/**
 * The numbers the native walk (native/scan.c) gives per file, in this order; the scanner keeps its
 * packed records in the same layout.
 */
export const FIELD = {
  kind: 0,
  errno: 1,
  mode: 2,
  size: 3,
  mtimeSec: 4,
  mtimeNsec: 5,
  dev: 6,
  inoHi: 7,
  inoLo: 8,
  nlink: 9,
  uid: 10,
  gid: 11,
} as const;
export const FIELDS = 12;

export const KIND = { error: 0, file: 1, dir: 2, symlink: 3, special: 4 } as const;

export interface NativeAddon {
  /**
   * Walks dir, whose path relative to the data path is rel (see native/scan.c): asks `excluded`
   * about every entry, hands over chunks of up to chunkSize files and every entry it skips; true
   * when every directory could be read.
   */
  scanTree(
    dir: string,
    rel: string,
    only: string[] | null,
    chunkSize: number,
    excluded: ((rel: string, isDir: boolean) => boolean) | null,
    /**
     * text: the chunk's text as bytes (builds before the digest: a string); digest: the SHA-256 of
     * those bytes (32 bytes; builds older than it leave it out).
     */
    onChunk: (text: ArrayBuffer | string, info: Float64Array, targets: string, next: string | null, digest?: ArrayBuffer) => void,
    onSkip: (path: string, errno: number, kind: number, mode: number) => void,
    onProgress: ((files: number) => void) | null,
    /** With `only`: when the listing those names came from began (ms); dir must not have changed since. */
    since?: number,
    /**
     * Called once at the end with every directory the walk entered below dir: their paths joined
     * by NUL, FIELDS numbers each (an fstat of the directory as opened). Builds older than it ignore it.
     */
    onDirs?: (text: string, info: Float64Array) => void,
  ): boolean;
  /** syncfs(2) of the file system holding path on a thread of its own, not waited for; false when one is still running (scan.c). */
  startSyncfs?(path: string): boolean;
  /** Whether startSyncfs's thread is still running (it holds the file system open). */
  syncfsRunning?(): boolean;
  /** syncfs(2) of the file system holding path: 0, or the errno. */
  syncfs(path: string): number;
  /** utimensat(2) of the mtime alone, to the nanosecond (noFollow: a symlink itself): 0, or the errno. */
  setMtime(path: string, sec: number, nsec: number, noFollow: boolean): number;
  /** futimens(2) of the mtime alone: 0, or the errno. */
  setMtimeFd(fd: number, sec: number, nsec: number): number;
  /** flock(2), shared or exclusive, waiting or not: 0, or the errno (EWOULDBLOCK: held elsewhere). */
  flock(fd: number, shared: boolean, wait: boolean): number;
  /** The names of dir's subdirectories (not symlinks to one), in the lossless string form; or the errno when dir cannot be listed. */
  subdirs(dir: string): string[] | number;
  /**
   * Copies `count` files to temporary names on a worker thread (native/copyfiles.c): `paths` holds
   * each one's source, temporary name and destination ("" for none), each followed by "\0"; `meta`
   * 7 numbers a file (mode, uid, gid, mtime seconds, nanoseconds, 1 to chown, the size at which the
   * copy is renamed to its destination, onto no existing name, or -1); it fills `out` with 4 numbers
   * a file (COPY_OUTCOME, errno, bytes, 1 when placed) and `digests` with 32 bytes a file, then calls `done`.
   */
  copyFiles(count: number, paths: string, meta: Float64Array, out: Float64Array, digests: Buffer, done: (ok: boolean) => void): void;
  /**
   * Copies a big file between open descriptors (native/copyfeed.c), feeding the PAR2 creator
   * `handle` when given; `cancel[0]` set stops it; `faults` (tests): [readNth, readErrno, writeNth,
   * writeErrno, stopAfterWrites]. `done` gets the errnos (0: none) and counts.
   */
  copyFd(
    inFd: number,
    outFd: number,
    handle: object | null,
    cancel: Int32Array,
    faults: Float64Array | null,
    done: (readErrno: number, writeErrno: number, feedErrno: number, bytes: number, fed: number, sha256: Buffer) => void,
  ): void;
  /** SHA-256 of a buffer by native/sha256.c (for tests against node:crypto); `portable`: without the CPU's SHA instructions. */
  sha256(data: Buffer, portable?: boolean): Buffer;
  FIELDS: number;
}

/** What copyFiles says about each file. */
export const COPY_OUTCOME = { done: 0, sourceError: 1, targetError: 2, notRegular: 3 } as const;

const ERRNO_NAMES = new Map(Object.entries(os.constants.errno).map(([name, n]) => [n, name]));

/** The code (ENOENT, EACCES…) of an errno the addon reports. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

let loaded: NativeAddon | null | undefined;
let loadedFile: string | null = null;

/** The compiled addon whatever BLAINE_NO_NATIVE says, or null when it was not built. */
export function fsAddon(): NativeAddon | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  // dist/src/fsx/addon.js (tsc) or dist/bundle/main.js (bundle): native/ is beside dist/.
  const load = createRequire(import.meta.url);
  // BLAINE_TEST_ADDON: another build of the addon (scripts/native-asan.mjs: with the sanitizers).
  const builds = process.env.BLAINE_TEST_ADDON ? [process.env.BLAINE_TEST_ADDON] : ['../../../native/build/Release/blaine_native.node', '../../native/build/Release/blaine_native.node'];
  for (const rel of builds) {
    try {
      const r = load(rel) as NativeAddon;
      if (r.FIELDS === FIELDS) {
        loaded = r;
        loadedFile = load.resolve(rel);
      }
      break;
    } catch {
      // not there, or not built
    }
  }
  return loaded;
}

/**
 * The file of the compiled addon (null: none was loaded). It is also an SQLite extension
 * (native/quickdigest.c) that catalog/ loads into its connections.
 */
export function fsAddonFile(): string | null {
  fsAddon();
  return loadedFile;
}

/**
 * The compiled reader, or null when it was not built (no C compiler at install time) or
 * BLAINE_NO_NATIVE is set: the scanner then lstats through node:fs, slower but the same.
 */
export function nativeAddon(): NativeAddon | null {
  return process.env.BLAINE_NO_NATIVE ? null : fsAddon();
}
