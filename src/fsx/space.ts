/** Free space on a disk, and sizes in words. (The free-space rule itself: apply/space.ts.) */
import { realFs, type Fsx } from './fsx.js';

/** Bytes an unprivileged writer may still use on the file system holding `path` (root's reserve excluded). */
export function freeBytes(path: string, fs: Fsx): number {
  const st = fs.statfsSync(path, { bigint: true });
  return Number(st.bavail * st.bsize);
}

/** Size of the file system holding `path`, as an unprivileged writer sees it (root's reserve excluded). */
export function capacityBytes(path: string, fs: Fsx): number {
  const st = fs.statfsSync(path, { bigint: true });
  return Number((st.blocks - (st.bfree - st.bavail)) * st.bsize);
}

/**
 * Units: a bare number or B is bytes; K, M, G, T, P (with or without B) are decimal, as disk makers
 * and the SPEC's "10 GB" mean them; KiB, MiB, GiB, TiB, PiB (or Ki, Mi, …) are binary. Case does
 * not matter. Whitespace between number and unit is allowed.
 */
const UNITS: Record<string, bigint> = {
  '': 1n,
  b: 1n,
  k: 10n ** 3n,
  kb: 10n ** 3n,
  m: 10n ** 6n,
  mb: 10n ** 6n,
  g: 10n ** 9n,
  gb: 10n ** 9n,
  t: 10n ** 12n,
  tb: 10n ** 12n,
  p: 10n ** 15n,
  pb: 10n ** 15n,
  ki: 1n << 10n,
  kib: 1n << 10n,
  mi: 1n << 20n,
  mib: 1n << 20n,
  gi: 1n << 30n,
  gib: 1n << 30n,
  ti: 1n << 40n,
  tib: 1n << 40n,
  pi: 1n << 50n,
  pib: 1n << 50n,
};

/**
 * "10G", "10GB", "500M", "1.5T", "4GiB", "4096" → bytes. Fractions are computed exactly in
 * integers ("1.1G" is 1100000000, not 1100000000.0000002) and rounded up to a whole byte.
 */
export function parseBytes(text: string): number {
  const m = /^\s*(\d+)(?:\.(\d+))?\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[3].toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new RangeError(
      `"${text}" is not a size; write a number of bytes with an optional unit, e.g. 4096, 500M, 10GB, 1.5T or 4GiB.`,
    );
  }
  const fraction = m[2] ?? '';
  const scale = 10n ** BigInt(fraction.length);
  const numerator = BigInt(m[1] + fraction) * unit;
  const bytes = (numerator + scale - 1n) / scale;
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`"${text}" is too large a size.`);
  return Number(bytes);
}

/** Bytes for people, in the decimal units parseBytes reads ("1.5 GB"). */
export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${Math.round(n)} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}
