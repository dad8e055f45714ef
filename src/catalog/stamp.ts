/**
 * What lstat said of a file when it was stored, as one exact string: kind, size, mtime to the
 * nanosecond, inode, mode, owner and symlink target. The catalog keeps it beside each row, so that
 * the quick check reads two strings a file instead of ten columns, and a file whose stamp equals
 * its stored one is unchanged in every way that check looks at. No hashing: equal means equal.
 */
export function stamp(
  kind: 'file' | 'symlink' | 'dir',
  size: number,
  mtimeSec: number,
  mtimeNsec: number,
  inode: string | null,
  mode: number,
  uid: number,
  gid: number,
  linkTarget: string | null | undefined,
): string {
  // The target goes last: it is the only part that may hold the separator.
  const head = `${kind === 'symlink' ? 'l' : kind === 'dir' ? 'd' : 'f'}${size}/${mtimeSec}.${mtimeNsec}/${inode ?? ''}/${mode}/${uid}/${gid}`;
  return linkTarget === null || linkTarget === undefined ? head : `${head}/${linkTarget}`;
}
