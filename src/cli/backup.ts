import fs from 'node:fs';
import os from 'node:os';
import type { Command } from 'commander';
import {
  catalogView,
  executePlan,
  normaliseRoots,
  planWithHashes,
  scanDataPaths,
  summarize,
  type BackupSummary,
} from '../backup/backup.js';
import { Catalog } from '../catalog/catalog.js';
import { QuickCheck } from '../backup/quickcheck.js';
import { beginWrite, diskCatalogPath, finishWrite, openDiskSession, type DiskSession } from '../archive/session.js';
import { freeBytes, parseBytes } from '../fsx/space.js';
import { readVolume } from '../archive/volume.js';
import type { MatchMode, Operation, Plan } from '../plan/operation.js';
import { par2Available } from '../parity/par2.js';
import { ParityPool } from '../parity/pool.js';
import { ExclusionFilter, type Rule } from '../scan/exclude.js';
import { scanInBackground } from '../scan/background.js';
import type { PackedScan } from '../scan/record.js';
import { unpack } from '../scan/scanner.js';
import { parseSnapraidConf } from '../scan/snapraid-conf.js';
import { catchUp } from '../mirror/catchup.js';
import {
  action,
  addCommonOptions,
  addParityOptions,
  repeatableOption,
  dbPath,
  fileSystem,
  interruptSignal,
  parseNumber,
  requireDest,
  type CommonOptions,
} from './common.js';
import { EXIT, UsageError, UserError } from './exit.js';
import { formatBytes, type Output } from './output.js';
import { isWithin } from '../fsx/paths.js';

interface BackupOptions extends CommonOptions {
  init?: boolean;
  label?: string;
  encrypt?: boolean;
  clean?: boolean;
  maxDelete: string;
  force?: boolean;
  dryRun?: boolean;
  /** --exclude and --include in the order given (first match wins). */
  rule?: Rule[];
  exclude?: string[];
  include?: string[];
  excludeRegex?: string[];
  snapraidConf?: string;
  matchMode: string;
  parity: string | number;
  noParity?: boolean;
  /** commander's name for --no-parity's negation */
  paritySlices: string | number;
  reserve: string | number;
  jobs?: string | number;
  par2Command?: string | string[];
}

const MATCH_MODES: MatchMode[] = ['inode', 'size-mtime', 'path-size-mtime', 'strict'];

export function registerBackup(program: Command): void {
  // Both flags feed one ordered list, since SnapRAID's rules are tried in the order written.
  const rules: Rule[] = [];
  const cmd = program
    .command('backup')
    .summary('archive data paths onto the mounted disk')
    .description(
      'Archive the data paths (PATH...) onto the mounted archive disk. Only the mounted disk is written;\n' +
        'changes to files held by offline disks are queued as deferred actions for them.',
    )
    .argument('<path...>', 'data paths to archive')
    .option('--init', 'make --dest a new Blaine disk (refused if it already is one)')
    .option('--label <label>', 'with --init: the volume label (default: the directory name)')
    .option('--encrypt', 'with --init: encrypt the new disk (gocryptfs)')
    .option('--clean', 'remove archived files that are gone from the data paths')
    .option('--max-delete <pct>', 'with --clean: most files (percent of a data path) one run may remove', '10')
    .option('--force', 'remove even when the mass-delete guard trips')
    .option('--dry-run', 'print what would happen and change nothing')
    .addOption(repeatableOption('--exclude <rule>', 'SnapRAID-style exclude rule', (pattern) => rules.push({ kind: 'exclude', pattern })))
    .addOption(repeatableOption('--include <rule>', 'SnapRAID-style include rule', (pattern) => rules.push({ kind: 'include', pattern })))
    .addOption(repeatableOption('--exclude-regex <re>', 'exclude paths (relative to the data path) matching this regex'))
    .option('--snapraid-conf <file>', 'read exclude/include rules from a SnapRAID config')
    .option('--match-mode <mode>', `how renames are found: ${MATCH_MODES.join(', ')}`, 'inode');
  // --parity before --no-parity: commander takes the pair's default from the first one
  addParityOptions(cmd)
    .option('--no-parity', 'make no parity')
    .option('--reserve <bytes>', 'free space to leave on the disk (e.g. 10G, 500M)', '10G');
  addCommonOptions(cmd);
  cmd.action(
    action<BackupOptions>((opts, args, out) => {
      opts.rule = rules.length > 0 ? rules : [
        ...(opts.exclude ?? []).map((pattern) => ({ kind: 'exclude' as const, pattern })),
        ...(opts.include ?? []).map((pattern) => ({ kind: 'include' as const, pattern })),
      ];
      return backup(opts, args, out);
    }),
  );
}

function buildFilter(opts: BackupOptions): ExclusionFilter | undefined {
  const rules: Rule[] = [];
  if (opts.snapraidConf) {
    let text: string;
    try {
      text = fs.readFileSync(opts.snapraidConf, 'utf8');
    } catch {
      throw new UsageError(`cannot read the SnapRAID config ${opts.snapraidConf}`);
    }
    rules.push(...parseSnapraidConf(text));
  }
  rules.push(...(opts.rule ?? []));
  const regexes = opts.excludeRegex ?? [];
  if (rules.length === 0 && regexes.length === 0) return undefined;
  return new ExclusionFilter(rules, regexes);
}

function par2Argv(v: string | string[] | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v : v.split(/\s+/).filter(Boolean);
}

function describeOp(op: Operation): string {
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

function printSummary(out: Output, s: BackupSummary, label: string): void {
  if (out.json) {
    out.result(s);
    return;
  }
  out.info(
    `${label}: unchanged ${s.unchanged}, added ${s.added}, modified ${s.modified}, renamed ${s.renamed}, ` +
      `linked ${s.linked}, removed ${s.removed}, deferred ${s.deferred}, skipped ${s.skipped}`,
  );
  out.info(
    `copied ${formatBytes(s.bytesCopied)}, parity ${formatBytes(s.parityBytes)}, ${s.seconds} s` +
      (s.freeBytes !== null ? `, ${formatBytes(s.freeBytes)} free` : ''),
  );
  if (s.missing > 0) {
    out.info(`${s.missing} archived file(s) are gone from the data paths and kept on the archive (--clean removes them)`);
  }
}

async function backup(opts: BackupOptions, args: string[], out: Output): Promise<number> {
  const started = Date.now();
  const dest = requireDest(opts);
  const db = dbPath(opts);
  if (opts.label !== undefined && !opts.init) throw new UsageError('--label goes with --init');
  if (opts.encrypt) {
    throw new UserError('--encrypt is not available in this version of Blaine; the disk was not changed', EXIT.usage);
  }
  const matchMode = opts.matchMode as MatchMode;
  if (!MATCH_MODES.includes(matchMode)) throw new UsageError(`--match-mode must be one of ${MATCH_MODES.join(', ')}`);
  const maxDeletePct = parseNumber('--max-delete', 0, 100)(String(opts.maxDelete));
  // commander turns --no-parity into parity === false
  const noParity = (opts.parity as unknown) === false || !!opts.noParity;
  const parityPct = noParity ? 0 : parseNumber('--parity', 0, 100)(String(opts.parity));
  const paritySlices = parseNumber('--parity-slices', 1, 32768, true)(String(opts.paritySlices));
  const jobs = opts.jobs === undefined ? os.availableParallelism() : parseNumber('--jobs', 1, 256, true)(String(opts.jobs));
  let reserve: number;
  try {
    reserve = parseBytes(String(opts.reserve));
  } catch (err) {
    throw new UsageError(`--reserve: ${(err as Error).message}`);
  }
  const withParity = !noParity && parityPct > 0;
  const filter = buildFilter(opts);
  const roots = normaliseRoots(args);
  const par2Command = par2Argv(opts.par2Command);
  if (withParity && !opts.dryRun && !par2Available(par2Command ? { command: par2Command } : undefined)) {
    throw new UserError(
      `${par2Command ? par2Command.join(' ') : 'par2'} is not installed; install it (Debian: apt-get install par2) or pass --no-parity`,
    );
  }
  for (const r of roots) {
    if (isWithin(dest, r)) {
      throw new UsageError(`the disk ${dest} lies inside the data path ${r}; Blaine would archive its own archive: choose data paths beside the disk`);
    }
    if (isWithin(r, dest)) throw new UsageError(`the data path ${r} lies on the archive disk ${dest}`);
    if (!fs.existsSync(r) || !fs.statSync(r).isDirectory()) out.warn(`data path ${r} does not exist or is not a directory; nothing under it is archived or removed`);
  }
  const options = { matchMode, clean: !!opts.clean, maxDeletePct, force: !!opts.force };

  if (opts.dryRun) return dryRun(opts, dest, db, roots, filter, options, out, started);

  const phase = (name: string) => out.debug(`phase ${name}: ${Date.now() - started} ms since start, ${Math.round(performance.now())} ms since the process began`);
  phase('checked options');
  // The data paths are walked in a thread of their own while this one prepares the disk.
  const scanning = scanInBackground(roots, filter, (n) => out.progress(`scanning: ${n} files`));
  let session: DiskSession;
  try {
    session = openDiskSession({ dest, db, init: opts.init, label: opts.label });
  } catch (err) {
    scanning.cancel();
    throw err;
  }
  phase('opened disk and catalogs');
  const interrupt = interruptSignal(out);
  let pool: ParityPool | null = null;
  try {
    const { info } = session;
    out.debug(`disk ${dest}: volume ${info.volume} (${info.label}), copy ${info.copy}, ${session.sync}`);
    if (session.leftovers > 0) out.info(`removed ${session.leftovers} leftover(s) of an interrupted run`);
    if (session.sync === 'imported' && session.disk.volumeStats(info.volume).files > 0) out.info(`host catalog updated from the disk catalog of "${info.label}"`);
    if (session.sync === 'recovered') out.warn(`the last run on "${info.label}" did not finish; its disk catalog is taken as the truth`);
    pool = withParity ? new ParityPool({ jobs, pct: parityPct, maxSlices: paritySlices, cfg: par2Command ? { command: par2Command } : undefined }) : null;
    beginWrite(session);
    const execOpts = {
      root: session.root,
      volume: info.volume,
      host: session.host,
      disk: session.disk,
      parity: pool,
      parityPct,
      reserve: reserve + catalogHeadroom(session.root, db) + longerLog(session),
      signal: interrupt.signal,
      detail: (m: string) => out.detail(m),
      warn: (m: string) => out.warn(m),
      fs: fileSystem(),
    };
    // The volume's queued actions come first, and whatever its other copy did since (SPEC §5, §8).
    const pendingChanged = session.sync !== 'in-sync';
    if (session.sync === 'behind') {
      const caught = await catchUp(session, execOpts);
      if (caught.applied > 0) out.info(`applied ${caught.applied} deferred action(s) on "${info.label}"`);
      if (caught.changed > 0) out.info(`brought "${info.copyLabel}" up to date: ${caught.changed} change(s)`);
      if (caught.stopped) {
        await finishWrite(session, 'backup', caught.stopped, {});
        out.error(caught.stopped === 'disk-full' ? 'the disk is full' : 'interrupted');
        return caught.stopped === 'disk-full' ? EXIT.diskFull : EXIT.interrupted;
      }
    }

    phase('caught up');
    // A copy that was behind plans against its whole catalog; otherwise unchanged files stop here,
    // compared chunk by chunk while the scan goes on.
    const behind = session.sync === 'behind';
    const disk = session.disk;
    const quick = behind
      ? null
      : new QuickCheck({ text: (lo, hi) => disk.quickText(info.volume, lo, hi), rows: (lo, hi) => disk.quickRows(info.volume, lo, hi) });
    if (quick) {
      disk.mapReads(true);
      scanning.onChunk((root, chunk) => quick.add(root, chunk));
    }
    let packed: PackedScan[];
    try {
      packed = await scanning.result;
    } finally {
      if (quick) disk.mapReads(false);
    }
    phase('scanned');
    const skipped = packed.flatMap((s) => s.skipped);
    for (const s of skipped) out.warn(`${s.path} ${s.message}; skipped`);
    let hashSkips = 0;
    const checked = quick?.result(packed) ?? null;
    const view = catalogView(session.host, session.disk, info.volume, roots, behind, checked?.keep);
    phase(`loaded catalog (${checked ? `${checked.unchanged} unchanged by quick check` : 'in full'})`);
    const p = await planWithHashes(checked?.scans ?? packed.map(unpack), view, info.volume, options, (_path, message) => {
      hashSkips++;
      out.warn(`${message}; skipped`);
    });
    reportGuard(p, out);
    phase('planned');
    const result = await executePlan(p.ops, {
      ...execOpts,
      progress: (done, total, bytes) => out.progress(`backup: ${done}/${total} operations, ${formatBytes(bytes)} copied`),
    });
    out.clearProgress();
    const summary = summarize(p, result, skipped.length + hashSkips, started, null);
    const changed = result.done > 0 || pendingChanged;
    phase('executed');
    summary.freeBytes = await finishWrite(session, 'backup', result.stopped?.reason ?? 'ok', summary, changed);
    phase('finished');
    printSummary(out, summary, `"${info.label}"`);
    if (result.stopped?.reason === 'disk-full') {
      out.error(`${result.stopped.message}; everything written so far is catalogued. Mount a new disk and run \`blaine backup --init\` to go on`);
      return EXIT.diskFull;
    }
    if (result.stopped?.reason === 'interrupted') {
      out.error('interrupted; everything written so far is catalogued. Run the backup again to continue');
      return EXIT.interrupted;
    }
    if (p.guarded.length > 0) return EXIT.error;
    if (summary.skipped > 0) {
      out.error(`${summary.skipped} file(s) could not be read and were skipped (see the warnings above)`);
      return EXIT.error;
    }
    if (roots.some((r) => !fs.existsSync(r) || !fs.statSync(r).isDirectory())) return EXIT.error;
    return EXIT.ok;
  } finally {
    scanning.cancel();
    interrupt.dispose();
    pool?.abort();
    session.close();
  }
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * Room the run's own bookkeeping needs on the disk at its end: a rotated copy of the disk catalog and
 * the snapshot of the host catalog, each about the size of its database today, plus growth.
 */
function catalogHeadroom(root: string, db: string): number {
  const disk = diskCatalogPath(root);
  return sizeOf(db) + sizeOf(`${db}-wal`) + 2 * (sizeOf(disk) + sizeOf(`${disk}-wal`)) + (1 << 20);
}

/** SQLite's default write-ahead log length, in pages, and the longest Blaine lets a run's grow. */
const DEFAULT_LOG_PAGES = 1000;
const LONG_LOG_PAGES = 16384;

/**
 * Lets the catalogs' write-ahead logs grow longer during the run (Catalog.setCheckpointPages):
 * the host catalog's to LONG_LOG_PAGES, the disk's as far as 1/64 of the disk's free space allows.
 * Returns the disk space the longer disk log may take beyond the default, to keep free for it.
 */
function longerLog(session: DiskSession): number {
  session.host.setCheckpointPages(LONG_LOG_PAGES);
  const page = session.disk.pageSize();
  const pages = Math.min(LONG_LOG_PAGES, Math.max(DEFAULT_LOG_PAGES, Math.floor(freeBytes(session.root) / 64 / page)));
  session.disk.setCheckpointPages(pages);
  return (pages - DEFAULT_LOG_PAGES) * page;
}

function reportGuard(p: Plan, out: Output): void {
  for (const g of p.guarded) {
    out.error(`nothing removed: ${g.reason}; check that the data path is mounted, or pass --force`);
  }
}

/** Plans against the catalogs as they are, opened read-only, and prints the operations; writes nothing. */
async function dryRun(
  opts: BackupOptions,
  dest: string,
  db: string,
  roots: string[],
  filter: ExclusionFilter | undefined,
  options: { matchMode: MatchMode; clean: boolean; maxDeletePct: number; force: boolean },
  out: Output,
  started: number,
): Promise<number> {
  let volume: string;
  let label: string;
  let disk: Catalog;
  if (opts.init) {
    // Checks the disk could be initialised, without doing it.
    let already = false;
    try {
      readVolume(dest);
      already = true;
    } catch {
      // not a Blaine disk yet: as it should be
    }
    if (already) throw new UserError(`${dest} is already a Blaine disk; --init refused`);
    if (!fs.existsSync(dest) || !fs.statSync(dest).isDirectory()) {
      throw new UserError(`${dest} does not exist or is not a directory; is the disk mounted?`);
    }
    volume = '(new volume)';
    label = opts.label ?? dest;
    disk = Catalog.memory();
  } else {
    const info = readVolume(dest);
    volume = info.volume;
    label = info.label;
    const file = diskCatalogPath(dest);
    disk = fs.existsSync(file) ? Catalog.openCopy(file) : Catalog.memory();
  }
  const host = fs.existsSync(db) ? Catalog.openCopy(db) : Catalog.memory();
  try {
    const { scans, skipped } = scanDataPaths(roots, filter);
    for (const s of skipped) out.warn(`${s.path} ${s.message}; would be skipped`);
    let hashSkips = 0;
    const p = await planWithHashes(scans, catalogView(host, disk, volume, roots), volume, options, (_path, message) => {
      hashSkips++;
      out.warn(`${message}; would be skipped`);
    });
    reportGuard(p, out);
    if (!out.json) {
      out.info(`dry run: nothing is changed`);
      for (const op of p.ops) out.info(describeOp(op));
    }
    const summary = summarize(p, null, skipped.length + hashSkips, started, null);
    summary.bytesCopied = p.bytesToCopy;
    printSummary(out, summary, `would do on "${label}"`);
    return p.guarded.length > 0 ? EXIT.error : EXIT.ok;
  } finally {
    host.close();
    disk.close();
  }
}
