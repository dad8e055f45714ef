/**
 * What a restore produces: the host catalog's current view of the matching paths (SPEC §8,
 * "Restore gives back the archive, not a disk"), with every row checked before it is used.
 *
 * The host catalog names each path as it is now, whichever disk holds its content and under
 * whatever name that disk still keeps it (a RENAME or LINK deferred for an offline disk changes
 * the host row at once, the disk later). A path whose DELETE is queued has no host row, so it is
 * not part of the view; an old version that a disk still holds is never a row of it. Catalogs can come from a disk
 * (rebuild-catalog), so every path is validated: absolute, normalised, no NUL.
 */
import type { Catalog } from '../catalog/catalog.js';
import type { CatalogEntry } from '../catalog/entry.js';
import { currentDirs } from '../dirs/current.js';

/** Why a catalog path cannot be used as a place to write (or read) a file, or null when it can. */
export function badPath(p: string): string | null {
  if (typeof p !== 'string' || p.length === 0) return 'it is empty';
  if (p.includes('\0')) return 'it holds a NUL byte';
  if (!p.startsWith('/')) return 'it is not absolute';
  if (p === '/') return 'it is the root directory';
  if (p.endsWith('/') || p.includes('//')) return 'it is not normalised';
  for (const part of p.slice(1).split('/')) {
    if (part === '..' || part === '.') return `it holds a "${part}" component`;
  }
  return null;
}

export interface ArchiveView {
  /** The paths to restore, in path order, one row per path. */
  rows: CatalogEntry[];
  /** The directories to restore (matching, or holding a row to restore), parents first. */
  dirs: CatalogEntry[];
  /** Rows below a path that is now a file or symlink (the folder was replaced): not part of the library. */
  shadowed: CatalogEntry[];
  /** Rows whose path cannot be used, with the reason. */
  rejected: Array<{ path: string; why: string }>;
}

/** The host catalog's current view of the paths matching `globs`. */
export function archiveView(host: Catalog, globs: string[]): ArchiveView {
  // A queued DELETE is not looked at: queuing it removed the host's row for its path (the old
  // version lives on only in its disk's catalog), so a row the host has for that path now is the
  // path made again later, whether the action that made it is still queued or was applied already
  // (a visit applies a RENAME onto the path at once while the DELETE of the old version is held).
  const rejected: ArchiveView['rejected'] = [];
  const byPath = new Map<string, CatalogEntry>();
  for (const e of host.matching(globs)) {
    const why = badPath(e.path) ?? (e.kind === 'symlink' && (e.linkTarget ?? '').includes('\0') ? 'its symlink target holds a NUL byte' : null);
    if (why !== null) {
      rejected.push({ path: e.path, why });
      continue;
    }
    if (!byPath.has(e.path)) byPath.set(e.path, e);
  }
  // A path below a file or symlink of the catalog (a folder replaced by a link, say) is no longer
  // in the library: restoring it would write through that link.
  const isNonDir = new Map<string, boolean>();
  const shadowedBy = (p: string): boolean => {
    for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) {
      const dir = p.slice(0, i);
      let known = isNonDir.get(dir);
      if (known === undefined) {
        const row = byPath.get(dir);
        known = (row !== undefined && (row.kind === 'file' || row.kind === 'symlink')) || host.holdsNonDirAt(dir);
        isNonDir.set(dir, known);
      }
      if (known) return true;
    }
    return false;
  };
  const rows: CatalogEntry[] = [];
  const shadowed: CatalogEntry[] = [];
  for (const e of byPath.values()) (shadowedBy(e.path) ? shadowed : rows).push(e);
  rows.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const current = currentDirs(host);
  const wanted = new Set(host.matching(globs, [], 'dirs').map((e) => e.path));
  for (const e of rows) {
    for (let i = e.path.lastIndexOf('/'); i > 0; i = e.path.lastIndexOf('/', i - 1)) wanted.add(e.path.slice(0, i));
  }
  const dirs: CatalogEntry[] = [];
  for (const [p, e] of current) {
    if (!wanted.has(p)) continue;
    const why = badPath(p);
    if (why !== null) rejected.push({ path: p, why });
    else if (!shadowedBy(p) && !isNonDir.get(p) && !host.holdsNonDirAt(p)) dirs.push(e);
  }
  dirs.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { rows, dirs, shadowed, rejected };
}
