import type { CatalogEntry } from '../catalog/entry.js';
import type { FileRecord } from '../scan/record.js';
import type { PlanOptions } from './operation.js';

/**
 * Tells apart the records a backup must plan together with the catalog (SPEC §5's decisions that
 * look beyond the record itself) from those that are simply new content, which can be planned and
 * applied a chunk at a time: a first backup of a million files then never holds a million records,
 * operations and rows at once.
 *
 * A record is related when anything the planner weighs could tie it to another path: a catalogued
 * row at its path (changed in place, replaced, renamed away) or at its inode (a rename, a move, a
 * new hardlink: a move across the whole tree is found, whichever chunk holds either end); other
 * names of its inode in the data path (nlink > 1); a catalogued path above it or below it (a kind
 * change between file and directory); with `--match-mode size-mtime`, a catalogued size and mtime.
 * Everything else is new content at a path nobody has, whose only question (is this content
 * stored already?) the catalog answers by itself. Pure.
 */
export function relatedTo(entries: readonly CatalogEntry[], options: Pick<PlanOptions, 'matchMode'>): (r: FileRecord) => boolean {
  const paths = new Set<string>();
  const inodes = new Set<string>();
  const dirs = new Set<string>();
  const sizeMtimes = new Set<string>();
  const bySizeMtime = options.matchMode === 'size-mtime';
  for (const e of entries) {
    paths.add(e.path);
    if (e.inode !== null) inodes.add(e.inode);
    for (let i = e.path.lastIndexOf('/'); i > 0; i = e.path.lastIndexOf('/', i - 1)) dirs.add(e.path.slice(0, i));
    if (bySizeMtime) sizeMtimes.add(`${e.kind}:${e.size}:${e.mtimeSec}:${e.mtimeNsec}`);
  }
  return (r) => {
    if (r.nlink > 1 || paths.has(r.path) || inodes.has(r.inode) || dirs.has(r.path)) return true;
    if (bySizeMtime && sizeMtimes.has(`${r.kind}:${r.size}:${r.mtimeSec}:${r.mtimeNsec}`)) return true;
    if (paths.size === 0) return false;
    for (let i = r.path.lastIndexOf('/'); i > 0; i = r.path.lastIndexOf('/', i - 1)) if (paths.has(r.path.slice(0, i))) return true;
    return false;
  };
}
