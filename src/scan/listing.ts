/**
 * Reading one directory for the JavaScript walk (the native walk in native/scan.c does the same in
 * C), and one sentence for whatever kept an entry from being read.
 */
import { FIELD, KIND } from '../fsx/addon.js';
import { comparePaths } from '../fsx/paths.js';
import { TWO_32 } from './packed.js';
import { bytesToName } from '../fsx/name-bytes.js';
import { type BigIntStats, type Dirent, type Stats } from '../fsx/fsx.js';

const NS_PER_S = 1_000_000_000n;

/** The few calls the scanner makes; tests swap in failing ones for cases root cannot provoke. */
export interface ScanFs {
  statSync(p: string): Stats;
  readdirSync(p: string, options: { withFileTypes: true }): Dirent[];
  lstatSync(p: string, options: { bigint: true }): BigIntStats;
  readlinkSync(p: string, options: { encoding: 'buffer' }): Buffer;
}

const NEEDS_CAREFUL_ORDER = /[\ud800-\uffff]/;

/**
 * Sibling names, each directory's with '/' appended: sorting by that keeps whole paths in byte
 * order ("a b/x" < "a-b" < "a/x" < "a0"), not just names within a level.
 */
export function sortedOrder(l: Listing): number[] {
  const n = l.names.length;
  const keys: string[] = new Array(n);
  const order: number[] = new Array(n);
  let careful = false;
  for (let i = 0; i < n; i++) {
    const name = l.names[i]!;
    keys[i] = l.isDir(i) ? name + '/' : name;
    order[i] = i;
    if (!careful && NEEDS_CAREFUL_ORDER.test(name)) careful = true;
  }
  return order.sort(careful ? (a, b) => comparePaths(keys[a]!, keys[b]!) : (a, b) => (keys[a]! < keys[b]! ? -1 : 1));
}

/** One sentence for a failed readdir or lstat, from its error code. */
export function errorMessage(code: string | undefined): string {
  switch (code) {
    case 'EACCES':
      return 'permission denied';
    case 'EPERM':
      return 'operation not permitted';
    case 'EIO':
      return 'input/output error';
    case 'ENOENT':
    case 'ENOTDIR':
      return 'disappeared during the scan';
    case 'EAGAIN':
    case 'EWOULDBLOCK': // the same number
      return 'kept changing while it was listed (what is archived below it is kept; the next run looks again)';
    case 'ENAMETOOLONG':
      return 'path is too long';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    default:
      return `cannot be read (${code ?? 'unknown error'})`;
  }
}

export function codeOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code ?? (err instanceof Error ? err.message : undefined);
}

const S_IFMT = 0o170000;

export function specialKind(mode: number): string {
  switch (mode & S_IFMT) {
    case 0o010000:
      return 'is a FIFO';
    case 0o140000:
      return 'is a socket';
    case 0o020000:
      return 'is a character device';
    case 0o060000:
      return 'is a block device';
    default:
      return 'has an unknown file type';
  }
}

/** One directory's entries; stat fills an entry's FIELDS numbers or says why it cannot. */
export interface Listing {
  names: string[];
  /** The directory listing itself says this entry is a directory (no lstat needed). */
  isDir(i: number): boolean;
  /** Fills out[o .. o + FIELDS) with entry i's lstat; returns null, or the error code. */
  stat(i: number, abs: string, out: Float64Array, o: number): string | null;
  /** The target of entry i, after stat found it to be a symlink. */
  target(i: number): string;
}

/** A directory's listing, or the error code that kept it from being read. */
export type ListDir = (dir: string) => Listing | string;

/**
 * File times come from the kernel's coarse clock (a few ms behind the one Date.now() reads): a
 * directory changed this close to a listing's start is taken as changed during it.
 */
const SETTLE_MARGIN_MS = 20;
const SETTLE_TRIES = 5;
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Lists dir so that no entry can have been missed (SPEC §5: nothing is taken as deleted unless its
 * scan completed): an entry renamed within dir while it is read may be seen under neither name,
 * so a listing during which dir changed (its ctime, which no tool can set, not older than the
 * listing's start) is made again, after the change has settled; 'EAGAIN' after SETTLE_TRIES. With
 * `since` (names from an earlier listing, native/scan.c's `since`), any change since then is
 * 'EAGAIN' at once. `changedAt` gives a directory's ctime in ms. `started`: when the listing began,
 * less the margin (the `since` of parts cut from it).
 */
export function listStable(
  list: ListDir,
  dir: string,
  since: number | undefined,
  changedAt: (dir: string) => number,
): { listing: Listing; started: number } | string {
  for (let tries = 1; ; tries++) {
    const started = Date.now() - SETTLE_MARGIN_MS;
    const listing = list(dir);
    if (typeof listing === 'string') return listing;
    let changed: number;
    try {
      changed = changedAt(dir);
    } catch (err) {
      return codeOf(err) ?? 'unknown error';
    }
    if (changed < started && (since === undefined || changed < since)) return { listing, started };
    if (since !== undefined || tries === SETTLE_TRIES) return 'EAGAIN';
    for (let i = 0; i < 20 && Date.now() - SETTLE_MARGIN_MS <= changed; i++) Atomics.wait(pause, 0, 0, 5);
  }
}

export function nodeLister(fs: ScanFs): ListDir {
  return (dir) => {
    let dirents: Dirent[];
    try {
      dirents = fs.readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      return codeOf(err) ?? 'unknown error';
    }
    const targets: string[] = [];
    return {
      names: dirents.map((d) => d.name),
      isDir: (i) => dirents[i]!.isDirectory(),
      stat: (i, abs, out, o) => {
        let st: BigIntStats;
        try {
          st = fs.lstatSync(abs, { bigint: true });
        } catch (err) {
          return codeOf(err) ?? 'unknown error';
        }
        let size = Number(st.size);
        let kind: number = KIND.special;
        if (st.isFile()) kind = KIND.file;
        else if (st.isDirectory()) kind = KIND.dir;
        else if (st.isSymbolicLink()) {
          let target: Buffer;
          try {
            target = fs.readlinkSync(abs, { encoding: 'buffer' });
          } catch (err) {
            return codeOf(err) ?? 'unknown error';
          }
          kind = KIND.symlink;
          size = target.length;
          targets[i] = bytesToName(target);
        }
        // Floor division keeps the nanoseconds in 0..999999999 for times before 1970 as well.
        let sec = st.mtimeNs / NS_PER_S;
        let nsec = st.mtimeNs % NS_PER_S;
        if (nsec < 0n) {
          nsec += NS_PER_S;
          sec -= 1n;
        }
        out[o + FIELD.kind] = kind;
        out[o + FIELD.errno] = 0;
        out[o + FIELD.mode] = Number(st.mode);
        out[o + FIELD.size] = size;
        out[o + FIELD.mtimeSec] = Number(sec);
        out[o + FIELD.mtimeNsec] = Number(nsec);
        out[o + FIELD.dev] = Number(st.dev);
        out[o + FIELD.inoHi] = Number(st.ino / TWO_32);
        out[o + FIELD.inoLo] = Number(st.ino % TWO_32);
        out[o + FIELD.nlink] = Number(st.nlink);
        out[o + FIELD.uid] = Number(st.uid);
        out[o + FIELD.gid] = Number(st.gid);
        return null;
      },
      target: (i) => targets[i]!,
    };
  };
}
