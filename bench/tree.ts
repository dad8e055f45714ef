/**
 * Deterministic test data: the same seed gives the same names, sizes and bytes on every machine,
 * so figures from two runs (or two machines) describe the same work.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { MiB } from './measure.js';

/** mulberry32: tiny, fast and good enough to pick sizes and orders. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Whole number in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
}

const CHUNK = 4 * MiB;

/**
 * File contents from an AES-128-CTR keystream: incompressible like media, reproducible from the
 * seed, and generated at GB/s with AES instructions, so making 1 GiB costs about a second.
 */
export class ByteStream {
  private readonly cipher: crypto.Cipher;
  private readonly zeros = Buffer.alloc(CHUNK);
  constructor(seed: number) {
    const key = crypto.createHash('sha256').update(`blaine-bench-${seed}`).digest().subarray(0, 16);
    this.cipher = crypto.createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  }
  /** The next n bytes (n ≤ 4 MiB). */
  take(n: number): Buffer {
    return this.cipher.update(this.zeros.subarray(0, n));
  }
}

export function writeFile(file: string, size: number, bytes: ByteStream): void {
  const fd = fs.openSync(file, 'w');
  try {
    for (let done = 0; done < size; ) {
      const chunk = bytes.take(Math.min(CHUNK, size - done));
      let off = 0;
      while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
      done += chunk.length;
    }
  } finally {
    fs.closeSync(fd);
  }
}

export interface TreeInfo {
  root: string;
  files: number;
  dirs: number;
  bytes: number;
}

/**
 * `files` small files (0–maxBytes bytes), `perDir` to a directory: the shape of a photo or
 * music library, where per-file costs (stat, catalog row, open/close) dominate, not bytes.
 */
export function makeSmallTree(root: string, files: number, opts: { perDir?: number; maxBytes?: number; seed?: number } = {}): TreeInfo {
  const perDir = opts.perDir ?? 100;
  const maxBytes = opts.maxBytes ?? 4096;
  const rng = new Rng(opts.seed ?? 1);
  const bytes = new ByteStream(opts.seed ?? 1);
  const dirs = Math.ceil(files / perDir);
  const width = String(dirs - 1).length;
  let total = 0;
  for (let d = 0, made = 0; d < dirs; d++) {
    const dir = path.join(root, `d${String(d).padStart(width, '0')}`);
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < perDir && made < files; f++, made++) {
      const size = rng.int(0, maxBytes);
      fs.writeFileSync(path.join(dir, `f${String(f).padStart(3, '0')}.dat`), size > 0 ? bytes.take(size) : '');
      total += size;
    }
  }
  return { root, files, dirs, bytes: total };
}

export interface SizedFile {
  path: string;
  size: number;
}

/**
 * Sizes for `total` bytes of media-like files, scaled from the 1 GiB mix: ~300 files of
 * 100 KiB–2 MiB (photos, songs), two of ~200 MiB (videos), and 20–100 MiB files (albums,
 * clips) filling the rest exactly.
 */
export function assortedSizes(total: number, seed = 2): number[] {
  const rng = new Rng(seed);
  const scale = total / (1024 * MiB);
  const sizes: number[] = [];
  const big = Math.round(200 * MiB * scale);
  sizes.push(big, big);
  const smallCount = Math.max(1, Math.round(300 * scale));
  for (let i = 0; i < smallCount; i++) sizes.push(rng.int(100 * 1024, 2 * MiB));
  let rest = total - sizes.reduce((a, b) => a + b, 0);
  if (rest < 0) throw new RangeError(`cannot fit the file mix into ${total} bytes`);
  const lo = Math.max(1, Math.round(20 * MiB * scale));
  const hi = Math.max(lo, Math.round(100 * MiB * scale));
  while (rest > 0) {
    let size = rng.int(lo, hi);
    // A last sliver would be a file unlike the rest of its class: give it to this one instead.
    if (size > rest || rest - size < lo) size = rest;
    sizes.push(size);
    rest -= size;
  }
  return sizes;
}

/**
 * Writes the assorted files in a shuffled order across directories of 25, so that path order
 * (how a backup meets them) says nothing about size, as in a real collection.
 */
export function makeAssortedTree(root: string, total: number, seed = 2): SizedFile[] {
  const sizes = assortedSizes(total, seed);
  const rng = new Rng(seed + 1);
  for (let i = sizes.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [sizes[i], sizes[j]] = [sizes[j]!, sizes[i]!];
  }
  const bytes = new ByteStream(seed);
  const out: SizedFile[] = [];
  sizes.forEach((size, i) => {
    const dir = path.join(root, `a${String(Math.floor(i / 25)).padStart(2, '0')}`);
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `m${String(i).padStart(4, '0')}.bin`);
    writeFile(file, size, bytes);
    out.push({ path: file, size });
  });
  return out;
}
