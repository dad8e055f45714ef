/**
 * Repairing from a disk that must not be written (restore, browsing).
 *
 * repairTo stages its work in `<disk>/.blaine/tmp` whenever the disk is writable, so even a
 * restore would write to the archive disk. Here par2 works on copies instead: a throwaway
 * "disk root" is made in a writable directory of the caller's choice, holding the damaged data
 * (when there is any) under the file's path and copies of its parity files in the parity tree,
 * and repairTo runs against that root. The archive disk is only read.
 */
import path from 'node:path';
import { repairTo, type RunOptions } from './par2.js';
import { checkRelPath, parityStem, paritySuffix } from './paths.js';
import { realFs as fs } from '../fsx/fsx.js';

export interface RepairCopyOptions extends RunOptions {
  /** The set's parity files where they are (on the disk); they are copied, never touched. */
  parityFiles: string[];
  /** The data file's path below the disk root: the parity files are named after it. */
  relPath: string;
  /** The name the set was made for (the catalog's parityName). */
  parityName: string;
  /** The damaged data, already outside the disk; null when the file itself is lost. Left as it is. */
  damagedCopy: string | null;
  /** A writable directory for the scratch root; on the same file system as damagedCopy saves a copy. */
  scratchParent: string;
  /** Where the repaired file goes (replaced if it exists). */
  outPath: string;
}

/** Resolves true when outPath holds the repaired file, false when par2 cannot repair it. */
export async function repairFromCopy(o: RepairCopyOptions): Promise<boolean> {
  const rel = checkRelPath(o.relPath);
  if (o.parityFiles.length === 0) return false;
  fs.mkdirSync(o.scratchParent, { recursive: true });
  const root = fs.mkdtempSync(path.join(o.scratchParent, '.blaine-repair-'));
  try {
    if (o.damagedCopy !== null) {
      const data = path.join(root, rel);
      fs.mkdirSync(path.dirname(data), { recursive: true });
      // Straight to its name (the scratch root is private): a passing name would not fit a 255-byte name.
      try {
        fs.linkSync(o.damagedCopy, data);
      } catch {
        fs.copyFileSync(o.damagedCopy, data);
      }
    }
    const stem = parityStem(root, rel);
    fs.mkdirSync(path.dirname(stem), { recursive: true });
    // Copies, not links: par2 only reads parity, but a copy makes "the disk is not written" hold by construction.
    for (const f of o.parityFiles) fs.copyFileSync(f, stem + paritySuffix(f, rel));
    return await repairTo(root, rel, o.parityName, o.outPath, o);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
