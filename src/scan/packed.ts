/**
 * A scan's records packed in chunks (paths and stamps in one string, the numbers in one
 * Float64Array, see record.ts), and the way back to one record at a time.
 */
import { createHash } from 'node:crypto';
import { FIELD, FIELDS, KIND } from '../fsx/addon.js';
import { bytesToName, nameToBytes } from '../fsx/name-bytes.js';
import { pathRange } from '../catalog/range.js';
import { stamp } from '../catalog/stamp.js';
import type { FileRecord, PackedScan, RootScan, ScanChunk } from './record.js';

export const TWO_32 = 0x1_0000_0000n;

/**
 * Files per chunk of a packed scan: small enough to compare while the scan goes on, big enough to
 * query seldom. A scan may ask for smaller ones (tests that want many chunks from a small tree).
 */
export const CHUNK = 16384;

/**
 * The SHA-256 of a chunk's text as bytes (ScanChunk.digest): what native/scan.c hashes, and what
 * the catalog's digest of the same rows is compared with. For the JS walk and packed chunks.
 */
export function textDigest(text: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(nameToBytes(text)).digest());
}

/** A chunk whose text is still bytes (the native scan's): where they are kept, out of sight of copies and comparisons. */
const TEXT_BYTES = Symbol('text bytes');

/**
 * A chunk with its text as bytes: `text` becomes a string (bytesToName) the first time it is
 * read. A no-change run settles most chunks by their digests and never reads it.
 */
export function withTextBytes(chunk: Omit<ScanChunk, 'text'>, bytes: Uint8Array): ScanChunk {
  let text: string | undefined;
  Object.defineProperty(chunk, 'text', { enumerable: true, configurable: true, get: () => (text ??= bytesToName(bytes)) });
  Object.defineProperty(chunk, TEXT_BYTES, { value: bytes });
  return chunk as ScanChunk;
}

/**
 * The chunk as it goes to another thread: its text still as bytes when it has them (moved, not
 * copied: the list of buffers to transfer), else as it is.
 */
export function chunkToPost(chunk: ScanChunk): { chunk: ScanChunk | WireChunk; transfer: ArrayBuffer[] } {
  const bytes = (chunk as { [TEXT_BYTES]?: Uint8Array })[TEXT_BYTES];
  const transfer = [chunk.info.buffer as ArrayBuffer];
  if (bytes === undefined) return { chunk, transfer };
  const { lo, hi, count, info, targets, digest } = chunk;
  return { chunk: { lo, hi, count, info, targets, digest, textBytes: bytes }, transfer: [...transfer, bytes.buffer as ArrayBuffer] };
}

/** A chunk posted with its text as bytes (chunkToPost). */
export type WireChunk = Omit<ScanChunk, 'text'> & { textBytes: Uint8Array };

/** The chunk posted by chunkToPost, on the receiving thread. */
export function chunkFromPost(posted: ScanChunk | WireChunk): ScanChunk {
  if (!('textBytes' in posted)) return posted;
  const { textBytes, ...rest } = posted;
  return withTextBytes(rest, textBytes);
}

/** The stamp (catalog/stamp.ts) of the file at index i of a chunk's numbers. */
export function stampAt(info: Float64Array, i: number, target: string | undefined): string {
  const o = i * FIELDS;
  return stamp(
    info[o + FIELD.kind] === KIND.symlink ? 'symlink' : 'file',
    info[o + FIELD.size]!, info[o + FIELD.mtimeSec]!, info[o + FIELD.mtimeNsec]!, inodeAt(info, i),
    info[o + FIELD.mode]!, info[o + FIELD.uid]!, info[o + FIELD.gid]!, target,
  );
}

/** "dev:ino", exactly, also for inode numbers beyond 2^53. */
export function inodeAt(info: Float64Array, i: number): string {
  const o = i * FIELDS;
  const hi = info[o + FIELD.inoHi]!;
  const lo = info[o + FIELD.inoLo]!;
  const ino = hi < 0x200000 ? String(hi * 0x1_0000_0000 + lo) : String((BigInt(hi) << 32n) | BigInt(lo));
  return `${info[o + FIELD.dev]}:${ino}`;
}

/** The paths of a chunk, in order. */
export function chunkPaths(chunk: ScanChunk): string[] {
  if (chunk.count === 0) return [];
  const parts = chunk.text.split('\0');
  const paths: string[] = new Array(chunk.count);
  for (let i = 0; i < chunk.count; i++) paths[i] = parts[2 * i]!;
  return paths;
}

/** The record at index i of a chunk whose paths are `paths`. */
export function recordAt(chunk: ScanChunk, paths: string[], i: number, target?: string): FileRecord {
  const info = chunk.info;
  const o = i * FIELDS;
  const rec: FileRecord = {
    path: paths[i]!,
    kind: info[o + FIELD.kind] === KIND.symlink ? 'symlink' : 'file',
    size: info[o + FIELD.size]!,
    mtimeSec: info[o + FIELD.mtimeSec]!,
    mtimeNsec: info[o + FIELD.mtimeNsec]!,
    inode: inodeAt(info, i),
    nlink: info[o + FIELD.nlink]!,
    mode: info[o + FIELD.mode]!,
    uid: info[o + FIELD.uid]!,
    gid: info[o + FIELD.gid]!,
  };
  if (target !== undefined) rec.linkTarget = target;
  return rec;
}

/** Every record of a packed scan, unpacked. */
export function unpack(scan: PackedScan): RootScan {
  const records: FileRecord[] = [];
  for (const chunk of scan.chunks) {
    const paths = chunkPaths(chunk);
    const targets = new Map(chunk.targets);
    for (let i = 0; i < chunk.count; i++) records.push(recordAt(chunk, paths, i, targets.get(i)));
  }
  return { root: scan.root, exists: scan.exists, complete: scan.complete, records, skipped: scan.skipped };
}

/**
 * Records packed the way the scanner packs them (the inverse of unpack), in chunks of `chunk`
 * files; for tests and tools. The records must be in byte order.
 */
export function pack(scan: RootScan, chunk = CHUNK): PackedScan {
  const [rootLo, rootHi] = pathRange(scan.root);
  const chunks: ScanChunk[] = [];
  for (let start = 0; start < scan.records.length || (start === 0 && chunks.length === 0); start += chunk) {
    const recs = scan.records.slice(start, start + chunk);
    const info = new Float64Array(recs.length * FIELDS);
    const targets: [number, string][] = [];
    const parts: string[] = [];
    recs.forEach((r, i) => {
      const o = i * FIELDS;
      const [dev, ino] = r.inode.split(':');
      const n = BigInt(ino ?? '0');
      info[o + FIELD.kind] = r.kind === 'symlink' ? KIND.symlink : KIND.file;
      info[o + FIELD.mode] = r.mode;
      info[o + FIELD.size] = r.size;
      info[o + FIELD.mtimeSec] = r.mtimeSec;
      info[o + FIELD.mtimeNsec] = r.mtimeNsec;
      info[o + FIELD.dev] = Number(dev);
      info[o + FIELD.inoHi] = Number(n / TWO_32);
      info[o + FIELD.inoLo] = Number(n % TWO_32);
      info[o + FIELD.nlink] = r.nlink;
      info[o + FIELD.uid] = r.uid;
      info[o + FIELD.gid] = r.gid;
      if (r.linkTarget !== undefined) targets.push([i, r.linkTarget]);
      parts.push(r.path, stampAt(info, i, r.linkTarget));
    });
    const next = scan.records[start + chunk];
    const text = parts.join('\0');
    chunks.push({ lo: start === 0 ? rootLo : recs[0]!.path, hi: next ? next.path : rootHi, text, count: recs.length, info, targets, digest: textDigest(text) });
    if (recs.length === 0) break;
  }
  return { root: scan.root, exists: scan.exists, complete: scan.complete, skipped: scan.skipped, chunks };
}
