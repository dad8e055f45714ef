/** Walking a tree and tidying it: the one walker and the one empty-directory pruner. */
import type { Dirent } from 'node:fs';
import path from 'node:path';
import type { Fsx } from './fsx.js';

/** Calls onEntry for every non-directory below dir (relative names), directories first walked. */
export function walkFiles(dir: string, prefix: string, skip: (rel: string) => boolean, onEntry: (rel: string, full: string) => void, fs: Fsx): void {
  let ents: Dirent[];
  try {
    ents = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const d of ents) {
    const r = prefix ? `${prefix}/${d.name}` : d.name;
    if (skip(r)) continue;
    const full = path.join(dir, d.name);
    if (d.isDirectory()) walkFiles(full, r, skip, onEntry, fs);
    else onEntry(r, full);
  }
}

/**
 * Removes directories left empty below root, from dir upwards (after a delete or a move, so the disk
 * mirrors the data paths); stops at one that `keep` names (a directory the catalog has a row for: an
 * empty folder of the library stays).
 */
export function pruneEmptyDirs(root: string, fromDir: string, fs: Fsx, keep?: (dir: string) => boolean): void {
  const stop = path.resolve(root);
  let dir = path.resolve(fromDir);
  while (dir.startsWith(stop + path.sep)) {
    if (keep?.(dir)) return;
    try {
      fs.rmdirSync(dir);
    } catch {
      return;
    }
    dir = path.dirname(dir);
  }
}
