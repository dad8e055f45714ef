import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'smol-toml';
import type { Rule } from '../scan/exclude.js';
import { BlaineError, EXIT } from '../error.js';

/** A config file that cannot be used: a usage error. */
export class ConfigError extends BlaineError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

export type ConfigValue = string | number | boolean | string[];

/** A TOML file's settings: top-level keys for every command, and [command] tables for one. */
export interface ConfigFile {
  file: string;
  common: Map<string, ConfigValue>;
  perCommand: Map<string, Map<string, ConfigValue>>;
}

/** snake_case and kebab-case keys both name an option; commander calls it by its camelCase name. */
export function optionKey(name: string): string {
  return name.replace(/[-_]+([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function readValue(file: string, where: string, v: unknown): ConfigValue {
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return Number(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new ConfigError(`${file}: ${where} must be a string, number, boolean or list of strings`);
}

/**
 * The config file used when --config is not given: $BLAINE_CONFIG (which must exist), else
 * $XDG_CONFIG_HOME/blaine/config.toml (~/.config when unset), else /etc/blaine/config.toml;
 * undefined when there is none. The units and commands typed by hand so read the same settings.
 */
export function findConfigFile(env: NodeJS.ProcessEnv): string | undefined {
  if (env.BLAINE_CONFIG) {
    if (!fs.existsSync(env.BLAINE_CONFIG)) throw new ConfigError(`BLAINE_CONFIG names ${env.BLAINE_CONFIG}, which does not exist`);
    return env.BLAINE_CONFIG;
  }
  const user = path.join(env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), 'blaine', 'config.toml');
  for (const file of [user, SYSTEM_CONFIG]) if (fs.existsSync(file)) return file;
  return undefined;
}

export const SYSTEM_CONFIG = '/etc/blaine/config.toml';

export function loadConfig(file: string, commands: ReadonlySet<string>): ConfigFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (err) {
    const first = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    throw new ConfigError(`config file ${file} is not valid TOML: ${first}`);
  }
  const common = new Map<string, ConfigValue>();
  const perCommand = new Map<string, Map<string, ConfigValue>>();
  for (const [k, v] of Object.entries(doc)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      if (!commands.has(k)) throw new ConfigError(`${file}: unknown section [${k}] (sections are command names)`);
      const table = new Map<string, ConfigValue>();
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) {
        table.set(optionKey(k2), readValue(file, `${k}.${k2}`, v2));
      }
      perCommand.set(k, table);
    } else {
      common.set(optionKey(k), readValue(file, k, v));
    }
  }
  return { file, common, perCommand };
}

function asList(v: ConfigValue | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [String(v)];
}

/**
 * A config file's exclusion rules for backup, which come after the command line's (SPEC §4): its
 * ordered `rules` list, then its `exclude` list, then its `include` list. Read from the file itself,
 * since an option the command line gives hides the config's value of it.
 */
export function configRules(file: string | undefined, commands: ReadonlySet<string>): Rule[] {
  if (!file) return [];
  const cfg = loadConfig(file, commands);
  const setting = (k: string) => cfg.perCommand.get('backup')?.get(k) ?? cfg.common.get(k);
  const out: Rule[] = [];
  for (const text of asList(setting('rules'))) {
    const m = /^\s*(exclude|include)\s+(\S.*?)\s*$/.exec(text);
    if (!m) throw new ConfigError(`${file}: rule "${text}" must read "exclude PATTERN" or "include PATTERN"`);
    out.push({ kind: m[1] as Rule['kind'], pattern: m[2]! });
  }
  for (const pattern of asList(setting('exclude'))) out.push({ kind: 'exclude', pattern });
  for (const pattern of asList(setting('include'))) out.push({ kind: 'include', pattern });
  return out;
}
