/** The parity library: PAR2 sets for files on an archive disk, knowing nothing of catalogs or the CLI. */
export * from './slices.js';
export * from './paths.js';
export * from './par2.js';
export * from './pool.js';
export { parityPacketsIntact } from './packets.js';
