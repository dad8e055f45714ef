/**
 * Verifying a disk against its own catalog, and fixing what can be fixed from the disk itself.
 *
 * What is compared (always): every catalogued path is there with its kind, size, mtime and symlink
 * target; nothing else is on the disk (outside `.blaine`, and `lost+found` at the root); every
 * non-empty file that should have parity has a complete set, and no parity file is left without
 * its file. With `checksum`, files are also read and their SHA-256 compared, least recently verified
 * first, and their parity files are read to check PAR2's own packet checksums.
 *
 * Decisions worth knowing:
 * - Names hardlinked together share one inode and so one mtime, while the catalog keeps each
 *   name's own: the mtime of an inode that holds more than one catalogued name is not checked.
 *   Content is read once per inode and the result holds for every name on it.
 * - Damage that parity can repair is reported as `checksum` (or `size`), damage it cannot as
 *   `unrepairable`: without `fix` par2 is asked (verify only) so the report says which is which.
 * - A repair writes the repaired bytes into the damaged inode (only the chunks that differ), so
 *   every name hardlinked to it is repaired at once and stays linked. This is not atomic, but each
 *   chunk only ever goes from damaged to correct, and the parity is not touched, so an interrupted
 *   repair leaves a file no worse than before that the next run repairs again.
 * - Nothing is ever changed on the strength of an unread file: fixing an mtime, or making parity,
 *   first checks the file's SHA-256 (also without `checksum`), since new parity made from damaged
 *   data would make the damage permanent and a corrected mtime would hide a changed file.
 * - A missing file is not copied again from the data paths (that is the next backup's job), but
 *   with `fix` it is given back when the disk itself still holds its content: hardlinked to
 *   another catalogued name with the same SHA-256 (as backup stores duplicates), or rebuilt from its
 *   parity when that covers the whole file (small files). A missing symlink or empty file is made
 *   again from the catalog, which holds all of it.
 * - `no-parity`: a non-empty file whose catalog row has no parity, reported only when the volume
 *   has parity for other files (a disk written with --no-parity is not expected to have any);
 *   `fix` makes it at `parityPct`.
 */
import type { VerifyOptions, VerifyResult } from './types.js';
import { VerifyRepairs } from './repair.js';
import { fixFolders, folderProblems } from '../dirs/verify.js';

export async function verifyDisk(o: VerifyOptions): Promise<VerifyResult> {
  return new Verifier(o).run();
}

class Verifier extends VerifyRepairs {
  async run(): Promise<VerifyResult> {
    // Folders are looked at before any repair writes into them, and set last (dirs/verify.ts).
    const folders = folderProblems(this.o.root, this.o.volume, this.o.disk, this.fs);
    try {
      this.compare();
      await this.hashScheduled();
      if (!this.stopped()) await this.judgeDamagedContent();
      if (this.o.fix && !this.stopped()) await this.fixMissing();
      // Looking for a twin of a lost file may have read, and found damaged, more inodes.
      if (this.o.fix && !this.stopped()) await this.judgeDamagedContent();
      if (this.o.fix && !this.stopped()) await this.fixMetadata();
      if (this.o.fix && !this.stopped()) this.dropStrays();
      if (this.o.fix && !this.stopped()) await this.rebuildParity();
      if (this.o.fix && !this.stopped()) fixFolders({ ...this.o, fs: this.fs }, folders);
    } finally {
      await this.pool?.abort();
      this.flush();
      // Left open when a step failed half-way (the batch was not committed): the next run recovers it.
      this.journal?.close();
    }
    this.problems.push(...folders);
    this.problems.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0));
    return {
      problems: this.problems,
      compared: this.items.length,
      checked: this.checked.size,
      remaining: this.remaining,
      interrupted: this.interrupted,
    };
  }
}

export type { Problem, ProblemKind, VerifyOptions, VerifyResult } from './types.js';
