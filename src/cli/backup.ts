import os from 'node:os';
import type { Command } from 'commander';
import { normaliseRoots } from '../backup/backup.js';
import { checkDataPaths, exclusionFilter, MATCH_MODES, requirePar2 } from '../backup/preflight.js';
import { runBackup, type BackupOutcome } from '../backup/run.js';
import { parseBytes } from '../fsx/space.js';
import type { MatchMode } from '../plan/operation.js';
import type { Rule } from '../scan/exclude.js';
import {
  action,
  addCommonOptions,
  addParityOptions,
  dbPath,
  fileSystem,
  interruptSignal,
  keyProvider,
  parseNumber,
  par2Argv,
  parityCreator,
  parseParityMemory,
  repeatableOption,
  requireDest,
  scanTuning,
  warnIfSlowParity,
  type CommonOptions,
} from './common.js';
import { UsageError } from './exit.js';
import type { Output } from './output.js';
import { reportBackup, tellBackupEvent } from './backup-report.js';
import { retireIfCopy } from './retire.js';
import { configRules } from './config.js';
import { chooseSettings, rememberedSettings, type SettingSource } from '../backup/settings.js';

interface BackupOptions extends CommonOptions {
  init?: boolean;
  label?: string;
  encrypt?: boolean;
  clean?: boolean;
  maxDelete: string;
  force?: boolean;
  discardChanges?: boolean;
  dryRun?: boolean;
  /** --exclude and --include in the order given (first match wins). */
  rule?: Rule[];
  exclude?: string[];
  include?: string[];
  excludeRegex?: string[];
  paths?: string[];
  snapraidConf?: string;
  matchMode: string;
  parity: string | number;
  noParity?: boolean;
  /** commander's name for --no-parity's negation */
  paritySlices: string | number;
  parityMemory?: string;
  reserve?: string | number;
  /** Where reserve and parity came from (commander's sources): the disk's remembered ones lose only to the command line. */
  sources?: { reserve: SettingSource; parity: SettingSource };
  jobs?: string | number;
  par2Command?: string | string[];
}

export function registerBackup(program: Command): void {
  // Both flags feed one ordered list, since SnapRAID's rules are tried in the order written.
  const rules: Rule[] = [];
  const cmd = program
    .command('backup')
    .summary('archive data paths onto the mounted disk')
    .description(
      'Archive the data paths (PATH...) onto the mounted archive disk. Only the mounted disk is written; ' +
        'changes to files held by offline disks are queued as deferred actions for them.',
    )
    .argument('[path...]', 'data paths to archive (default: the config file\'s `paths = [...]`)')
    // A config file's `paths = [...]` (the command line's paths are its arguments).
    .addOption(repeatableOption('--paths <path>', 'a data path').hideHelp())
    .option('--init', 'make --dest a new Blaine disk (refused if it already is one)')
    .option('--label <label>', 'with --init: the volume label (default: the directory name)')
    .option('--encrypt', 'with --init: encrypt the new disk (gocryptfs)')
    .option('--clean', 'remove archived files that are gone from the data paths')
    .option('--max-delete <pct>', 'with --clean: most files (percent of a data path) one run may remove', '10')
    .option('--force', 'remove even when the mass-delete guard trips; with --init, accept a disk that holds files (left alone), or retire a mirror copy')
    .option('--discard-changes', 'with --init --force on a mirror copy: retire it even though its twin lacks changes only it holds')
    .option('--dry-run', 'print what would happen and change nothing')
    .addOption(repeatableOption('--exclude <rule>', 'SnapRAID-style exclude rule', (pattern) => rules.push({ kind: 'exclude', pattern })))
    .addOption(repeatableOption('--include <rule>', 'SnapRAID-style include rule', (pattern) => rules.push({ kind: 'include', pattern })))
    // Only a config file's ordered `rules = [...]` list uses it (the command line has its flags).
    .addOption(repeatableOption('--rules <rule>', 'an ordered rule, "exclude PATTERN" or "include PATTERN"').hideHelp())
    .addOption(repeatableOption('--exclude-regex <re>', 'exclude paths (relative to the data path) matching this regex'))
    .option('--snapraid-conf <file>', 'read exclude/include rules from a SnapRAID config')
    .option('--match-mode <mode>', `how renames are found: ${MATCH_MODES.join(', ')}`, 'inode');
  // --parity before --no-parity: commander takes the pair's default from the first one
  addParityOptions(cmd)
    .option('--no-parity', 'make no parity')
    .option('--reserve <bytes>', 'free space to leave on the disk (e.g. 10G, 500M; default 10G, or 2% of the disk when less); given to --init, it and --parity are remembered by the disk');
  addCommonOptions(cmd);
  cmd.action(
    action<BackupOptions>((opts, args, out) => {
      opts.rule = [...rules, ...configRules(opts.config, new Set(program.commands.map((c) => c.name())))];
      const source = (k: string): SettingSource => {
        const from = cmd.getOptionValueSource(k);
        return from === 'cli' ? 'cli' : from === 'config' ? 'config' : 'default';
      };
      opts.sources = { reserve: source('reserve'), parity: source('parity') };
      return backup(opts, args, out);
    }),
  );
}

async function backup(opts: BackupOptions, args: string[], out: Output): Promise<number> {
  const started = Date.now();
  const dest = requireDest(opts);
  const db = dbPath(opts);
  if (opts.label !== undefined && !opts.init) throw new UsageError('--label goes with --init');
  if (opts.encrypt && !opts.init) throw new UsageError('--encrypt goes with --init: only a new disk can be made encrypted');
  const matchMode = opts.matchMode as MatchMode;
  if (!MATCH_MODES.includes(matchMode)) throw new UsageError(`--match-mode must be one of ${MATCH_MODES.join(', ')}`);
  const maxDeletePct = parseNumber('--max-delete', 0, 100)(String(opts.maxDelete));
  // commander turns --no-parity into parity === false
  const noParity = (opts.parity as unknown) === false || !!opts.noParity;
  const givenParity = noParity ? 0 : parseNumber('--parity', 0, 100)(String(opts.parity));
  const paritySlices = parseNumber('--parity-slices', 1, 32768, true)(String(opts.paritySlices));
  const jobs = opts.jobs === undefined ? os.availableParallelism() : parseNumber('--jobs', 1, 256, true)(String(opts.jobs));
  let givenReserve: number | undefined;
  try {
    givenReserve = opts.reserve === undefined ? undefined : parseBytes(String(opts.reserve));
  } catch (err) {
    throw new UsageError(`--reserve: ${(err as Error).message}`);
  }
  const sources = opts.sources ?? { reserve: 'cli', parity: 'cli' };
  const chosen = chooseSettings(
    { reserve: givenReserve, reserveFrom: sources.reserve, parity: givenParity, parityFrom: sources.parity },
    opts.init ? {} : rememberedSettings(dest, fileSystem()),
    dest,
    fileSystem(),
  );
  if (chosen.fromDisk.length > 0) out.debug(`from the disk's volume.json: ${chosen.fromDisk.join(', ')}`);
  const { reserve } = chosen;
  const parityPct = chosen.parity;
  const parityMemory = parseParityMemory(opts.parityMemory);
  const withParity = parityPct > 0;
  const filter = exclusionFilter(opts.snapraidConf, opts.rule ?? [], opts.excludeRegex ?? [], fileSystem());
  const given = args.length > 0 ? args : (opts.paths ?? []);
  if (given.length === 0) throw new UsageError('name the data paths to archive: blaine backup --dest DISK PATH..., or `paths = [...]` in the config file');
  const roots = normaliseRoots(given);
  const par2Command = par2Argv(opts.par2Command);
  const creator = parityCreator();
  if (withParity && !opts.dryRun) {
    requirePar2(par2Command);
    warnIfSlowParity(creator, par2Command);
  }
  for (const r of checkDataPaths(dest, roots, fileSystem(), filter)) out.warn(`data path ${r} does not exist or is not a directory; nothing under it is archived or removed`);
  retireIfCopy({ dest, db, init: !!opts.init, force: !!opts.force, discard: !!opts.discardChanges, dryRun: !!opts.dryRun, key: keyProvider(opts), fs: fileSystem() }, out);
  const options = { matchMode, clean: !!opts.clean, maxDeletePct, force: !!opts.force };
  // A dry run changes nothing, so Ctrl-C may end it at once, as it always has.
  const interrupt = opts.dryRun ? null : interruptSignal(out);
  let r: BackupOutcome;
  try {
    r = await runBackup(
      {
        disk: {
          dest,
          db,
          init: !!opts.init,
          label: opts.label,
          encrypt: !!opts.encrypt,
          key: keyProvider(opts),
          remember: opts.init && Object.keys(chosen.remember).length > 0 ? chosen.remember : undefined,
        },
        scan: { roots, filter, ...scanTuning() },
        plan: options,
        parity: { pct: parityPct, slices: paritySlices, memory: parityMemory, jobs, command: par2Command, creator },
        reserve,
        dryRun: !!opts.dryRun,
        started,
        signal: interrupt?.signal ?? new AbortController().signal,
        fs: fileSystem(),
      },
      { event: (e) => tellBackupEvent(e, out, started), progress: out.progress },
    );
  } finally {
    interrupt?.dispose();
  }
  return reportBackup(r, out, roots, !!opts.init);
}
