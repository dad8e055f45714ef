import { formatBytes, freeBytes, requiredBytes } from '../fsx/space.js';
import type { Fsx } from '../fsx/fsx.js';

const SPACE_RECHECK_COPIES = 256;
const SPACE_RECHECK_MS = 1000;
const SPACE_MARGIN = 64 * 1024 * 1024;
const PER_FILE_ALLOWANCE = 64 * 1024;

/**
 * Free bytes on the disk, from statfs or, between calls, estimated from the last one less what
 * was copied since (with room for each file's blocks, inode and parity files): statfs costs a
 * system call per small file. It is asked again every SPACE_RECHECK_COPIES copies or
 * SPACE_RECHECK_MS, and whenever the estimate comes within SPACE_MARGIN of what a copy needs,
 * so a full disk is always found by statfs itself.
 */
export class SpaceEstimate {
  /** The last statfs, and what was copied since. */
  private readonly last = { free: 0, at: 0, spent: 0, copies: 0 };

  constructor(
    private readonly root: string,
    private readonly fs: Fsx,
  ) {}

  freeFor(need: number): number {
    const s = this.last;
    const estimate = s.free - s.spent - s.copies * PER_FILE_ALLOWANCE;
    if (s.at === 0 || s.copies >= SPACE_RECHECK_COPIES || Date.now() - s.at > SPACE_RECHECK_MS || estimate - need < SPACE_MARGIN) {
      s.free = freeBytes(this.root, this.fs);
      s.at = Date.now();
      s.spent = 0;
      s.copies = 0;
      return s.free;
    }
    return estimate;
  }

  /** A copy took `bytes` (with its parity) since the last statfs. */
  wrote(bytes: number): void {
    this.last.spent += bytes;
    this.last.copies++;
  }
}

/**
 * The space rule before each copy (SPEC §5): the file, its parity and the reserve must fit. Null when
 * they do; otherwise the sentence that stops the run as disk-full.
 */
export function shortfall(
  space: Pick<SpaceEstimate, 'freeFor'>,
  path: string,
  size: number,
  parityPct: number,
  reserve: number,
  stored?: (bytes: number) => number,
): string | null {
  const need = requiredBytes(size, parityPct, reserve, stored);
  const free = space.freeFor(need);
  if (free >= need) return null;
  // Sizes a person reads; the shortfall tells two sizes apart that round alike.
  return `the disk is full: ${path} needs ${formatBytes(need)} with parity and reserve, ${formatBytes(Math.max(0, free))} free (${formatBytes(need - Math.max(0, free))} short)`;
}
