/**
 * Where parity lives on a disk: `<disk>/.blaine/parity/<relpath>.par2` (the index) and
 * `<relpath>.vol+.par2` (the recovery slices), in a tree of their own so users' own `*.par2`
 * files are never touched.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { hardLink, realFs as fs } from '../fsx/fsx.js';
import { nameToBytes } from '../fsx/name-bytes.js';
import { SMALL_SET_BYTES } from './slices.js';

/**
 * The file calls parity's own moves, links and removals make. The engines pass their file-system
 * layer (src/fsx's Fsx fits), so that parity steps fail and crash where the tests make them.
 */
export type ParityFs = Pick<typeof fs, 'lstatSync' | 'rmSync' | 'mkdirSync' | 'renameSync' | 'rmdirSync' | 'copyFileSync' | 'linkSync'>;

/** node:fs, with hard links that report fresh attributes on gocryptfs (fsx/fsx.ts hardLink). */
export const plainParityFs: ParityFs = {
  lstatSync: fs.lstatSync,
  rmSync: fs.rmSync,
  mkdirSync: fs.mkdirSync,
  renameSync: fs.renameSync,
  rmdirSync: fs.rmdirSync,
  copyFileSync: fs.copyFileSync,
  linkSync: hardLink as typeof fs.linkSync,
};

export function parityDir(diskRoot: string): string {
  return path.join(diskRoot, '.blaine', 'parity');
}

/** Scratch space for parity work; same file system as the data, so files can be hardlinked and renamed in. */
export function scratchDir(diskRoot: string): string {
  return path.join(diskRoot, '.blaine', 'tmp');
}

/** Scratch directories this module makes start with this, so leftovers of a crash can be found. */
export const SCRATCH_PREFIX = 'parity-';

/**
 * A relative path below the disk root, checked: parity paths are built from it, so `..` or an
 * absolute path would put parity files outside the parity tree.
 */
export function checkRelPath(relPath: string, what = 'relative path'): string {
  if (typeof relPath !== 'string' || relPath === '' || relPath.includes('\0')) {
    throw new TypeError(`${what} must be a non-empty path, not ${JSON.stringify(relPath)}`);
  }
  const norm = path.posix.normalize(relPath);
  if (path.posix.isAbsolute(norm) || norm === '.' || norm === '..' || norm.startsWith('../') || norm.endsWith('/')) {
    throw new TypeError(`${what} must be a path below the disk root, not ${JSON.stringify(relPath)}`);
  }
  return norm;
}

/** The index file of a parity set (whether or not it exists). */
export function parityIndexPath(diskRoot: string, relPath: string): string {
  return parityStem(diskRoot, relPath) + INDEX_SUFFIX;
}

/** The parity set's path without its suffix: `<disk>/.blaine/parity/<stem rel>`. */
export function parityStem(diskRoot: string, relPath: string): string {
  return path.join(parityDir(diskRoot), parityStemRel(relPath));
}

/**
 * Where relPath's parity files are named after, below the parity tree: relPath itself, unless its
 * last name is so long that a suffix would make it longer than a name may be (255 bytes on ext4
 * and most file systems). Such a name is shortened: its first bytes, then `~` and a hash of the
 * whole name, so that every file of the set, passing names included, fits, and the same name
 * always gives the same stem (nothing needs to record it). Known clash: a data file actually
 * named like a shortened stem (`<prefix>~<32 hex digits>`), which no one makes by accident.
 */
export function parityStemRel(relPath: string): string {
  const rel = checkRelPath(relPath);
  const base = path.posix.basename(rel);
  if (nameToBytes(base).length + LONGEST_SUFFIX_BYTES <= NAME_MAX) return rel;
  const hash = crypto.createHash('sha256').update(nameToBytes(base)).digest('hex').slice(0, 32);
  const short = `${utf8Prefix(base, SHORT_PREFIX_BYTES)}~${hash}`;
  const dir = path.posix.dirname(rel);
  return dir === '.' ? short : `${dir}/${short}`;
}

/** The longest name a file system commonly allows, in bytes. */
const NAME_MAX = 255;
/** What parity ever appends to a stem: `.vol+.par2.linking`. */
const LONGEST_SUFFIX_BYTES = Buffer.byteLength('.vol+.par2.linking');
/** Bytes of a shortened stem's readable start: with `~` and 32 hex digits, 18 bytes of suffix still fit. */
const SHORT_PREFIX_BYTES = 200;

/** The longest start of the name `s` that is at most `max` bytes (name-bytes.ts), never cutting a character. */
function utf8Prefix(s: string, max: number): string {
  let out = '';
  let bytes = 0;
  for (const ch of s) {
    const n = nameToBytes(ch).length;
    if (bytes + n > max) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/**
 * The recovery file's name is fixed instead of par2's `NAME.volNN+MM.par2`: finding a set is then
 * two lstats, not a scan of a directory that may hold tens of thousands of sets (31 ms per lookup
 * at 20,000 entries, measured). par2 run by hand still finds it (`NAME.*.par2`). It can only clash
 * with the index of a data file named `NAME.vol+`, which is why it is not the plainer `.vol.par2`.
 */
export const INDEX_SUFFIX = '.par2';
export const RECOVERY_SUFFIX = '.vol+.par2';

/** The parity files that exist for relPath: the index first (if present), then the recovery file. */
export function parityFiles(diskRoot: string, relPath: string, pfs: ParityFs = plainParityFs): string[] {
  const stem = parityStem(diskRoot, relPath);
  const out: string[] = [];
  for (const suffix of [INDEX_SUFFIX, RECOVERY_SUFFIX]) {
    const p = stem + suffix;
    if (pfs.lstatSync(p, { throwIfNoEntry: false })?.isFile()) out.push(p);
  }
  return out;
}

/** What follows the stem of relPath's set in the name of one of its files: `.par2` or `.vol+.par2`. */
export function paritySuffix(file: string, relPath: string): string {
  return path.basename(file).slice(path.posix.basename(parityStemRel(relPath)).length);
}

/**
 * Moves relPath's parity to toRel (the data file was renamed). Parity already at toRel belonged to
 * the file the rename replaced, so it goes. Recovery files move before the index, so an index is
 * never seen without its recovery data.
 */
export function moveParity(diskRoot: string, fromRel: string, toRel: string, pfs: ParityFs = plainParityFs): void {
  transferParity(diskRoot, fromRel, toRel, (src, dest) => pfs.renameSync(src, dest), pfs);
  pruneParityDirs(diskRoot, path.dirname(parityIndexPath(diskRoot, fromRel)), pfs);
}

/**
 * Undoes a moveParity that a crash may have cut short: each file of toRel's set goes back to
 * fromRel unless fromRel still holds that file (it had not moved yet). moveParity the other way
 * would take those unmoved files for a stale set and delete them.
 */
export function moveParityBack(diskRoot: string, fromRel: string, toRel: string, pfs: ParityFs = plainParityFs): void {
  const fromStem = parityStem(diskRoot, fromRel);
  const toStem = parityStem(diskRoot, toRel);
  if (fromStem === toStem) return;
  const isFile = (p: string) => pfs.lstatSync(p, { throwIfNoEntry: false })?.isFile() === true;
  // Recovery first, as moveParity does: an index is never seen without its recovery data.
  for (const suffix of [RECOVERY_SUFFIX, INDEX_SUFFIX]) {
    if (!isFile(toStem + suffix) || isFile(fromStem + suffix)) continue;
    pfs.mkdirSync(path.dirname(fromStem), { recursive: true });
    pfs.renameSync(toStem + suffix, fromStem + suffix);
  }
  pruneParityDirs(diskRoot, path.dirname(toStem), pfs);
}

/** Gives toRel the same parity files as fromRel (a new hardlink to the same content). */
export function linkParity(diskRoot: string, fromRel: string, toRel: string, pfs: ParityFs = plainParityFs): void {
  transferParity(diskRoot, fromRel, toRel, (src, dest) => linkOrCopy(src, dest, pfs), pfs);
}

/** Removes relPath's parity and the directories of the parity tree that this leaves empty. */
export function removeParity(diskRoot: string, relPath: string, pfs: ParityFs = plainParityFs): void {
  const dir = path.dirname(parityIndexPath(diskRoot, relPath));
  // No folder, no set (every file when parity is off): the files are not looked for one by one.
  const dirExists = pfs.lstatSync(dir, { throwIfNoEntry: false }) !== undefined;
  if (dirExists) for (const f of parityFiles(diskRoot, relPath, pfs)) pfs.rmSync(f, { force: true });
  pruneFrom(diskRoot, dir, dirExists, pfs);
}

/**
 * Puts a set made elsewhere in place as relPath's parity. The old index goes first and the new
 * index comes last, so a crash at any point leaves either no index or a complete set (a recovery
 * file alone is a complete PAR2 set too: it carries copies of the set's description).
 */
export function installParity(diskRoot: string, relPath: string, made: { index: string; recovery: string; single?: boolean }, pfs: ParityFs = plainParityFs): void {
  const stem = parityStem(diskRoot, relPath);
  pfs.rmSync(stem + INDEX_SUFFIX, { force: true });
  pfs.mkdirSync(path.dirname(stem), { recursive: true });
  if (made.single) {
    // One file (SPEC §6, small files): the recovery file, which holds the description too, is the set.
    pfs.rmSync(stem + RECOVERY_SUFFIX, { force: true });
    pfs.renameSync(made.recovery, stem + INDEX_SUFFIX);
    return;
  }
  pfs.renameSync(made.recovery, stem + RECOVERY_SUFFIX);
  pfs.renameSync(made.index, stem + INDEX_SUFFIX);
}

/**
 * Whether `files` (parityFiles of a stored file of `size` bytes) are a whole set: an index and a
 * recovery file, or for a small file (planSlices' `single`) its one `.par2` file.
 */
export function isCompleteSet(diskRoot: string, relPath: string, files: string[], size: number): boolean {
  if (files.length === 2) return true;
  return files.length === 1 && size < SMALL_SET_BYTES && files[0] === parityIndexPath(diskRoot, relPath);
}

function transferParity(diskRoot: string, fromRel: string, toRel: string, put: (src: string, dest: string) => void, pfs: ParityFs): void {
  const from = checkRelPath(fromRel);
  const to = checkRelPath(toRel);
  if (from === to) return;
  const src = parityFiles(diskRoot, from, pfs);
  const destStem = parityStem(diskRoot, to);
  const moving = new Set(src);
  // A set at `to` is stale; but a file of `from` may bear one of its names (`x.vol+` -> `x`).
  for (const old of parityFiles(diskRoot, to, pfs)) if (!moving.has(old)) pfs.rmSync(old, { force: true });
  if (src.length === 0) return;
  pfs.mkdirSync(path.dirname(destStem), { recursive: true });
  const isIndex = (f: string): number => Number(paritySuffix(f, from) === INDEX_SUFFIX);
  const pairs = [...src].sort((a, b) => isIndex(a) - isIndex(b)).map((f) => ({ from: f, to: destStem + paritySuffix(f, from) }));
  if (pairs.some((p) => moving.has(p.to))) {
    // A target name is still a source (`x.vol+` -> `x`): step aside first so nothing is overwritten early.
    for (const p of pairs) {
      const tmp = p.to + MOVING_SUFFIX;
      put(p.from, tmp);
      p.from = tmp;
    }
    put = (a, b) => pfs.renameSync(a, b);
  }
  for (const p of pairs) put(p.from, p.to);
}

/**
 * A parity file on its way to its name (a link being made, a move stepping aside) is called this
 * for the moment: one name per destination (one writer per disk), so that recovery after a crash
 * finds it by lstat instead of reading a directory that may hold tens of thousands of sets.
 */
const LINKING_SUFFIX = '.linking';
const MOVING_SUFFIX = '.moving';

/** Removes what a link or move of relPath's parity cut short by a crash left under a passing name. */
export function removeParityLeftovers(diskRoot: string, relPath: string, pfs: ParityFs = plainParityFs): void {
  const stem = parityStem(diskRoot, relPath);
  for (const suffix of [INDEX_SUFFIX, RECOVERY_SUFFIX]) {
    for (const passing of [LINKING_SUFFIX, MOVING_SUFFIX]) pfs.rmSync(stem + suffix + passing, { force: true });
  }
}

/**
 * After a step on relPath's parity was cut short (a crash, or an error such as a full disk): what
 * is left under a passing name goes, and so does a set that is incomplete or that the catalog row
 * does not name, so the disk again matches a row that says "no parity" or names a complete set.
 * True when something was removed.
 */
export function matchParityToRow(diskRoot: string, relPath: string, row: { size: number; parityName: string | null } | undefined, pfs: ParityFs = plainParityFs): boolean {
  removeParityLeftovers(diskRoot, relPath, pfs);
  const files = parityFiles(diskRoot, relPath, pfs);
  if (files.length === 0 || (row?.parityName && isCompleteSet(diskRoot, relPath, files, row.size))) return false;
  removeParity(diskRoot, relPath, pfs);
  return true;
}

const COPY_INSTEAD = new Set(['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK', 'ENOSYS']);

/** Hardlinks src to dest (replacing dest); copies where the file system will not link. */
export function linkOrCopy(src: string, dest: string, pfs: ParityFs = plainParityFs): void {
  const tmp = dest + LINKING_SUFFIX;
  pfs.rmSync(tmp, { force: true });
  try {
    pfs.linkSync(src, tmp);
  } catch (e) {
    if (!COPY_INSTEAD.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
    pfs.copyFileSync(src, tmp);
  }
  pfs.renameSync(tmp, dest);
}

/** Removes empty directories from `dir` upwards, stopping below the parity tree's root. */
export function pruneParityDirs(diskRoot: string, dir: string, pfs: ParityFs = plainParityFs): void {
  pruneFrom(diskRoot, dir, pfs.lstatSync(dir, { throwIfNoEntry: false }) !== undefined, pfs);
}

/** pruneParityDirs, told whether `dir` exists. */
function pruneFrom(diskRoot: string, dir: string, dirExists: boolean, pfs: ParityFs): void {
  const stop = path.resolve(parityDir(diskRoot));
  let d = path.resolve(dir);
  if (!d.startsWith(stop + path.sep)) return;
  if (!dirExists) {
    // Most stored files have no parity folder (parity off, or never made): what is left to prune
    // starts at the deepest folder that exists, found from the top, where the way down usually
    // ends at once. A failed rmdir per level throws: 0.75 ms a removed or replaced file, six levels up.
    let deepest = stop;
    for (const part of path.relative(stop, d).split(path.sep)) {
      const next = path.join(deepest, part);
      if (pfs.lstatSync(next, { throwIfNoEntry: false }) === undefined) break;
      deepest = next;
    }
    d = deepest;
  }
  while (d.startsWith(stop + path.sep)) {
    try {
      pfs.rmdirSync(d);
    } catch (e) {
      if (!isCode(e, 'ENOENT')) return; // not empty: the directories above are not empty either
    }
    d = path.dirname(d);
  }
}

export function isCode(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as NodeJS.ErrnoException).code === code;
}
