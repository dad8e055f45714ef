/**
 * Hard links that report the right size on an encrypted disk too.
 *
 * gocryptfs 2.3 (Debian 12) answers link() with the ciphertext's attributes, and the kernel keeps
 * them for a second: both names then show a size larger by the encryption overhead (gocryptfs
 * issue 724, fixed in later releases). par2 reading a file staged that way stops short of the
 * promised size. A chmod to the same mode makes the kernel take fresh attributes; on other file
 * systems it changes nothing but the ctime.
 */
import fs from 'node:fs';

export function hardLink(existing: string, newPath: string): void {
  fs.linkSync(existing, newPath);
  try {
    fs.chmodSync(newPath, fs.lstatSync(newPath).mode & 0o7777);
  } catch {
    // Not ours to chmod (another owner): the stale size only lasts a second.
  }
}
