/**
 * What a restore takes from the mounted disk, and the check that none of it would be written back
 * onto that disk (a restore only reads the disk).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Catalog } from '../catalog/catalog.js';
import type { CatalogEntry } from '../catalog/entry.js';
import { isWithin } from '../fsx/paths.js';
import { restoreTarget } from './restore.js';

/** The path with symlinks resolved as far as it exists (the rest appended), to compare locations. */
export function realish(p: string): string {
  let head = path.resolve(p);
  const tail: string[] = [];
  for (;;) {
    try {
      return path.join(fs.realpathSync(head), ...tail);
    } catch {
      const up = path.dirname(head);
      if (up === head) return path.join(head, ...tail);
      tail.unshift(path.basename(head));
      head = up;
    }
  }
}

/** The entries of `volume` in the disk catalog `catalogFile` that match the globs (read from a copy, the disk is only read). */
export function matchingEntries(catalogFile: string, globs: string[], volume: string): CatalogEntry[] {
  const catalog = Catalog.openCopy(catalogFile);
  try {
    return catalog.matching(globs, [volume]);
  } finally {
    catalog.close();
  }
}

/** The first entry whose restore target under `to` resolves onto the disk (--to above the disk), or undefined. */
export function landingOnDisk(to: string, entries: CatalogEntry[], realDisk: string): CatalogEntry | undefined {
  return entries.find((e) => isWithin(realish(restoreTarget(to, e.path)), realDisk));
}
