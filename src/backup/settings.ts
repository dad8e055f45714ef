/**
 * Which reserve and parity a backup uses. A disk remembers what `--init` was given
 * (volume.json's settings), so that a daily command need not repeat it: the command line wins,
 * then the disk, then a config file, then the default.
 */
import { readVolume, type DiskSettings } from '../archive/volume.js';
import { type Fsx } from '../fsx/fsx.js';

/** 10 GB, or 2% of the disk when that is less: a 64 MB disk keeps 1.3 MB free, not more than it holds. */
export const DEFAULT_RESERVE = 10e9;
const DEFAULT_RESERVE_SHARE = 0.02;

export function defaultReserve(dest: string, fs: Fsx): number {
  try {
    const st = fs.statfsSync(dest);
    return Math.min(DEFAULT_RESERVE, Math.floor(st.blocks * st.bsize * DEFAULT_RESERVE_SHARE));
  } catch {
    return DEFAULT_RESERVE;
  }
}

/** Where a setting came from: commander's value sources, reduced to what decides here. */
export type SettingSource = 'cli' | 'config' | 'default';

export interface ChosenSettings {
  reserve: number;
  /** Percent; 0: no parity. */
  parity: number;
  /** Which settings came from the disk, for the log. */
  fromDisk: string[];
  /** For --init: what the command line gave, for the disk to remember (a config repeats itself). */
  remember: DiskSettings;
}

/** The disk's remembered settings; none for a disk that is not (yet) a Blaine disk: the run says why. */
export function rememberedSettings(dest: string, fsx: Fsx): DiskSettings {
  try {
    return readVolume(dest, fsx).settings ?? {};
  } catch {
    return {};
  }
}

export function chooseSettings(
  given: { reserve: number | undefined; reserveFrom: SettingSource; parity: number; parityFrom: SettingSource },
  disk: DiskSettings,
  dest: string,
  fs: Fsx,
): ChosenSettings {
  const fromDisk: string[] = [];
  let reserve: number;
  if (given.reserveFrom === 'cli' && given.reserve !== undefined) reserve = given.reserve;
  else if (disk.reserve !== undefined) {
    reserve = disk.reserve;
    fromDisk.push('reserve');
  } else reserve = given.reserveFrom === 'config' && given.reserve !== undefined ? given.reserve : defaultReserve(dest, fs);
  let parity = given.parity;
  if (given.parityFrom !== 'cli' && disk.parity !== undefined) {
    parity = disk.parity;
    fromDisk.push('parity');
  }
  const remember: DiskSettings = {};
  if (given.reserveFrom === 'cli' && given.reserve !== undefined) remember.reserve = given.reserve;
  if (given.parityFrom === 'cli') remember.parity = given.parity;
  return { reserve, parity, fromDisk, remember };
}
