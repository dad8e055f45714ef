/**
 * The one base of every failure a user can cause or fix: its message is the one sentence the
 * command prints, its exit status the one the command ends with (SPEC §4). Anything else that
 * reaches the command line is an internal error. A leaf: it imports nothing.
 */

/** Exit statuses are part of the contract (SPEC §4). */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  diskFull: 3,
  damage: 4,
  interrupted: 130,
} as const;

export class BlaineError extends Error {
  constructor(
    message: string,
    /** The status the command exits with when this error ends it. */
    readonly exitStatus: number = EXIT.error,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
