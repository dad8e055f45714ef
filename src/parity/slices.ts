/** Slice sizing for PAR2 sets (SPEC §6). */

/** One bad sector should cost one slice, so slices follow the disk's 4 KiB allocation unit. */
export const SLICE_UNIT = 4096;
export const DEFAULT_MAX_SLICES = 256;
/** PAR2 caps both source and recovery slices at 32768 per set. */
const PAR2_MAX_BLOCKS = 32768;

export interface SlicePlan {
  /** Bytes per slice (`par2 -s`). */
  blockSize: number;
  /** Slices the file is cut into. */
  sourceBlocks: number;
  /** Recovery slices to make (`par2 -c`). */
  recoveryBlocks: number;
}

/**
 * Slices for a file of `size` bytes at `pct` percent redundancy: the smallest multiple of 4 KiB
 * that keeps the file within `maxSlices` slices, and ⌈pct% × slices⌉ (at least one) recovery slices.
 */
export function planSlices(size: number, pct: number, maxSlices = DEFAULT_MAX_SLICES): SlicePlan {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`file size must be a whole number of bytes, not ${size}`);
  if (!Number.isFinite(pct) || pct < 0) throw new RangeError(`parity percentage must be 0 or more, not ${pct}`);
  if (!Number.isInteger(maxSlices) || maxSlices < 1 || maxSlices > PAR2_MAX_BLOCKS) {
    throw new RangeError(`parity slices must be a whole number from 1 to ${PAR2_MAX_BLOCKS}, not ${maxSlices}`);
  }
  const units = Math.max(1, Math.ceil(size / SLICE_UNIT / maxSlices));
  const blockSize = units * SLICE_UNIT;
  const sourceBlocks = Math.max(1, Math.ceil(size / blockSize));
  // Rounding to 12 significant digits first keeps 7% of 100 slices at 7, not 8 (0.07 * 100 = 7.000000000000001).
  const exact = Number(((pct * sourceBlocks) / 100).toPrecision(12));
  const recoveryBlocks = Math.min(PAR2_MAX_BLOCKS, Math.max(1, Math.ceil(exact)));
  return { blockSize, sourceBlocks, recoveryBlocks };
}
