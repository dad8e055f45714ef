/**
 * What a file costs on an encrypted disk's own file system. gocryptfs (format v2, AES-GCM) stores
 * a file as an 18-byte header (format version and file id) followed by its content in blocks of
 * 4096 bytes, each sealed with a 16-byte nonce and a 16-byte authentication tag; an empty file
 * stays empty. About 0.8% more than the plain size, which a free-space check must count, or an
 * encrypted disk runs out in the middle of a large file.
 */
const HEADER_BYTES = 18;
const BLOCK_BYTES = 4096;
const BLOCK_OVERHEAD_BYTES = 32;

/** Bytes gocryptfs writes for a file of `plain` bytes. */
export function cipherBytes(plain: number): number {
  if (plain <= 0) return 0;
  return HEADER_BYTES + plain + BLOCK_OVERHEAD_BYTES * Math.ceil(plain / BLOCK_BYTES);
}
