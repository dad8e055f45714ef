import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import { keyFileExposure, obtainKey } from '../crypt/key.js';
import { setLockWait } from '../archive/lock.js';
import { runNotifyHook } from '../notify/hook.js';
import { recordDiskHealth } from '../health/visit.js';
import type { KeyProvider } from '../archive/session.js';
import { fileSystemFromEnv } from '../fsx/fault.js';
import type { Fsx } from '../fsx/fsx.js';
import { describeError, EXIT, UsageError, UserError } from './exit.js';
import { Output, TOLD_LINES, type Verbosity } from './output.js';
import type { Phase } from '../progress/progress.js';

// The command files' one import for what they share.
export { interruptSignal } from './interrupt.js';
export { addParityOptions, isRepeatable, par2Argv, parseNumber, parseParityMemory, repeatableOption, warnIfSlowParity } from './options.js';
export { parityCreator, scanTuning } from './tuning.js';
import { parseDuration } from './options.js';

export interface CommonOptions {
  config?: string;
  db?: string;
  dest?: string;
  keyFile?: string;
  verbose?: boolean;
  quiet?: boolean;
  logFile?: string;
  json?: boolean;
  /** --wait (true) or --wait=DURATION: wait for a busy lock instead of failing. */
  wait?: string | boolean;
  /** A shell command told how the run went (config `notify = "…"`). */
  notify?: string;
}

/** Options every command takes (SPEC §4); each command lists them in its own --help. */
export function addCommonOptions(cmd: Command, opts: { dest?: 'required' | 'optional' | 'none' } = {}): Command {
  cmd.option('--config <file>', 'TOML file with settings (the command line wins; default $BLAINE_CONFIG, else ~/.config/blaine/config.toml, else /etc/blaine/config.toml)');
  cmd.option('--db <file>', 'host catalog (default $BLAINE_DB, else $XDG_DATA_HOME/blaine/catalog.sqlite)');
  if (opts.dest !== 'none') cmd.option('--dest <disk>', 'the mounted archive disk');
  cmd.option('--key-file <file>', 'encryption key file (or env BLAINE_KEY)');
  cmd.addOption(new Option('-v, --verbose', 'more output').conflicts('quiet'));
  cmd.option('-q, --quiet', 'less output');
  cmd.option('--log-file <file>', 'append a full debug log to this file');
  cmd.option('--json', 'machine-readable output on stdout');
  cmd.option('--notify <command>', 'after the run, run this shell command with the report as JSON on stdin and BLAINE_STATUS set (usually set in the config file)');
  cmd.option('--wait [duration]', 'when another Blaine run holds the host catalog or the disk, wait for it (as long as it takes, or e.g. --wait=2h) instead of failing');
  return cmd;
}

export function defaultDbPath(): string {
  if (process.env.BLAINE_DB) return process.env.BLAINE_DB;
  const base = process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(base, 'blaine', 'catalog.sqlite');
}

export function dbPath(o: CommonOptions): string {
  return path.resolve(o.db ?? defaultDbPath());
}

export function requireDest(o: CommonOptions): string {
  if (!o.dest) throw new UserError('--dest is required: name the mounted archive disk', EXIT.usage);
  return notAFile('--dest', o.dest, 'the directory where the archive disk is mounted');
}

/** A directory option given a file: one sentence saying so, before any engine finds it odder ways to fail. */
export function notAFile(flag: string, given: string, what: string): string {
  const p = path.resolve(given);
  let isFile = false;
  try {
    isFile = !fs.statSync(p).isDirectory();
  } catch {
    // missing: the command says what it needs
  }
  if (isFile) throw new UsageError(`${flag} ${p} is a file, not a directory: give ${what}`);
  return p;
}

/**
 * How a command gets an encrypted disk's key: --key-file, BLAINE_KEY, or asking at the terminal.
 * Asked once per command (clone opens two disks with one key); held in memory only.
 */
export function keyProvider(o: CommonOptions): KeyProvider {
  let key: string | undefined;
  return (purpose, confirm) => {
    key ??= obtainKey({
      keyFile: o.keyFile === undefined ? undefined : path.resolve(o.keyFile),
      env: process.env.BLAINE_KEY,
      interactive: !!process.stdin.isTTY && !!process.stderr.isTTY,
      confirm,
      purpose,
    });
    return key;
  };
}

export function makeOutput(o: CommonOptions): Output {
  const v: Verbosity = o.quiet ? -1 : o.verbose ? 1 : 0;
  return new Output(v, !!o.json, o.logFile);
}

/**
 * Wraps a command's action: builds its Output, turns every failure into one sentence on stderr and an
 * exit status, and never lets a stack trace reach the user (it goes to --log-file).
 */
export function action<O extends CommonOptions>(
  fn: (opts: O, args: string[], out: Output) => Promise<number> | number,
): (...a: unknown[]) => Promise<void> {
  return async (...a: unknown[]) => {
    const cmd = a[a.length - 1] as Command;
    const opts = cmd.opts() as O;
    let out: Output;
    try {
      out = makeOutput(opts);
    } catch (err) {
      process.stderr.write(`blaine: ${describeError(err).message}\n`);
      process.exitCode = EXIT.usage;
      return;
    }
    const startedAt = new Date();
    out.debug(`blaine ${process.argv.slice(2).join(' ')} (pid ${process.pid}, Blaine ${cmd.parent?.version() ?? ''})`);
    const exposed = opts.keyFile === undefined ? null : keyFileExposure(path.resolve(opts.keyFile));
    if (exposed) out.warn(exposed);
    try {
      if (opts.wait !== undefined && opts.wait !== false) setLockWait(opts.wait === true ? Infinity : parseDuration('--wait', String(opts.wait)), (m) => out.info(m));
      process.exitCode = await fn(opts, cmd.args, out);
    } catch (err) {
      const d = describeError(err, { hostCatalog: dbPath(opts) });
      if (err instanceof Error && err.stack) out.debug(err.stack);
      out.error(d.message);
      process.exitCode = d.code;
    } finally {
      if (VISITING.has(cmd.name()) && opts.dest && !(opts as { dryRun?: boolean }).dryRun) noteDiskHealth(dbPath(opts), path.resolve(opts.dest), out);
      out.debug(`exit status ${process.exitCode ?? 0}`);
      if (opts.notify && NOTIFYING.has(cmd.name())) tellHook(opts.notify, cmd.name(), opts.dest, startedAt, out);
      out.close();
    }
  };
}

/** The commands that write a mounted disk: each records the disk's health (SMART) after its run (restore only reads, and may run while the host catalog is busy). */
const VISITING = new Set(['backup', 'apply', 'verify', 'clone', 'remove']);

/** The disk's health is worth a line and its warnings; it never changes how the run ended. */
function noteDiskHealth(db: string, dest: string, out: Output): void {
  try {
    const visit = recordDiskHealth(db, dest, fileSystem());
    if (!visit) return;
    out.info(visit.line);
    for (const w of visit.warnings) out.warn(w);
  } catch (err) {
    out.warn(`disk health not recorded: ${describeError(err).message}`);
  }
}

/** The commands that work on a disk: each run of one is reported to the notify hook, whatever its outcome. */
const NOTIFYING = new Set(['backup', 'apply', 'verify', 'clone', 'remove', 'restore', 'rebuild-catalog', 'notify']);
function tellHook(command: string, name: string, dest: string | undefined, started: Date, out: Output): void {
  const problem = runNotifyHook(command, {
    command: name,
    status: out.reportedStatus ?? Number(process.exitCode ?? 0),
    dest: dest === undefined ? null : path.resolve(dest),
    started: started.toISOString(),
    finished: new Date().toISOString(),
    lines: out.told.slice(-TOLD_LINES),
    summary: out.outcome,
  });
  if (problem) out.warn(problem);
  else out.debug('notify hook told');
}

let processFs: Fsx | undefined;

/** The file-system layer this process's engines work through (one per process; see fileSystemFromEnv). */
export function fileSystem(): Fsx {
  return (processFs ??= fileSystemFromEnv());
}

/** An engine's progress callback (files done of a total, bytes), drawn on the output's progress line as `phase`. */
export function progressAs(out: Output, phase: Phase): (done: number, total: number, bytes: number) => void {
  return (done, total, bytes) => {
    if (out.progress.phase !== phase) out.progress.begin(phase, { files: total });
    out.progress.at(done, bytes);
  };
}
