import { BlaineError } from '../error.js';

/** Why a disk cannot be used as it is; each kind has its own one-sentence message. */
export type DiskErrorCode =
  | 'NOT_A_DIRECTORY'
  | 'NOT_INITIALISED'
  | 'ALREADY_INITIALISED'
  | 'BAD_VOLUME_FILE'
  | 'NOT_EMPTY'
  /** A known disk, and no host catalog: rebuild-catalog makes it again. */
  | 'NO_HOST_CATALOG'
  /** The host catalog does not know the disk's volume: rebuild-catalog adds it. */
  | 'UNKNOWN_VOLUME'
  /** The disk a run opened went away (unmounted, replaced) while it was writing. */
  | 'DISK_GONE'
  /** The disk's own catalog is missing, empty or unreadable while its volume.json exists. */
  | 'DAMAGED_CATALOG'
  /** volume.json is missing while the disk's catalog names its volume. */
  | 'NO_VOLUME_FILE'
  /** The disk is mounted read-only and the command must write it. */
  | 'READ_ONLY';

export class DiskError extends BlaineError {
  override name = 'DiskError';
  constructor(
    message: string,
    readonly code: DiskErrorCode,
  ) {
    super(message);
  }
}
