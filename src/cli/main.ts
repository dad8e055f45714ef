import { Command, CommanderError, type Option } from 'commander';
import { ConfigError, findConfigFile, loadConfig, type ConfigValue } from './config.js';
import { registerBackup } from './backup.js';
import { isRepeatable } from './common.js';
import { describeError, EXIT } from './exit.js';
import { registerList } from './list.js';
import { registerRestore } from './restore.js';
import { registerVerify } from './verify.js';
import { registerApply } from './apply.js';
import { registerDisks } from './disks.js';
import { registerPending } from './pending.js';
import { registerClone } from './clone.js';
import { registerMount } from './mount.js';
import { registerReport } from './report.js';
import { registerForgetDisk } from './forget-disk.js';
import { registerRemove } from './remove.js';
import { registerRebuildCatalog } from './rebuild-catalog.js';
import { addExamples } from './examples.js';
import { registerNotify } from './notify.js';
import { registerDocs } from './completion.js';

export function buildProgram(): Command {
  const program = new Command('blaine')
    .description('Archive large media collections onto a rotating set of removable disks, with PAR2 parity.')
    .version('0.1.0')
    .exitOverride()
    .showSuggestionAfterError(true);
  registerBackup(program);
  registerList(program);
  registerVerify(program);
  registerRestore(program);
  registerDisks(program);
  registerPending(program);
  registerApply(program);
  registerClone(program);
  registerMount(program);
  registerReport(program);
  registerRemove(program);
  registerForgetDisk(program);
  registerRebuildCatalog(program);
  registerNotify(program);
  registerDocs(program);
  addExamples(program);
  program.hook('preAction', (_root, cmd) => applyConfig(program, cmd));
  return program;
}

function valueFits(opt: Option, v: ConfigValue): ConfigValue {
  const name = opt.long ?? opt.name();
  if (opt.isBoolean() || opt.negate) {
    if (typeof v !== 'boolean') throw new ConfigError(`${name.replace(/^--/, '')} must be true or false`);
    return opt.negate ? !v : v;
  }
  if (isRepeatable(opt)) {
    return Array.isArray(v) ? v : [String(v)];
  }
  if (Array.isArray(v)) throw new ConfigError(`${name.replace(/^--/, '')} takes one value, not a list`);
  return typeof v === 'boolean' ? v : String(v);
}

/**
 * Settings from --config fill in every option the command line did not give. A key no command
 * knows is an error rather than silently ignored: a typo in a backup config must not pass unseen.
 */
function applyConfig(program: Command, cmd: Command): void {
  let file = cmd.opts().config as string | undefined;
  if (!file) {
    // The same file for the units and for commands typed by hand: found without a flag.
    file = findConfigFile(process.env);
    if (!file) return;
    if (cmd.options.some((o) => o.attributeName() === 'config')) cmd.setOptionValueWithSource('config', file, 'env');
  }
  const commands = new Set(program.commands.map((c) => c.name()));
  const cfg = loadConfig(file, commands);
  const known = new Map<string, Set<string>>();
  for (const c of program.commands) {
    for (const o of c.options) {
      const set = known.get(c.name()) ?? new Set<string>();
      set.add(o.attributeName());
      if (o.negate) set.add(`no${o.attributeName()[0]!.toUpperCase()}${o.attributeName().slice(1)}`);
      known.set(c.name(), set);
    }
  }
  const anyKnows = (k: string) => [...known.values()].some((s) => s.has(k));
  for (const k of cfg.common.keys()) if (!anyKnows(k)) throw new ConfigError(`${file}: unknown setting "${k}"`);
  for (const [c, table] of cfg.perCommand) {
    for (const k of table.keys()) if (!known.get(c)?.has(k)) throw new ConfigError(`${file}: [${c}] has no setting "${k}"`);
  }
  const settings = new Map([...cfg.common, ...(cfg.perCommand.get(cmd.name()) ?? new Map<string, ConfigValue>())]);
  for (const opt of cmd.options) {
    const attr = opt.attributeName();
    const negKey = opt.negate ? `no${attr[0]!.toUpperCase()}${attr.slice(1)}` : undefined;
    const raw = negKey && settings.has(negKey) ? settings.get(negKey) : opt.negate ? undefined : settings.get(attr);
    if (raw === undefined) continue;
    if (cmd.getOptionValueSource(attr) === 'cli') continue;
    cmd.setOptionValueWithSource(attr, valueFits(opt, raw), 'config');
  }
}

/**
 * `blaine -q disks`: options every command has, given before the command's name, are moved after
 * it, where commander looks for them. Whether an option takes a value is read from the command's
 * own definition.
 */
export function globalOptionsAfterCommand(program: Command, argv: string[]): string[] {
  const before: string[] = [];
  const flags: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-')) {
      const cmd = program.commands.find((c) => c.name() === arg);
      // Each option moved must be one this command has, else commander's own answer stands.
      if (!cmd || i === 0) return argv;
      if (!flags.every((f) => cmd.options.some((o) => o.long === f || o.short === f))) return argv;
      return [arg, ...before, ...argv.slice(i + 1)];
    }
    // --help, --version and unknown options stay where they are for commander to answer.
    const flag = arg.split('=')[0]!;
    const opt = program.commands.flatMap((c) => c.options).find((o) => o.long === flag || o.short === flag);
    if (!opt) return argv;
    flags.push(flag);
    before.push(arg);
    if (opt.required && !arg.includes('=')) {
      if (i + 1 >= argv.length) return argv;
      before.push(argv[++i]!);
    }
  }
  return argv;
}

/**
 * `blaine list | head`: the reader went away. What is left to print is dropped without a word;
 * the command itself goes on to its end (a backup must not stop half-way because its reader did).
 */
function quietOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      stream.write = (() => true) as typeof stream.write;
    });
  }
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  quietOnClosedPipe();
  try {
    await program.parseAsync(globalOptionsAfterCommand(program, argv), { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and --version end here too, with status 0
      process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    const d = describeError(err);
    process.stderr.write(`blaine: ${d.message}\n`);
    process.exitCode = d.code;
  }
}
