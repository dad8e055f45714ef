import type { CatalogEntry } from './entry.js';

/**
 * How much of two entries must agree:
 * - 'content': the same bytes (a file's size and SHA-256, a symlink's target), whatever the name;
 * - 'source': the same source file under two names: kind, content, mode, owner and mtime (an
 *   inode number reused since is not enough, so it is not asked);
 * - 'row': every column a catalog keeps (a copy's row in step with the volume's).
 */
export type Sameness = 'content' | 'source' | 'row';

/** The one place that decides whether two catalog entries are "the same" (in the sense asked). */
export function sameEntry(a: CatalogEntry, b: CatalogEntry, as: Sameness): boolean {
  switch (as) {
    case 'content':
      if (a.kind !== b.kind) return false;
      return a.kind === 'symlink' ? a.linkTarget === b.linkTarget : a.sha256 === b.sha256 && a.size === b.size;
    case 'source':
      return (
        sameEntry(a, b, 'content') && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid &&
        a.mtimeSec === b.mtimeSec && a.mtimeNsec === b.mtimeNsec
      );
    case 'row':
      return (
        a.kind === b.kind && a.size === b.size && a.mtimeSec === b.mtimeSec && a.mtimeNsec === b.mtimeNsec && a.inode === b.inode &&
        a.sha256 === b.sha256 && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.linkTarget === b.linkTarget &&
        a.parityName === b.parityName && a.verifiedAt === b.verifiedAt
      );
  }
}
