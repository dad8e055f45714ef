import { nameToBytes } from './name-bytes.js';
/**
 * The one temporary-name scheme (SPEC §3): every file Blaine writes on a disk under a name other
 * than its final one is named `.<base>.blaine-tmp-<pid>-<n>` (base: the final name, shortened to
 * fit), written in `<disk>/.blaine/tmp` where it can be (archive/layout.ts diskTempDir) or beside
 * its destination where it must be. The next run's cleanup (archive/volume.ts cleanupTemp)
 * recognises the scheme by isTempName. The pid and counter make names unique within a host; a
 * journal (a later step) can record a name before the step that makes it and tell a parked file,
 * to be put back, from scratch, to be removed.
 */

let tempCounter = 0;

export const TEMP_MARK = '.blaine-tmp-';
const TEMP_RE = /^\.[\s\S]*\.blaine-tmp-\d+-\d+$/;
const NAME_MAX = 255;

/** True for names made by tempName: files still being written, or crash leftovers. */
export function isTempName(name: string): boolean {
  return TEMP_RE.test(name);
}

export function tempName(base: string): string {
  const suffix = `${TEMP_MARK}${process.pid}-${++tempCounter}`;
  let name = `.${base}${suffix}`;
  if (nameToBytes(name).length > NAME_MAX) {
    // Long names would make the temporary name too long for the file system; the tail of the
    // base is expendable because the pid and counter already make the name unique.
    const chars = Array.from(base);
    while (chars.length > 0 && nameToBytes(`.${chars.join('')}${suffix}`).length > NAME_MAX) chars.pop();
    name = `.${chars.join('')}${suffix}`;
  }
  return name;
}
