// What `blaine backup` prints: the dry run's operations, the summary, and the exit status (SPEC §4).
import type { BackupSummary } from '../backup/backup.js';
import type { BackupOutcome } from '../backup/run.js';
import { formatBytes } from '../fsx/space.js';
import type { Operation } from '../plan/operation.js';
import { summaryLines } from '../report/summary.js';
import { EXIT } from './exit.js';
import type { Output } from './output.js';

/** One line per operation, as a dry run lists them. */
export function describeOp(op: Operation): string {
  switch (op.type) {
    case 'copy':
      return `${op.why === 'added' ? 'add    ' : 'replace'} ${op.record.path} (${formatBytes(op.record.size)})`;
    case 'symlink':
      return `symlink ${op.record.path} -> ${op.record.linkTarget}`;
    case 'link':
      return `link    ${op.record.path} = ${op.from.path}`;
    case 'rename':
      return `rename  ${op.from.path} -> ${op.to}`;
    case 'delete':
      return `${op.why === 'removed' ? 'remove ' : 'drop   '} ${op.entry.path}`;
    case 'update':
      return `update  ${op.record.path}`;
    case 'defer':
      return `defer   ${op.action} ${op.path}${op.target ? ` -> ${op.target}` : ''} (volume ${op.volume.slice(0, 8)})`;
  }
}

function printSummary(out: Output, r: BackupOutcome & { summary: BackupSummary }, roots: string[], init: boolean): void {
  const s = r.summary;
  out.outcome = s;
  if (out.json) {
    out.result(s);
    return;
  }
  const reason = r.stopped?.reason;
  const lines = summaryLines({
    label: r.copyLabel ?? r.label,
    counts: s,
    bytesCopied: s.bytesCopied,
    parityBytes: s.parityBytes,
    parityDiskBytes: s.parityDiskBytes,
    seconds: s.seconds,
    freeBytes: s.freeBytes,
    missing: s.missing,
    perDay: r.shelf?.perDay ?? null,
    pendingOffline: r.shelf?.pendingOffline ?? [],
    behind: r.shelf?.behind ?? [],
    stopped: reason === 'disk-full' || reason === 'interrupted' ? reason : null,
    paths: roots,
    dryRun: r.ops !== undefined,
    init,
  });
  for (const line of lines) out.summary(line);
  const d = s.directories;
  if (d !== undefined && d.added + d.updated + d.removed + d.kept > 0) {
    const verb = r.ops !== undefined ? 'would be ' : '';
    out.info(`folders: ${verb}added ${d.added}, ${verb}updated ${d.updated}, ${verb}removed ${d.removed}; ${d.kept} gone from the library and kept`);
  }
  if (s.excluded > 0) {
    out.info(`${s.excluded} excluded file(s) are kept on the archive as they were (\`blaine remove\` drops them)`);
  }
}

/** Prints the outcome and says which exit status it is (SPEC §4). */
export function reportBackup(r: BackupOutcome, out: Output, roots: string[], init = false): number {
  if (r.summary === null) {
    out.error(r.stopped?.reason === 'disk-full' ? 'the disk is full' : 'interrupted');
    return r.stopped?.reason === 'disk-full' ? EXIT.diskFull : EXIT.interrupted;
  }
  if (r.ops) {
    if (!out.json) {
      out.info(`dry run: nothing is changed`);
      for (const op of r.ops) out.info(describeOp(op));
    }
    printSummary(out, { ...r, summary: r.summary }, roots, init);
    if (r.stopped?.reason === 'disk-full') out.warn(`the real run would stop here: ${r.stopped.message}`);
    return r.guarded ? EXIT.error : EXIT.ok;
  }
  printSummary(out, { ...r, summary: r.summary }, roots, init);
  if (r.stopped?.reason === 'disk-full') {
    out.error(`${r.stopped.message}; everything written so far is catalogued. Mount a new disk and run \`blaine backup --init\` to go on`);
    return EXIT.diskFull;
  }
  if (r.stopped?.reason === 'interrupted') {
    out.error(`interrupted; everything written so far is catalogued. Run the backup again${init ? ' without --init (the disk is made already)' : ''} to continue`);
    return EXIT.interrupted;
  }
  if (r.guarded) return EXIT.error;
  if (r.summary.skipped > 0) {
    out.error(`${r.summary.skipped} file(s) could not be read or written and were skipped (see the warnings above)`);
    return EXIT.error;
  }
  return r.missingRoot ? EXIT.error : EXIT.ok;
}
