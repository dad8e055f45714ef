/**
 * What a backup checks before it opens the disk: the rules it runs with, par2, and data paths that
 * do not overlap the disk (SPEC §5, §6).
 */
import path from 'node:path';
import { isWithin } from '../fsx/paths.js';
import { par2Available } from '../parity/par2.js';
import { ExclusionError, ExclusionFilter, type Rule } from '../scan/exclude.js';
import { parseSnapraidConf } from '../scan/snapraid-conf.js';
import type { MatchMode } from '../plan/operation.js';
import { BlaineError, EXIT } from '../error.js';
import type { Fsx } from '../fsx/fsx.js';

export const MATCH_MODES: MatchMode[] = ['inode', 'size-mtime', 'path-size-mtime', 'strict'];

/** A backup refused before it starts; `usage`: the request itself is wrong (exit 2), else exit 1. */
export class BackupRefused extends BlaineError {
  constructor(
    message: string,
    readonly usage: boolean,
  ) {
    super(message, usage ? EXIT.usage : EXIT.error);
    this.name = 'BackupRefused';
  }
}

/**
 * The exclusion filter: a SnapRAID config's rules first, then the given ordered rules, and the
 * regular expressions; undefined when there are none.
 */
export function exclusionFilter(snapraidConf: string | undefined, ordered: Rule[], regexes: string[], fs: Fsx): ExclusionFilter | undefined {
  const rules: Rule[] = [];
  if (snapraidConf) {
    let text: string;
    try {
      text = fs.readFileSync(snapraidConf, 'utf8');
    } catch {
      throw new ExclusionError(`cannot read the SnapRAID config ${snapraidConf}`);
    }
    rules.push(...parseSnapraidConf(text));
  }
  rules.push(...ordered);
  if (rules.length === 0 && regexes.length === 0) return undefined;
  return new ExclusionFilter(rules, regexes);
}

/** par2 (or the configured creator) must run before anything is written (SPEC §6). */
export function requirePar2(par2Command: string[] | undefined): void {
  if (par2Available(par2Command ? { command: par2Command } : undefined)) return;
  throw new BackupRefused(
    `${par2Command ? par2Command.join(' ') : 'par2'} is not installed; install it (Debian: apt-get install par2) or pass --no-parity`,
    false,
  );
}

/** The path with every symlink resolved; itself when it does not exist (yet). */
function realOrSelf(p: string, fs: Fsx): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

/** True when a directory rule keeps the scan out of `rel` (relative to the data path) or a folder above it. */
function excludedDir(filter: ExclusionFilter | undefined, rel: string): boolean {
  if (!filter) return false;
  const parts = rel.split(path.sep);
  for (let i = 1; i <= parts.length; i++) if (filter.excludesDir(parts.slice(0, i).join('/'))) return true;
  return false;
}

/** Mount points below `dir` (from /proc/self/mountinfo; none where it cannot be read). */
function mountPointsBelow(dir: string, fs: Fsx): string[] {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const unescape = (f: string) => f.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
  return text
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((m): m is string => m !== undefined)
    .map(unescape)
    .filter((m) => m !== dir && isWithin(m, dir));
}

/** The folder's device and inode, or null. */
function idOf(p: string, fs: Fsx): string | null {
  try {
    const st = fs.statSync(p);
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

/**
 * Where the disk's root is mounted again inside the data path (a bind mount): the same device and
 * inode as the disk, at another path. Null when it is not.
 */
function diskMountedInside(dest: string, root: string, filter: ExclusionFilter | undefined, fs: Fsx): string | null {
  const disk = idOf(dest, fs);
  if (disk === null) return null;
  for (const m of mountPointsBelow(root, fs)) {
    if (idOf(m, fs) === disk && !excludedDir(filter, path.relative(root, m))) return m;
  }
  return null;
}

/**
 * Refuses data paths that hold the disk or lie on it, as named and with every symlink resolved
 * (a disk reached through a link, SPEC §5), unless an exclusion rule keeps the scan out of the
 * disk's folder (`--exclude /disk/`). Returns the data paths that are not there (or not folders).
 */
export function checkDataPaths(dest: string, roots: string[], fs: Fsx, filter?: ExclusionFilter): string[] {
  const missing: string[] = [];
  const realDest = realOrSelf(dest, fs);
  for (const r of roots) {
    const realRoot = realOrSelf(r, fs);
    for (const [d, root] of [[dest, r], [realDest, realRoot]] as const) {
      if (isWithin(d, root) && !(d !== root && excludedDir(filter, path.relative(root, d)))) {
        const via = d === dest ? '' : ` (${dest} leads to ${d})`;
        const rel = d === root ? '' : `, or exclude its folder with \`--exclude /${path.relative(root, d)}/\``;
        throw new BackupRefused(
          `the disk ${dest} lies inside the data path ${r}${via}; Blaine would archive its own archive: choose data paths beside the disk${rel}`,
          true,
        );
      }
      if (isWithin(root, d)) throw new BackupRefused(`the data path ${r} lies on the archive disk ${dest}${d === dest ? '' : ` (${dest} leads to ${d})`}`, true);
    }
    // The same folder at another path: compared by device and inode.
    const again = diskMountedInside(dest, realRoot, filter, fs);
    if (again !== null) {
      throw new BackupRefused(
        `the disk ${dest} is mounted again at ${again}, inside the data path ${r}; Blaine would archive its own archive: ` +
          `unmount it there, or exclude its folder with \`--exclude /${path.relative(realRoot, again)}/\``,
        true,
      );
    }
    if (!fs.existsSync(r) || !fs.statSync(r).isDirectory()) missing.push(r);
  }
  return missing;
}
