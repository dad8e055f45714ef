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
  /**
   * A small file's set is one `.par2` file: its recovery file, which carries the description too,
   * installed under the index's name (an index file of its own would cost a whole block more).
   */
  single: boolean;
}

/**
 * Below this size a file's parity is the SPEC §6 exception: slices of any multiple of 4 bytes,
 * chosen for the fewest disk blocks, and one `.par2` file.
 */
export const SMALL_SET_BYTES = 256 * 1024;
/** The allocation unit the small-file plan minimises; ext4's and tmpfs's block (and gocryptfs's). */
export const DISK_BLOCK = 4096;
/** A recorded name's length when the caller does not know it (it is repeated in the set's description). */
const TYPICAL_NAME_BYTES = 128;

/**
 * Slices for a file of `size` bytes at `pct` percent redundancy: the smallest multiple of 4 KiB
 * that keeps the file within `maxSlices` slices, and ⌈pct% × slices⌉ (at least one) recovery slices.
 * Files below SMALL_SET_BYTES have a one-file set, with one slice of the whole file (a multiple
 * of 4 bytes: a tiny file is rebuilt whole from one block of parity) when that takes no more disk
 * blocks than the 4 KiB slices.
 */
export function planSlices(size: number, pct: number, maxSlices = DEFAULT_MAX_SLICES, nameBytes = TYPICAL_NAME_BYTES): SlicePlan {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`file size must be a whole number of bytes, not ${size}`);
  if (!Number.isFinite(pct) || pct < 0) throw new RangeError(`parity percentage must be 0 or more, not ${pct}`);
  if (!Number.isInteger(maxSlices) || maxSlices < 1 || maxSlices > PAR2_MAX_BLOCKS) {
    throw new RangeError(`parity slices must be a whole number from 1 to ${PAR2_MAX_BLOCKS}, not ${maxSlices}`);
  }
  if (size < SMALL_SET_BYTES) return planSmall(size, pct, maxSlices, nameBytes);
  return planSectorSlices(size, pct, maxSlices);
}

/** The plan of files from SMALL_SET_BYTES up, for any size: slices of a multiple of 4 KiB, two files. */
export function planSectorSlices(size: number, pct: number, maxSlices = DEFAULT_MAX_SLICES): SlicePlan {
  const units = Math.max(1, Math.ceil(size / SLICE_UNIT / maxSlices));
  return sliced(size, pct, units * SLICE_UNIT, false);
}

function sliced(size: number, pct: number, blockSize: number, single: boolean): SlicePlan {
  const sourceBlocks = Math.max(1, Math.ceil(size / blockSize));
  // Rounding to 12 significant digits first keeps 7% of 100 slices at 7, not 8 (0.07 * 100 = 7.000000000000001).
  const exact = Number(((pct * sourceBlocks) / 100).toPrecision(12));
  const recoveryBlocks = Math.min(PAR2_MAX_BLOCKS, Math.max(1, Math.ceil(exact)));
  return { blockSize, sourceBlocks, recoveryBlocks, single };
}

function planSmall(size: number, pct: number, maxSlices: number, nameBytes: number): SlicePlan {
  // One slice of the whole file (rounded to 4 bytes), which rebuilds it from nothing; or the 4 KiB
  // slices of larger files, so that a lost sector (or a gocryptfs block that no longer decrypts)
  // costs one slice. Either way one file: the index of its own would cost a block more.
  const whole = sliced(size, pct, Math.max(4, 4 * Math.ceil(size / 4)), true);
  const sectors = { ...planSectorSlices(size, pct, maxSlices), single: true };
  const blocks = (p: SlicePlan) => Math.ceil(setFileBytes(p, nameBytes).recovery / DISK_BLOCK);
  return blocks(whole) <= blocks(sectors) ? whole : sectors;
}

/** PAR2 packet header: magic, length, MD5, set id, type. */
const PACKET_HEADER = 64;
/** Blaine's creator packet body (native/par2create.c CREATOR, padded to 4). */
const CREATOR_BODY = 32;

/**
 * The sizes of the two files Blaine's creator writes for a plan (native/par2create.c `layout`):
 * the index holds the set's description (main, file description, slice checksums) and the creator
 * packet; the recovery file holds the recovery slices with 1 + ⌊log2 recovery⌋ copies of the
 * description (at most 16) between them. par2cmdline's files differ by a few packets.
 */
export function setFileBytes(plan: SlicePlan, nameBytes: number): { index: number; recovery: number } {
  const main = PACKET_HEADER + 12 + 16;
  const desc = PACKET_HEADER + 56 + 4 * Math.ceil(nameBytes / 4);
  const ifsc = PACKET_HEADER + 16 + 20 * plan.sourceBlocks;
  const creator = PACKET_HEADER + CREATOR_BODY;
  const critical = main + desc + ifsc;
  let copies = 1;
  while (copies < 16 && 2 ** copies <= plan.recoveryBlocks) copies++;
  const recovery = plan.recoveryBlocks * (PACKET_HEADER + 4 + plan.blockSize) + copies * critical + creator;
  return { index: critical + creator, recovery };
}

/**
 * What a file's parity set takes on the disk, in bytes of whole blocks (`block`), each of its files
 * first turned into what the disk's file system stores for it (`stored`: more on an encrypted disk).
 */
export function parityDiskBytes(size: number, pct: number, maxSlices: number, block: number, stored: (n: number) => number = (n) => n, nameBytes = TYPICAL_NAME_BYTES): number {
  if (size === 0) return 0;
  const plan = planSlices(size, pct, maxSlices, nameBytes);
  const files = setFileBytes(plan, nameBytes);
  const onDisk = (n: number) => block * Math.ceil(stored(n) / block);
  return plan.single ? onDisk(files.recovery) : onDisk(files.index) + onDisk(files.recovery);
}
