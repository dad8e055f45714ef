/**
 * A restore's directories (SPEC §3): each comes back with its mode, owner and mtime, empty ones
 * included. They are made before any file (RestoreTarget.dirAt: never wider than their own mode)
 * and get their exact metadata after everything inside them was written, deepest first — writing
 * into a directory changes its mtime, setting a child's does not. Every run does it again, so a
 * restore spread over several disks, resumed, or with --missing-only ends with them right.
 */
import type { BigIntStats } from '../fsx/fsx.js';
import type { CatalogEntry } from '../catalog/entry.js';
import { isRoot, type Fsx } from '../fsx/fsx.js';
import { mtimeNsOf, BlockedPath, type RestoreTarget } from './target.js';

/** Makes every directory of the view in the target (parents first); `blocked` hears of each that cannot be. */
export function makeDirs(target: RestoreTarget, dirs: CatalogEntry[], blocked: (e: CatalogEntry, message: string) => void): void {
  for (const e of dirs) {
    try {
      target.dirAt(e.path, true);
    } catch (err) {
      if (!(err instanceof BlockedPath)) throw err;
      blocked(e, err.message);
    }
  }
}

/** Gives each directory the target holds its catalogued mode, owner and mtime, deepest first. */
export function settleDirs(target: RestoreTarget, dirs: CatalogEntry[], fs: Fsx): void {
  for (let i = dirs.length - 1; i >= 0; i--) {
    const e = dirs[i]!;
    const where = target.pathOf(e.path);
    // Only folders this run checked as real ones inside the target: never through a link.
    if (!target.isCheckedDir(where)) continue;
    const st = fs.lstatSync(where, { bigint: true }) as BigIntStats;
    if (!st.isDirectory()) continue;
    if (Number(st.mode & 0o7777n) !== (e.mode & 0o7777)) fs.chmodSync(where, e.mode & 0o7777);
    if (isRoot && (Number(st.uid) !== e.uid || Number(st.gid) !== e.gid)) fs.lchownSync(where, e.uid, e.gid);
    if (st.mtimeNs !== mtimeNsOf(e)) fs.setMtime(where, e.mtimeSec, e.mtimeNsec);
  }
}
