import fs from 'node:fs';
import path from 'node:path';
import { CatalogError } from '../catalog/catalog.js';
import { hostCatalogFullMessage } from '../apply/batch.js';
import { BlaineError, EXIT } from '../error.js';

export { EXIT } from '../error.js';

/** Less than a MiB left: what SQLite needs to grow a catalog by a page or a WAL frame is not there. */
function nearlyFull(dir: string): boolean {
  try {
    const st = fs.statfsSync(dir);
    return st.bavail * st.bsize < 1 << 20;
  } catch {
    return false;
  }
}

function catalogFailure(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException | null;
  return err instanceof CatalogError || e?.name === 'SqliteError' || e?.code === 'ENOSPC';
}

/** A failure the user can cause or fix, raised by a command itself. */
export class UserError extends BlaineError {}

export class UsageError extends UserError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

/** The exit status and sentence for anything a command throws; unknown errors keep their stack in the log. */
export function describeError(err: unknown, ctx: { hostCatalog?: string } = {}): { code: number; message: string } {
  // A batch commit says which catalog could not grow; elsewhere, a catalog failing while the host
  // catalog's file system has no room left is taken for that (SQLite reports it as I/O errors too).
  if (ctx.hostCatalog !== undefined && catalogFailure(err) && nearlyFull(path.dirname(ctx.hostCatalog))) {
    return { code: EXIT.error, message: hostCatalogFullMessage(ctx.hostCatalog) };
  }
  if (err instanceof BlaineError) return { code: err.exitStatus, message: err.message };
  const e = err as NodeJS.ErrnoException;
  if (e && e.name === 'SqliteError' && e.code === 'SQLITE_FULL') {
    return { code: EXIT.diskFull, message: 'a disk is full: a catalog could not be written; free space or mount a new disk and run `blaine backup --init`' };
  }
  if (e && typeof e.code === 'string' && e.path) {
    const what: Record<string, string> = {
      ENOENT: 'does not exist',
      EACCES: 'is not accessible (permission denied)',
      EPERM: 'is not accessible (operation not permitted)',
      ENOSPC: 'is on a full disk',
      EROFS: 'is on a read-only file system',
      ENOTDIR: 'has a part that is not a directory',
      EIO: 'cannot be read (input/output error: a failing disk?)',
    };
    return {
      code: e.code === 'ENOSPC' ? EXIT.diskFull : EXIT.error,
      message: `${e.path} ${what[e.code] ?? `failed (${e.code})`}`,
    };
  }
  return { code: EXIT.error, message: `internal error: ${(err as Error)?.message ?? String(err)} (please report it with the --log-file output)` };
}
