import { knownCopyAt, retireAdvice, retireCopy } from '../forget/retire.js';
import { UsageError, UserError } from './exit.js';
import type { Output } from './output.js';
import type { KeyProvider } from '../archive/session.js';
import type { Fsx } from '../fsx/fsx.js';

/**
 * `backup --init` on a disk that is a known copy of a mirrored volume: said in one sentence without
 * --force; with it, the copy is retired (forget/retire.ts) so that the init that follows makes it a
 * new disk. Anything else is left to the init itself.
 */
export function retireIfCopy(
  o: { dest: string; db: string; init: boolean; force: boolean; discard: boolean; dryRun: boolean; key: KeyProvider; fs: Fsx },
  out: Output,
): void {
  if (o.discard && !o.init) throw new UsageError('--discard-changes goes with --init --force (retiring a mirror copy)');
  if (!o.init) return;
  const known = knownCopyAt(o.dest, o.db, o.fs);
  if (!known) return;
  if (!o.force) throw new UserError(retireAdvice(known, o.dest));
  if (o.dryRun) throw new UserError(`${retireAdvice(known, o.dest).replace(/; pass --force.*/, '')}; --dry-run cannot show a retirement: run without it`);
  const r = retireCopy({ dest: o.dest, db: o.db, key: o.key, discardChanges: o.discard, fs: o.fs });
  out.info(
    `retired copy "${r.copyLabel}" of volume "${known.info.label}": forgotten in the host catalog, ${r.removed} archived file(s) removed from the disk` +
      (r.discarded > 0 ? `, changes its twin lacked discarded` : ''),
  );
}
