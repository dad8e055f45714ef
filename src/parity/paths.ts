/**
 * Where parity lives on a disk: `<disk>/.blaine/parity/<relpath>.par2` and its recovery file(s)
 * `<relpath>.volNN+MM.par2`, in a tree of their own so users' own `*.par2` files are never touched.
 */
import fs from 'node:fs';
import path from 'node:path';

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
  return path.join(parityDir(diskRoot), `${checkRelPath(relPath)}.par2`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Names (no directory) in a set for data file `base`: the index and par2's `base.volNN+MM.par2`. */
function setMatcher(base: string): (name: string) => boolean {
  const index = `${base}.par2`;
  const vol = new RegExp(`^${escapeRegExp(base)}\\.vol\\d+\\+\\d+\\.par2$`);
  return (name) => name === index || vol.test(name);
}

/** The parity files that exist for relPath: the index first (if present), then recovery files. */
export function parityFiles(diskRoot: string, relPath: string): string[] {
  const index = parityIndexPath(diskRoot, relPath);
  const dir = path.dirname(index);
  const base = path.basename(index).slice(0, -'.par2'.length);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    if (isCode(e, 'ENOENT') || isCode(e, 'ENOTDIR')) return [];
    throw e;
  }
  const inSet = setMatcher(base);
  const found = names.filter(inSet).sort((a, b) => {
    const ai = a === `${base}.par2` ? 0 : 1;
    const bi = b === `${base}.par2` ? 0 : 1;
    return ai - bi || (a < b ? -1 : a > b ? 1 : 0);
  });
  return found.map((n) => path.join(dir, n));
}

/** What follows the data file's name in a parity file name: `.par2` or `.vol00+26.par2`. */
export function paritySuffix(file: string, relPath: string): string {
  return path.basename(file).slice(path.posix.basename(relPath).length);
}

/**
 * Moves relPath's parity to toRel (the data file was renamed). Parity already at toRel belonged to
 * the file the rename replaced, so it goes. Recovery files move before the index, so an index is
 * never seen without its recovery data.
 */
export function moveParity(diskRoot: string, fromRel: string, toRel: string): void {
  transferParity(diskRoot, fromRel, toRel, (src, dest) => fs.renameSync(src, dest));
  pruneParityDirs(diskRoot, path.dirname(parityIndexPath(diskRoot, fromRel)));
}

/** Gives toRel the same parity files as fromRel (a new hardlink to the same content). */
export function linkParity(diskRoot: string, fromRel: string, toRel: string): void {
  transferParity(diskRoot, fromRel, toRel, linkOrCopy);
}

/** Removes relPath's parity and the directories of the parity tree that this leaves empty. */
export function removeParity(diskRoot: string, relPath: string): void {
  for (const f of parityFiles(diskRoot, relPath)) fs.rmSync(f, { force: true });
  pruneParityDirs(diskRoot, path.dirname(parityIndexPath(diskRoot, relPath)));
}

/**
 * Puts parity files made elsewhere (`files`, each named `<anything><suffix>`) in place as relPath's
 * set: the old set goes first, then recovery files, the index last, so a crash at any point leaves
 * either no index or a complete set.
 */
export function installParity(diskRoot: string, relPath: string, files: Array<{ path: string; suffix: string }>): void {
  const index = parityIndexPath(diskRoot, relPath);
  const incoming = new Set(files.map((f) => index.slice(0, -'.par2'.length) + f.suffix));
  for (const old of parityFiles(diskRoot, relPath)) if (!incoming.has(old)) fs.rmSync(old, { force: true });
  fs.mkdirSync(path.dirname(index), { recursive: true });
  const ordered = [...files].sort((a, b) => Number(a.suffix === '.par2') - Number(b.suffix === '.par2'));
  for (const f of ordered) fs.renameSync(f.path, index.slice(0, -'.par2'.length) + f.suffix);
}

function transferParity(diskRoot: string, fromRel: string, toRel: string, put: (src: string, dest: string) => void): void {
  const from = checkRelPath(fromRel);
  const to = checkRelPath(toRel);
  if (from === to) return;
  const src = parityFiles(diskRoot, from);
  const destStem = parityIndexPath(diskRoot, to).slice(0, -'.par2'.length);
  const moving = new Set(src);
  // A set at `to` is stale; skip files of `from` that happen to match `to`'s pattern (`x.vol0+1` vs `x`).
  for (const old of parityFiles(diskRoot, to)) if (!moving.has(old)) fs.rmSync(old, { force: true });
  if (src.length === 0) return;
  fs.mkdirSync(path.dirname(destStem), { recursive: true });
  const isIndex = (f: string): number => Number(paritySuffix(f, from) === '.par2');
  const pairs = [...src].sort((a, b) => isIndex(a) - isIndex(b)).map((f) => ({ from: f, to: destStem + paritySuffix(f, from) }));
  if (pairs.some((p) => moving.has(p.to))) {
    // A target name is still a source (`x.vol0+1` -> `x`): step aside first so nothing is overwritten early.
    for (const p of pairs) {
      const tmp = `${p.to}.moving-${process.pid}`;
      put(p.from, tmp);
      p.from = tmp;
    }
    put = (a, b) => fs.renameSync(a, b);
  }
  for (const p of pairs) put(p.from, p.to);
}

const COPY_INSTEAD = new Set(['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK', 'ENOSYS']);

/** Hardlinks src to dest (replacing dest); copies where the file system will not link. */
export function linkOrCopy(src: string, dest: string): void {
  const tmp = `${dest}.tmp-${process.pid}`;
  fs.rmSync(tmp, { force: true });
  try {
    fs.linkSync(src, tmp);
  } catch (e) {
    if (!COPY_INSTEAD.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
    fs.copyFileSync(src, tmp);
  }
  fs.renameSync(tmp, dest);
}

/** Removes empty directories from `dir` upwards, stopping below the parity tree's root. */
export function pruneParityDirs(diskRoot: string, dir: string): void {
  const stop = path.resolve(parityDir(diskRoot));
  let d = path.resolve(dir);
  while (d.startsWith(stop + path.sep)) {
    try {
      fs.rmdirSync(d);
    } catch (e) {
      if (!isCode(e, 'ENOENT')) return; // not empty: the directories above are not empty either
    }
    d = path.dirname(d);
  }
}

export function isCode(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as NodeJS.ErrnoException).code === code;
}
