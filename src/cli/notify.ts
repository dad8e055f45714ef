import type { Command } from 'commander';
import { action, addCommonOptions, parseNumber, type CommonOptions } from './common.js';
import { EXIT } from './exit.js';
import type { Output } from './output.js';

interface NotifyOptions extends CommonOptions {
  status: string;
}

export function registerNotify(program: Command): void {
  const cmd = program
    .command('notify')
    .summary('tell the notify hook about a run that could not tell it itself')
    .description(
      'Run the configured notify hook (notify = "command …" in the config file) for a run that ended ' +
        'without telling it (killed, timed out): the units in contrib/ call it then. Every other run ' +
        'tells the hook itself.',
    )
    .argument('[message...]', 'what happened, in words')
    .option('--status <n>', 'the exit status to report', '1');
  addCommonOptions(cmd);
  cmd.action(action<NotifyOptions>(notify));
}

function notify(opts: NotifyOptions, words: string[], out: Output): number {
  out.reportedStatus = parseNumber('--status', 0, 255, true)(String(opts.status));
  if (words.length > 0) out.error(words.join(' '));
  if (!opts.notify) out.warn('no notify hook is configured: add notify = "command …" to the config file');
  return EXIT.ok;
}
