/**
 * Names are bytes. A Linux file name is any byte string without '/' and NUL; Node's string APIs
 * decode it as UTF-8 and turn bytes that are not UTF-8 into U+FFFD, after which the file can no
 * longer be named. Blaine keeps paths as JS strings everywhere (planners, catalogs' callers, JSON)
 * but in a form that loses nothing: a byte that is not part of valid UTF-8 is held as the lone
 * surrogate U+DC00 + byte (0x80..0xFF become U+DC80..U+DCFF). Valid UTF-8 can never encode a
 * surrogate, so the mapping is one to one between byte strings and the strings it produces, and a
 * name that is valid UTF-8 is simply its usual string.
 *
 * Every place a path crosses into the operating system (node:fs, the native addon, the catalogs'
 * storage) turns it back into its bytes with `nameToBytes`, or `fsPath` for node:fs calls.
 */
import { isAscii, isUtf8 } from 'node:buffer';

/** Matches a lone surrogate that stands for a byte; with the `u` flag a surrogate pair never matches. */
const ESCAPED_BYTE = /[\uDC80-\uDCFF]/u;

/** The string that stands for the bytes `b` (see above). */
export function bytesToName(b: Uint8Array): string {
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  // ASCII (most paths; a quick check's chunk of 16,384 rows, ~1 MB) decodes faster as Latin-1, to the same string.
  if (isAscii(buf)) return buf.toString('latin1');
  if (isUtf8(buf)) return buf.toString('utf8');
  let out = '';
  let i = 0;
  while (i < buf.length) {
    const n = validSequenceLength(buf, i);
    if (n === 0) {
      out += String.fromCharCode(0xdc00 + buf[i]!);
      i += 1;
    } else {
      out += buf.toString('utf8', i, i + n);
      i += n;
    }
  }
  return out;
}

/** The bytes a name made by `bytesToName` (or any well-formed string) stands for. */
export function nameToBytes(s: string): Buffer {
  if (!ESCAPED_BYTE.test(s)) return Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  let run = '';
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (ch.length === 1 && c >= 0xdc80 && c <= 0xdcff) {
      if (run) parts.push(Buffer.from(run, 'utf8'));
      run = '';
      parts.push(Buffer.of(c - 0xdc00));
    } else run += ch;
  }
  if (run) parts.push(Buffer.from(run, 'utf8'));
  return Buffer.concat(parts);
}

/** True when the name holds bytes that are not UTF-8 (it cannot be passed to node:fs as a string). */
export function hasEscapedBytes(s: string): boolean {
  return ESCAPED_BYTE.test(s);
}

/** What to pass to node:fs for the path `s`: the string itself, or its bytes when it holds escaped ones. */
export function fsPath(s: string): string | Buffer {
  return ESCAPED_BYTE.test(s) ? nameToBytes(s) : s;
}

/** Length of the valid UTF-8 sequence starting at `i` (1..4), or 0 when the byte there starts none. */
function validSequenceLength(b: Buffer, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < b.length && b[i + k]! >= lo && b[i + k]! <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) return cont(1) && cont(2) ? 3 : 0;
  // 0xED A0..BF would encode a surrogate: not UTF-8, and it must not collide with the escapes
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}
