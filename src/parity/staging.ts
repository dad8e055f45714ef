/**
 * The scratch directories par2 runs in (see par2.ts for why): made on the disk or beside the
 * output, filled with links to the data and parity files, emptied and removed afterwards.
 */
import path from 'node:path';
import { fsError, ParityError } from './errors.js';
import { checkRelPath, isCode, paritySuffix, SCRATCH_PREFIX, scratchDir } from './paths.js';
import { rescueCopy } from './rescue.js';
import { hardLink, realFs as fs } from '../fsx/fsx.js';

/**
 * Runs `body` in a scratch directory holding `d/<parityName>` (a link to the data file, when it
 * exists) and this set's parity files as `p.par2`, `p.vol+.par2`. The scratch directory is on
 * the disk when it is writable (hardlinks, and a repaired file renames into place for free),
 * otherwise under `fallbackParent`, with symlinks.
 */
export async function withStaged<T>(
  root: string,
  rel: string,
  parityName: string,
  files: string[],
  fallbackParent: string,
  rescue: boolean,
  body: (scratch: string, base: string, main: string) => Promise<T>,
): Promise<T> {
  const name = checkRelPath(parityName, 'parity name');
  const scratch = makeScratch(root, rel, fallbackParent);
  try {
    const base = path.join(scratch, 'd');
    const dataPath = path.join(root, rel);
    if (!fs.existsSync(dataPath)) fs.mkdirSync(base);
    else if (rescue) rescueCopy(dataPath, path.join(base, name));
    else stageFile(dataPath, path.join(base, name));
    const staged = files.map((f) => `p${paritySuffix(f, rel)}`);
    for (const [i, f] of files.entries()) stageFile(f, path.join(scratch, staged[i]!));
    // The index when there is one; a recovery file alone is a complete set too.
    return await body(scratch, base, staged[0]!);
  } finally {
    removeScratch(scratch);
  }
}

/**
 * Runs a par2 step on the file as it is, and once more on a rescued copy when par2 could not read
 * it: an unreadable sector, or on an encrypted disk a 4 KiB block whose ciphertext rotted
 * (gocryptfs answers EIO), would otherwise stop par2 before it repairs anything.
 */
export async function retryRescued<T>(rel: string, step: (rescue: boolean) => Promise<T>): Promise<T> {
  try {
    return await step(false);
  } catch (e) {
    if (!(e instanceof ParityError) || !UNREADABLE.test(e.message)) throw e;
    return await step(true);
  }
}

/** How par2 0.8.1 reports a data file it cannot read. */
const UNREADABLE = /Could not read \d+ bytes from .*: Input\/output error/;
const READ_ONLY = new Set(['EROFS', 'EACCES', 'EPERM']);

/** A fresh scratch directory on the disk; `fallbackParent` is used when the disk is read-only. */
export function makeScratch(root: string, rel: string, fallbackParent?: string): string {
  const dir = scratchDir(root);
  try {
    try {
      return fs.mkdtempSync(path.join(dir, SCRATCH_PREFIX));
    } catch (e) {
      if (!isCode(e, 'ENOENT')) throw e;
      fs.mkdirSync(dir, { recursive: true });
      return fs.mkdtempSync(path.join(dir, SCRATCH_PREFIX));
    }
  } catch (e) {
    // A disk mounted read-only (browsing, restore) can still be verified and repaired from.
    if (fallbackParent === undefined || !READ_ONLY.has((e as NodeJS.ErrnoException).code ?? '')) {
      throw fsError(e, `cannot make a scratch directory for ${rel}`);
    }
    try {
      fs.mkdirSync(fallbackParent, { recursive: true });
      return fs.mkdtempSync(path.join(fallbackParent, `.blaine-${SCRATCH_PREFIX}`));
    } catch (e2) {
      throw fsError(e2, `cannot make a scratch directory for ${rel}`);
    }
  }
}

/** After a successful create the scratch directory is already empty: one rmdir instead of a tree walk. */
export function removeScratch(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Puts `target` at `at` as a hardlink, or as a symlink where hardlinks cannot be made. */
export function stageFile(target: string, at: string): void {
  fs.mkdirSync(path.dirname(at), { recursive: true });
  try {
    hardLink(target, at);
  } catch (e) {
    if (isCode(e, 'ENOSPC')) throw fsError(e, `cannot stage ${target} for par2`);
    // par2 reads through a symlink, and a repair renames the link itself to NAME.1.
    fs.symlinkSync(target, at);
  }
}

export function sameFile(a: string, b: string): boolean {
  try {
    const sa = fs.lstatSync(a);
    if (sa.isSymbolicLink()) return true;
    const sb = fs.statSync(b);
    return sa.ino === sb.ino && sa.dev === sb.dev;
  } catch {
    return false;
  }
}

export function emptyFile(p: string): boolean {
  try {
    const st = fs.lstatSync(p);
    return st.isFile() && st.size === 0;
  } catch {
    return false;
  }
}

/** Writes `from` (moved when possible) or else a copy of `copyOf` to out, under a temporary name first. */
export function writeOut(from: string | null, copyOf: string, out: string): void {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.blaine-tmp-${process.pid}`;
  try {
    let moved = false;
    if (from !== null) {
      try {
        fs.renameSync(from, tmp);
        moved = true;
      } catch (e) {
        if (!isCode(e, 'EXDEV')) throw e;
      }
    }
    if (!moved) fs.copyFileSync(from ?? copyOf, tmp);
    fs.renameSync(tmp, out);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw fsError(e, `cannot write the repaired file ${out}`);
  }
}
