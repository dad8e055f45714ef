/** How parity operations fail: one error type, and the sentences a user sees. */
export type ParityErrorCode =
  | 'ENOSPC' // the disk (or a quota) is full
  | 'ENOENT' // the data file is not there
  | 'EINVAL' // not a regular file
  | 'ENOPAR2' // the par2 program could not be started
  | 'ABORTED'
  | 'EPAR2'; // par2 failed for another reason

/** A parity operation that failed; `message` is one sentence for the user. */
export class ParityError extends Error {
  readonly code: ParityErrorCode;
  constructor(message: string, code: ParityErrorCode, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ParityError';
    this.code = code;
  }
}

export function aborted(rel: string): ParityError {
  return new ParityError(`parity for ${rel} was stopped`, 'ABORTED');
}

export function throwIfAborted(signal: AbortSignal | undefined, rel: string): void {
  if (signal?.aborted) throw aborted(rel);
}

/** A file-system failure of a parity step as a ParityError, ENOSPC and ENOENT named as such. */
export function fsError(e: unknown, what: string): ParityError {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOSPC' || err.code === 'EDQUOT') return new ParityError(`${what}: the disk is full`, 'ENOSPC', { cause: e });
  if (err.code === 'ENOENT') return new ParityError(`${what}: the file does not exist`, 'ENOENT', { cause: e });
  return new ParityError(`${what}: ${err.message ?? String(e)}`, 'EPAR2', { cause: e });
}
