/**
 * The check that nothing a restore writes would land on the disk it reads (a restore only reads
 * the disk).
 */
import path from 'node:path';
import type { CatalogEntry } from '../catalog/entry.js';
import { isWithin } from '../fsx/paths.js';
import type { Fsx } from '../fsx/fsx.js';

/** The path with symlinks resolved as far as it exists (the rest appended), to compare locations. */
export function realish(p: string, fs: Fsx): string {
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

/** The first entry whose restore target under `to` resolves onto the disk (--to above the disk), or undefined. */
export function landingOnDisk(to: string, entries: CatalogEntry[], realDisk: string, fs: Fsx): CatalogEntry | undefined {
  // Per folder, not per file: a million rows lie in far fewer folders, and realpath is a system call per component.
  const seen = new Set<string>();
  return entries.find((e) => {
    const dir = path.dirname(e.path);
    if (seen.has(dir)) return false;
    seen.add(dir);
    return isWithin(realish(path.join(to, dir), fs), realDisk);
  });
}
