/**
 * Reading what can be read of a damaged file: an unreadable sector, or on an encrypted disk a
 * 4 KiB block whose ciphertext rotted (gocryptfs then answers EIO for it), would otherwise stop
 * par2 and a restore before any repair.
 */
import path from 'node:path';
import { isCode } from './paths.js';
import { realFs as fs } from '../fsx/fsx.js';

/** Slices are multiples of 4 KiB (SPEC §6): an unreadable block costs at most one slice. */
const RESCUE_BLOCK = 4096;
const RESCUE_CHUNK = 1 << 20;

/**
 * Copies `from` to `to` with every block that cannot be read replaced by zeros (as dd_rescue
 * does), so that par2 sees the damage as wrong bytes in the slices it can repair.
 */
export function rescueCopy(from: string, to: string): void {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  const src = fs.openSync(from, 'r');
  const dst = fs.openSync(to, 'w', 0o600);
  try {
    const size = fs.fstatSync(src).size;
    const buf = Buffer.alloc(RESCUE_CHUNK);
    // Reads buf[off, off+len) from the file at `at`; short only at the end of the file.
    const readInto = (off: number, len: number, at: number): void => {
      for (let got = 0; got < len; ) {
        const n = fs.readSync(src, buf, off + got, len - got, at + got);
        if (n === 0) return;
        got += n;
      }
    };
    for (let at = 0; at < size; at += RESCUE_CHUNK) {
      const len = Math.min(RESCUE_CHUNK, size - at);
      try {
        readInto(0, len, at);
      } catch (e) {
        if (!isCode(e, 'EIO')) throw e;
        for (let off = 0; off < len; off += RESCUE_BLOCK) {
          const part = Math.min(RESCUE_BLOCK, len - off);
          try {
            readInto(off, part, at + off);
          } catch (e2) {
            if (!isCode(e2, 'EIO')) throw e2;
            buf.fill(0, off, off + part);
          }
        }
      }
      fs.writeSync(dst, buf, 0, len, at);
    }
  } finally {
    fs.closeSync(src);
    fs.closeSync(dst);
  }
}

