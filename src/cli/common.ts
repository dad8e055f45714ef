import os from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import { obtainKey } from '../crypt/key.js';
import type { KeyProvider } from '../archive/session.js';
import { fileSystemFromEnv } from '../fsx/fault.js';
import type { Fsx } from '../fsx/fsx.js';
import { parseBytes } from '../fsx/space.js';
import { describeError, EXIT, UsageError, UserError } from './exit.js';
import { Output, type Verbosity } from './output.js';

export interface CommonOptions {
  config?: string;
  db?: string;
  dest?: string;
  keyFile?: string;
  verbose?: boolean;
  quiet?: boolean;
  logFile?: string;
  json?: boolean;
}

/** Options every command takes (SPEC §4); each command lists them in its own --help. */
export function addCommonOptions(cmd: Command, opts: { dest?: 'required' | 'optional' | 'none' } = {}): Command {
  cmd.option('--config <file>', 'TOML file with settings (the command line wins)');
  cmd.option('--db <file>', 'host catalog (default $XDG_DATA_HOME/blaine/catalog.sqlite)');
  if (opts.dest !== 'none') cmd.option('--dest <disk>', 'the mounted archive disk');
  cmd.option('--key-file <file>', 'encryption key file (or env BLAINE_KEY)');
  cmd.addOption(new Option('-v, --verbose', 'more output').conflicts('quiet'));
  cmd.option('-q, --quiet', 'less output');
  cmd.option('--log-file <file>', 'append a full debug log to this file');
  cmd.option('--json', 'machine-readable output on stdout');
  return cmd;
}

export function defaultDbPath(): string {
  const base = process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(base, 'blaine', 'catalog.sqlite');
}

export function dbPath(o: CommonOptions): string {
  return path.resolve(o.db ?? defaultDbPath());
}

export function requireDest(o: CommonOptions): string {
  if (!o.dest) throw new UserError('--dest is required: name the mounted archive disk', EXIT.usage);
  return path.resolve(o.dest);
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
    out.debug(`blaine ${process.argv.slice(2).join(' ')} (pid ${process.pid}, Blaine ${cmd.parent?.version() ?? ''})`);
    try {
      process.exitCode = await fn(opts, cmd.args, out);
    } catch (err) {
      const d = describeError(err);
      if (err instanceof Error && err.stack) out.debug(err.stack);
      out.error(d.message);
      process.exitCode = d.code;
    } finally {
      out.debug(`exit status ${process.exitCode ?? 0}`);
      out.close();
    }
  };
}

let processFs: Fsx | undefined;

/** The file-system layer this process's engines work through (one per process; see fileSystemFromEnv). */
export function fileSystem(): Fsx {
  return (processFs ??= fileSystemFromEnv());
}

/** Ctrl-C and SIGTERM ask the run to stop cleanly; a second one ends the process at once. */
export function interruptSignal(out: Output): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    out.warn(`${sig}: stopping after the file under way (press again to stop at once)`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // bin/blaine caught a signal while the program was loading: the command stops before it starts.
  if ((globalThis as { blaineSignalled?: boolean }).blaineSignalled) {
    out.warn('interrupted while starting: stopping');
    controller.abort();
  }
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** The parity settings backup uses and verify --fix uses again when it remakes parity. */
export function addParityOptions(cmd: Command, when = ''): Command {
  return cmd
    .option('--parity <pct>', `${when}PAR2 redundancy in percent`, '10')
    .option('--parity-slices <n>', `${when}most PAR2 slices per file`, '256')
    .option('--jobs <n>', 'parity processes at once (default: all cores)')
    .option('--parity-memory <bytes>', `${when}memory for making parity, shared by the jobs (e.g. 512M; default: a quarter of RAM, at most 1G)`)
    .option('--par2-command <argv>', 'PAR2 creator to run instead of par2 (par2cmdline-compatible flags)');
}

/** `--parity-memory` in bytes, or undefined for the default. */
export function parseParityMemory(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  let n: number;
  try {
    n = parseBytes(String(value));
  } catch (err) {
    throw new UsageError(`--parity-memory: ${(err as Error).message}`);
  }
  if (n < 1_000_000) throw new UsageError('--parity-memory must be at least 1M');
  return n;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

const repeatables = new WeakSet<Option>();

/**
 * An option that may be given several times, collecting its values in order; a config file gives
 * it as a list. Declared as such, so that config validation knows it (isRepeatable) instead of
 * guessing from the help text. onEach sees every value as it is given (for orderings across options).
 */
export function repeatableOption(flags: string, description: string, onEach?: (value: string) => void): Option {
  const opt = new Option(flags, `${description} (repeatable)`).argParser((value: string, previous: string[] | undefined) => {
    onEach?.(value);
    return collect(value, previous);
  });
  repeatables.add(opt);
  return opt;
}

/** True for options declared with repeatableOption (or variadic ones): their config value is a list. */
export function isRepeatable(opt: Option): boolean {
  return opt.variadic || repeatables.has(opt);
}

export function parseNumber(what: string, min: number, max: number, integer = false) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      throw new UserError(`${what} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, not "${value}"`, EXIT.usage);
    }
    return n;
  };
}
