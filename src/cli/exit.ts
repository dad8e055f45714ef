/** Exit statuses are part of the contract (SPEC §4). */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  diskFull: 3,
  damage: 4,
  interrupted: 130,
} as const;

/** A failure the user can cause or fix: one sentence for stderr and the status to exit with. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.error,
  ) {
    super(message);
  }
}

export class UsageError extends UserError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}
