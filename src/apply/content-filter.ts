/**
 * The contents a volume may hold, for a run on a volume that held no file when the run began (a
 * first backup): a Bloom filter over (size, SHA-256) of every row the run writes. Every copy asks
 * whether the volume already stores its content (SPEC §3: stored once); a catalog query per copied
 * file cost a first backup of 200,000 small files seconds on the executor's thread, to find nothing
 * nearly every time. "Not in the filter" is certain, so the query is made only for the few that
 * may be there. A false "may be" only costs the query it saves otherwise; nothing is decided here.
 */

/** 2^24 bits (2 MiB): at a million contents ~0.5% of the answers are a false "may be". */
const BITS_LOG2 = 24;
const MASK = (1 << BITS_LOG2) - 1;
/** Bit positions per content. */
const PROBES = 3;

export class ContentFilter {
  private readonly bits = new Uint8Array(1 << (BITS_LOG2 - 3));

  add(size: number, sha256: string): void {
    const [h1, h2] = hashes(size, sha256);
    for (let k = 0; k < PROBES; k++) {
      const at = (h1 + k * h2) & MASK;
      this.bits[at >>> 3]! |= 1 << (at & 7);
    }
  }

  /** False: no row of the run has this content. True: one may. */
  mayHold(size: number, sha256: string): boolean {
    const [h1, h2] = hashes(size, sha256);
    for (let k = 0; k < PROBES; k++) {
      const at = (h1 + k * h2) & MASK;
      if ((this.bits[at >>> 3]! & (1 << (at & 7))) === 0) return false;
    }
    return true;
  }
}

/** Two 32-bit hashes for double hashing (probe k at h1 + k·h2), from the SHA-256 (already uniform) and the size. */
function hashes(size: number, sha256: string): [number, number] {
  // The size mixed in (Knuth's multiplicative hash): equal hashes of different sizes part.
  const h1 = (Number.parseInt(sha256.slice(0, 8), 16) ^ Math.imul(size % 0x1_0000_0000 | 0, 0x9e3779b1)) >>> 0;
  // Odd, so that the probes of one content differ.
  const h2 = (Number.parseInt(sha256.slice(8, 16), 16) | 1) >>> 0;
  return [h1, h2];
}
