import os from 'node:os';
import type { Command } from 'commander';
import { openDiskSession, recoveryMessages } from '../archive/session.js';
import { verifyDisk, type Problem } from '../verify/verify.js';
import { par2Available } from '../parity/par2.js';
import { action, addCommonOptions, fileSystem, addParityOptions, dbPath, interruptSignal, keyProvider, par2Argv, parityCreator, parseNumber, parseParityMemory, progressAs, requireDest, warnIfSlowParity, type CommonOptions } from './common.js';
import { EXIT, UsageError, UserError } from './exit.js';
import type { Output } from './output.js';
import { formatBytes } from '../fsx/space.js';

interface VerifyOptions extends CommonOptions {
  checksum?: boolean;
  olderThan?: string;
  maxTime?: string;
  fix?: boolean;
  dropExtra?: boolean;
  maxDelete: string | number;
  force?: boolean;
  parity: string | number;
  paritySlices: string | number;
  parityMemory?: string;
  jobs?: string | number;
  par2Command?: string | string[];
}

export function registerVerify(program: Command): void {
  const cmd = program
    .command('verify')
    .summary('compare a disk with its catalog; --checksum reads every byte; --fix repairs')
    .description(
      'Compare the mounted disk with its own catalog: missing and extra files, size and mtime ' +
        'mismatches, missing, damaged and orphaned parity. --checksum also reads the files, least ' +
        'recently verified first, and checks their SHA-256 and their parity files. --fix repairs from ' +
        'parity, makes missing parity, removes orphaned parity, fixes mtimes and moves files the catalog ' +
        'does not list to .blaine/quarantine (--drop-extra deletes them instead). ' +
        'Exit status 0: clean (or everything repaired); 4: damage remains.',
    )
    .option('--checksum', 'read every byte and check SHA-256 (and the parity files)')
    .option('--older-than <days>', 'with --checksum: only files not verified for this many days')
    .option('--max-time <min>', 'with --checksum: start no new file after this many minutes')
    .option('--fix', 'repair what can be repaired')
    .option('--drop-extra', 'with --fix: delete files the catalog does not list instead of quarantining them')
    .option('--max-delete <pct>', 'with --drop-extra: most files to delete, in percent of the catalogued ones', '10')
    .option('--force', 'with --drop-extra: delete even beyond --max-delete');
  addParityOptions(cmd, 'with --fix, for parity made again: ');
  addCommonOptions(cmd);
  cmd.action(action<VerifyOptions>(verify));
}

function describe(p: Problem, fix: boolean): string {
  const status = fix ? (p.repaired ? 'repaired   ' : 'NOT FIXED  ') : '';
  return `${p.kind.padEnd(15)}${status}${p.path}: ${p.detail}`;
}

async function verify(opts: VerifyOptions, _args: string[], out: Output): Promise<number> {
  const started = Date.now();
  const dest = requireDest(opts);
  if (!opts.checksum && (opts.olderThan !== undefined || opts.maxTime !== undefined)) {
    throw new UsageError('--older-than and --max-time go with --checksum');
  }
  const olderThanDays = opts.olderThan === undefined ? undefined : parseNumber('--older-than', 0, 36500)(opts.olderThan);
  const maxTimeMin = opts.maxTime === undefined ? undefined : parseNumber('--max-time', 0, 1e7)(opts.maxTime);
  const parityPct = parseNumber('--parity', 0.01, 100)(String(opts.parity));
  const paritySlices = parseNumber('--parity-slices', 1, 32768, true)(String(opts.paritySlices));
  const jobs = opts.jobs === undefined ? os.availableParallelism() : parseNumber('--jobs', 1, 256, true)(String(opts.jobs));
  const par2Command = par2Argv(opts.par2Command);
  const par2 = par2Command ? { command: par2Command } : undefined;
  if (opts.fix && !par2Available(par2)) {
    throw new UserError(`${par2Command ? par2Command.join(' ') : 'par2'} is not installed; --fix needs it (Debian: apt-get install par2)`);
  }

  if (opts.fix) warnIfSlowParity(parityCreator(), par2Command);
  const session = openDiskSession({ dest, db: dbPath(opts), key: keyProvider(opts), readsDisk: !opts.fix, fs: fileSystem() });
  const interrupt = interruptSignal(out);
  try {
    const { info } = session;
    for (const m of recoveryMessages(session)) out.warn(m);
    if (session.readOnly) out.warn(`${dest} is mounted read-only: it is verified as it is, and nothing is recorded on it (when each file was last read included)`);
    if (session.leftovers > 0) out.info(`removed ${session.leftovers} leftover(s) of an interrupted run`);
    if (session.sync === 'recovered') out.warn(`the last run on "${info.label}" did not finish; its disk catalog is taken as the truth`);
    const pending = session.host.deferred(info.volume).length;
    if (pending > 0) out.info(`"${info.label}" has ${pending} deferred action(s) waiting; \`blaine apply\` carries them out`);
    const run = session.host.startRun('verify', info.volume, info.copy);
    let result;
    try {
      result = await verifyDisk({
        root: session.root,
        identity: session.identity,
        volume: info.volume,
        disk: session.disk,
        host: session.host,
        checksum: !!opts.checksum,
        olderThanSec: olderThanDays === undefined ? undefined : olderThanDays * 86400,
        maxTimeMs: maxTimeMin === undefined ? undefined : maxTimeMin * 60_000,
        fix: !!opts.fix,
        dropExtra: !!opts.dropExtra,
        maxDeletePct: parseNumber('--max-delete', 0, 100)(String(opts.maxDelete)),
        force: !!opts.force,
        foreign: info.foreign,
        parityPct,
        paritySlices,
        parityMemory: parseParityMemory(opts.parityMemory),
        jobs,
        par2,
        parityCreator: parityCreator(),
        signal: interrupt.signal,
        detail: (m) => out.detail(m),
        warn: (m) => out.warn(m),
        fs: fileSystem(),
        progress: progressAs(out, 'verifying'),
      });
    } catch (err) {
      session.host.transaction(() => session.host.finishRun(run, 'error', { error: (err as Error)?.message ?? String(err) }, null, null));
      throw err;
    }
    out.clearProgress();
    const open = result.problems.filter((p) => !p.repaired);
    const ok = open.length === 0 && !result.interrupted;
    const summary = { ok, checked: result.checked, compared: result.compared, remaining: result.remaining, problems: result.problems };
    session.host.transaction(() =>
      session.host.finishRun(run, result.interrupted ? 'interrupted' : ok ? 'ok' : 'damage', { ...summary, seconds: (Date.now() - started) / 1000 }, null, null),
    );
    out.outcome = summary;
    if (out.json) {
      out.result(summary);
    } else {
      for (const p of result.problems) out.info(describe(p, !!opts.fix));
      const read = opts.checksum || opts.fix ? `, ${result.checked} file(s) read and checked` : '';
      out.info(
        `"${info.label}": ${result.compared} catalogued path(s) compared${read}; ` +
          `${result.problems.length} problem(s), ${result.problems.length - open.length} repaired`,
      );
      if (result.remaining > 0) out.info(`${result.remaining} file(s) due for a checksum were left for the next run (--max-time)`);
    }
    if (result.interrupted) {
      out.error('interrupted; what was verified so far is recorded. Run verify again to continue');
      return EXIT.interrupted;
    }
    if (!ok) {
      out.error(
        opts.fix
          ? `${open.length} problem(s) could not be repaired (see above)`
          : `${open.length} problem(s) found; \`blaine verify --fix\` repairs what parity and the disk allow`,
      );
      return EXIT.damage;
    }
    return EXIT.ok;
  } finally {
    interrupt.dispose();
    session.close();
  }
}
