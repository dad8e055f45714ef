/** What a stored file takes from its source besides content, and giving a stored name its mtime. */
import { realFs, type Fsx } from './fsx.js';
import { targetError } from './copy-error.js';

/** Ownership, permissions and mtime to give a copy. A scanned FileRecord fits as is. */
export interface FileMeta {
  mode: number;
  uid: number;
  gid: number;
  mtimeSec: number;
  /** Nanoseconds within the second, 0..999999999. */
  mtimeNsec: number;
}

/** Sets a file's or symlink's mtime to the nanosecond (never following a symlink); atime stays as it is. */
export function setTimes(file: string, mtimeSec: number, mtimeNsec: number, fs: Fsx): void {
  try {
    fs.setMtime(file, mtimeSec, mtimeNsec);
  } catch (err) {
    throw targetError(err, file);
  }
}
