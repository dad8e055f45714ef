/**
 * Integrity of PAR2 files themselves. `par2 v` answers only for the data: a damaged recovery file
 * still gives "All files are correct" (exit 0), it just leaves fewer recovery slices. Every PAR2
 * packet carries the MD5 of its own body, so damage to the parity can be found by reading it once.
 */
import crypto from 'node:crypto';
import { realFs as fs } from '../fsx/fsx.js';

const MAGIC = Buffer.from('PAR2\0PKT', 'latin1');
const HEADER = 64;
const CHUNK = 1 << 20;

/**
 * True when every file is an unbroken run of PAR2 packets whose MD5s match, all of one recovery
 * set. Reads each file once; stops at the first damage.
 */
export async function parityPacketsIntact(files: string[]): Promise<boolean> {
  let setId: Buffer | null = null;
  for (const file of files) {
    const ok = await scanFile(file, (id) => {
      if (setId === null) setId = Buffer.from(id);
      return setId.equals(id);
    });
    if (!ok) return false;
  }
  return files.length > 0;
}

async function scanFile(file: string, sameSet: (id: Buffer) => boolean): Promise<boolean> {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return false;
  }
  const readChunk = (buf: Buffer) =>
    new Promise<number>((resolve, reject) => fs.read(fd, buf, 0, CHUNK, null, (err, n) => (err ? reject(err) : resolve(n))));
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    const header = Buffer.alloc(HEADER);
    let headerFill = 0;
    let remaining = 0n; // body bytes of the current packet still to hash
    let hash: crypto.Hash | null = null;
    let packets = 0;
    for (;;) {
      const bytesRead = await readChunk(buf);
      if (bytesRead === 0) break;
      let pos = 0;
      while (pos < bytesRead) {
        if (hash === null) {
          const take = Math.min(HEADER - headerFill, bytesRead - pos);
          buf.copy(header, headerFill, pos, pos + take);
          headerFill += take;
          pos += take;
          if (headerFill < HEADER) continue;
          headerFill = 0;
          if (!header.subarray(0, 8).equals(MAGIC)) return false;
          const length = header.readBigUInt64LE(8);
          if (length < BigInt(HEADER) || length % 4n !== 0n) return false;
          if (!sameSet(header.subarray(32, 48))) return false;
          hash = crypto.createHash('md5').update(header.subarray(32, HEADER));
          remaining = length - BigInt(HEADER);
        }
        const take = Number(remaining < BigInt(bytesRead - pos) ? remaining : BigInt(bytesRead - pos));
        hash.update(buf.subarray(pos, pos + take));
        pos += take;
        remaining -= BigInt(take);
        if (remaining === 0n) {
          if (!hash.digest().equals(header.subarray(16, 32))) return false;
          hash = null;
          packets++;
        }
      }
    }
    // A file cut short ends inside a packet; an empty one has no packets at all.
    return hash === null && headerFill === 0 && packets > 0;
  } finally {
    fs.closeSync(fd);
  }
}
