/** Path helpers every package shares: one order, one notion of "below", one disk-relative form. */

/**
 * Orders paths by their UTF-8 bytes, the order scanRoot returns records in (also SQLite's
 * BINARY collation). JS string comparison agrees except where a character beyond U+FFFF
 * (a surrogate pair) meets one in U+E000..U+FFFF.
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
  if (xs && !ys) return 1;
  if (ys && !xs) return -1;
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
