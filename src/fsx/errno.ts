/** The errno code of a thrown error (ENOENT, EACCES…), if it has one. */
export function errCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** The human part of a Node system error ("ENOENT: no such file or directory, open …" → "no such file or directory"). */
export function reason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const m = /^[A-Z0-9_]+: ([^,]+)/.exec(message);
  return m ? m[1]! : message;
}
