/** The one error every copy helper throws, and how an errno becomes one of its sentences. */
import { getSystemErrorMap } from 'node:util';
import { errnoName } from './addon.js';
import { errCode, reason as errnoReason } from './errno.js';
import { BlaineError, EXIT } from '../error.js';

/** CHANGED: the source changed while it was read (the copy may mix old and new bytes); worth one more try. */
export type CopyErrorCode = 'ENOSPC' | 'SOURCE' | 'CHANGED' | 'TARGET';

export class CopyError extends BlaineError {
  override name = 'CopyError';
  constructor(
    message: string,
    readonly code: CopyErrorCode,
    /** The path the message is about. */
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(message, code === 'ENOSPC' ? EXIT.diskFull : EXIT.error, options);
  }
}

/** The errno's words without a final period, to end a sentence of ours. */
function reason(err: unknown): string {
  return errnoReason(err).replace(/\.$/, '');
}

export function sourceError(err: unknown, src: string): CopyError {
  if (err instanceof CopyError) return err;
  return new CopyError(`Cannot read ${src}: ${reason(err)}.`, 'SOURCE', src, { cause: err });
}

export function targetError(err: unknown, dest: string): CopyError {
  if (err instanceof CopyError) return err;
  const code = errCode(err);
  // A quota is a full disk as far as the user is concerned: the remedy is the same.
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new CopyError(`The disk is full: there is no room left to write ${dest}.`, 'ENOSPC', dest, { cause: err });
  }
  return new CopyError(`Cannot write ${dest}: ${reason(err)}.`, 'TARGET', dest, { cause: err });
}

/** An errno the addon reported, as the error node:fs would have thrown for it. */
export function errnoError(errno: number, syscall: string, file: string): NodeJS.ErrnoException {
  const code = errnoName(errno);
  const words = getSystemErrorMap().get(-errno)?.[1] ?? 'unknown error';
  return Object.assign(new Error(`${code}: ${words}, ${syscall} '${file}'`), { code, errno: -errno, syscall, path: file });
}
