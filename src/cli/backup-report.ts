// What `blaine backup` prints: what the run tells as it goes, the dry run's operations, the summary,
// and the exit status (SPEC §4).
import type { BackupSummary, PlanSkip } from '../backup/backup.js';
import type { BackupEvent, BackupOutcome } from '../backup/run.js';
import type { DiskFull } from '../apply/env.js';
import { formatBytes } from '../fsx/space.js';
import type { Operation } from '../plan/operation.js';
import { heldLine, summaryLines } from '../report/summary.js';
import { tellApplyEvent } from './apply-events.js';
import { EXIT } from './exit.js';
import type { Output } from './output.js';

/** Why a run stopped for a full disk, in words; the shortfall tells apart two sizes that round alike. */
export function diskFullText(s: DiskFull): string {
  if ('refused' in s) {
    const { path, parityOnly, need, free } = s.refused;
    const what = parityOnly ? `the parity of ${path} needs` : `${path} needs`;
    const counting = parityOnly ? 'with the reserve' : 'with parity and reserve';
    return `the disk is full: ${what} ${formatBytes(need)} ${counting}, ${formatBytes(free)} free (${formatBytes(need - free)} short)`;
  }
  switch (s.writing) {
    case 'copy':
      return `the disk is full (while copying ${s.path})`;
    case 'file':
      return `the disk is full (while writing ${s.path})`;
    case 'parity':
      return `the disk is full (while writing parity for ${s.path})`;
    case 'journal':
      return 'the disk is full (while writing its journal)';
    case null:
      return 'the disk is full';
  }
}

/** Why the planner left a file out, in words. */
function planSkipText(s: PlanSkip): string {
  if (s.why === 'unreadable') return s.sentence ?? `cannot read ${s.path}: ${s.error}`;
  return (
    `${s.path} was a folder and is now a ${s.kind}: the ${s.kept} archived file(s) below it are kept ` +
    `(they go with --clean, within --max-delete), so the ${s.kind} cannot take its place on the disk`
  );
}

/** Where the process's memory is (-v's phase lines): resident, the JavaScript heap, and the buffers outside it. */
function memoryLine(): string {
  const m = process.memoryUsage();
  const mib = (n: number) => Math.round(n / 2 ** 20);
  return `${mib(m.rss)} MiB resident (heap ${mib(m.heapUsed)} of ${mib(m.heapTotal)} MiB, external ${mib(m.external)} MiB, of which array buffers ${mib(m.arrayBuffers)} MiB)`;
}

/** Says what a backup tells as it goes; `started` is when the command began (for -v's timings). */
export function tellBackupEvent(e: BackupEvent, out: Output, started: number): void {
  const skipped = (dryRun: boolean) => (dryRun ? 'would be skipped' : 'skipped');
  switch (e.type) {
    case 'phase':
      return out.debug(
        `phase ${e.name}: ${Date.now() - started} ms since start, ${Math.round(performance.now())} ms since the process began, ` +
          memoryLine(),
      );
    case 'disk-opened':
      return out.debug(`disk ${e.dest}: volume ${e.volume} (${e.label}), copy ${e.copy}, ${e.sync}`);
    case 'disk-warning':
      return out.warn(e.message);
    case 'leftovers-removed':
      return out.info(`removed ${e.count} leftover(s) of an interrupted run`);
    case 'host-updated':
      return out.info(`host catalog updated from the disk catalog of "${e.label}"`);
    case 'last-run-unfinished':
      return out.warn(`the last run on "${e.label}" did not finish; its disk catalog is taken as the truth`);
    case 'caught-up':
      if (e.applied > 0) out.info(`${e.dryRun ? 'would apply' : 'applied'} ${e.applied} deferred action(s) on "${e.label}"`);
      if (e.held.length > 0) out.info(heldLine(e.held));
      if (e.changed > 0) out.info(`${e.dryRun ? 'would bring' : 'brought'} "${e.copyLabel}" up to date: ${e.changed} change(s)`);
      return;
    case 'sha1-confirmed':
      return out.detail(`${e.count} file(s) stored by SHA-1 confirmed by SHA-256`);
    case 'sha1-collision':
      return out.warn(`${e.path} was stored as one file with another of the same SHA-1 (a SHA-1 collision), but its bytes differ: storing it on its own now`);
    case 'scan-skipped':
      return out.warn(`${e.entry.path} ${e.entry.message}; ${skipped(e.dryRun)}`);
    case 'plan-skipped':
      return out.warn(`${planSkipText(e.skip)}; ${skipped(e.dryRun)}`);
    case 'guarded':
      return out.error(`nothing removed: ${e.reason}; check that the data path is mounted, or pass --force`);
    default:
      return tellApplyEvent(e, out);
  }
}

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
    if (r.stopped?.reason === 'disk-full') out.warn(`the real run would stop here: ${diskFullText(r.stopped)}`);
    return r.guarded ? EXIT.error : EXIT.ok;
  }
  printSummary(out, { ...r, summary: r.summary }, roots, init);
  if (r.stopped?.reason === 'disk-full') {
    out.error(`${diskFullText(r.stopped)}; everything written so far is catalogued. Mount a new disk and run \`blaine backup --init\` to go on`);
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
