import { Option, type Command } from 'commander';
import { parseBytes } from '../fsx/space.js';
import { parityAddon } from '../parity/creator.js';
import { EXIT, UsageError, UserError } from './exit.js';

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

const DURATION_UNITS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400 };

/** "90", "90s", "15m", "2h", "1d" in milliseconds (a plain number is seconds). */
export function parseDuration(what: string, value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$/i.exec(value);
  if (!m) throw new UsageError(`${what} takes a duration such as 90s, 15m, 2h or 1d (written ${what}=2h), not "${value}"`);
  return Number(m[1]) * DURATION_UNITS[m[2]!.toLowerCase()]! * 1000;
}

/** `--par2-command` as an argument vector (the config file may give it as one string). */
export function par2Argv(v: string | string[] | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v : v.split(/\s+/).filter(Boolean);
}

let slowParitySaid = false;

/** Says once, before a run makes parity, that the native creator is missing: parity is then several times slower. */
export function warnIfSlowParity(creator: 'native' | 'par2', command: string[] | undefined): void {
  if (slowParitySaid || creator === 'par2' || parityAddon() !== null || !usesNativeCreatorWanted(command)) return;
  slowParitySaid = true;
  process.stderr.write('blaine: the native PAR2 creator is not built (no C compiler at install time?); making parity with par2cmdline, several times slower\n');
}

/** Without the addon, would the run have used Blaine's own creator (no other creator command configured)? */
function usesNativeCreatorWanted(command: string[] | undefined): boolean {
  return !command || (command.length === 1 && command[0] === 'par2');
}
