import { nameToBytes } from './name-bytes.js';

/** Path helpers every package shares: one order, one notion of "below", one disk-relative form. */

/**
 * Orders paths by their bytes (name-bytes.ts), the order scanRoot returns records in (also SQLite's
 * BINARY collation of UTF-8 text). JS string comparison agrees except where a character beyond
 * U+FFFF (a surrogate pair) meets one in U+E000..U+FFFF, and where a byte that is not UTF-8 (a
 * lone surrogate) differs: those few are compared by their bytes.
 */
export function comparePaths(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === n) return a.length - b.length;
  const x = a.charCodeAt(i);
  const y = b.charCodeAt(i);
  const xs = x >= 0xd800 && x <= 0xdfff;
  const ys = y >= 0xd800 && y <= 0xdfff;
  if (xs && ys && (x >= 0xdc00 || y >= 0xdc00)) return Buffer.compare(nameToBytes(a), nameToBytes(b));
  if (xs && !ys) return y >= 0x80 && x >= 0xdc80 && x <= 0xdcff ? Buffer.compare(nameToBytes(a), nameToBytes(b)) : 1;
  if (ys && !xs) return x >= 0x80 && y >= 0xdc80 && y <= 0xdcff ? Buffer.compare(nameToBytes(a), nameToBytes(b)) : -1;
  return x - y;
}

/** Orders catalog entries and records by path, as comparePaths does. */
export function byPath(a: { path: string }, b: { path: string }): number {
  return comparePaths(a.path, b.path);
}

/** True when `p` lies strictly below directory `dir` (every absolute path lies below '/'). */
export function isUnder(p: string, dir: string): boolean {
  return p !== dir && p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

/** True when `p` is `dir` itself or lies below it. */
export function isWithin(p: string, dir: string): boolean {
  return p === dir || isUnder(p, dir);
}

/** An absolute source path as a path relative to a disk's root ("/mnt/a" → "mnt/a"): where it is stored. */
export function diskRelative(p: string): string {
  return p.replace(/^\/+/, '');
}
