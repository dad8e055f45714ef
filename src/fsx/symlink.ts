/** Making a symlink on a disk, atomically, with its owner and mtime. */
import path from 'node:path';
import { isRoot, realFs, type Fsx } from './fsx.js';
import { tempName } from './temp.js';
import { targetError, type CopyError } from './copy-error.js';
import { removeQuietly, withParents } from './parents.js';
import { setTimes, type FileMeta } from './meta.js';

/**
 * Makes dest a symlink to target with the given owner (as root) and mtime, atomically: it is made
 * under a temporary name and renamed over whatever dest was (a file's other hardlinks stay as they are).
 */
export function makeSymlink(
  target: string,
  dest: string,
  meta: Pick<FileMeta, 'uid' | 'gid' | 'mtimeSec' | 'mtimeNsec'>,
  fs: Fsx,
): void {
  const tmp = path.join(path.dirname(dest), tempName(path.basename(dest)));
  withParents(() => fs.symlinkSync(target, tmp), [path.dirname(dest)], dest, fs);
  try {
    if (isRoot) fs.lchownSync(tmp, meta.uid, meta.gid);
    try {
      setTimes(tmp, meta.mtimeSec, meta.mtimeNsec, fs);
    } catch (err) {
      // Name the destination, not the temporary name, in the message.
      throw (err as CopyError).cause ?? err;
    }
    fs.renameSync(tmp, dest);
  } catch (err) {
    removeQuietly(tmp, fs);
    throw targetError(err, dest);
  }
}
