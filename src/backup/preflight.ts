/**
 * What a backup checks before it opens the disk: the rules it runs with, par2, and data paths that
 * do not overlap the disk (SPEC §5, §6).
 */
import fs from 'node:fs';
import { isWithin } from '../fsx/paths.js';
import { par2Available } from '../parity/par2.js';
import { ExclusionError, ExclusionFilter, type Rule } from '../scan/exclude.js';
import { parseSnapraidConf } from '../scan/snapraid-conf.js';
import type { MatchMode } from '../plan/operation.js';
import { BlaineError, EXIT } from '../error.js';

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
export function exclusionFilter(snapraidConf: string | undefined, ordered: Rule[], regexes: string[]): ExclusionFilter | undefined {
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

/** Refuses data paths that hold the disk or lie on it; warns of data paths that are not there. */
export function checkDataPaths(dest: string, roots: string[], warn: (msg: string) => void): void {
  for (const r of roots) {
    if (isWithin(dest, r)) {
      throw new BackupRefused(`the disk ${dest} lies inside the data path ${r}; Blaine would archive its own archive: choose data paths beside the disk`, true);
    }
    if (isWithin(r, dest)) throw new BackupRefused(`the data path ${r} lies on the archive disk ${dest}`, true);
    if (!fs.existsSync(r) || !fs.statSync(r).isDirectory()) warn(`data path ${r} does not exist or is not a directory; nothing under it is archived or removed`);
  }
}
