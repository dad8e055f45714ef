import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { renderShelfHtml } from '../report/html.js';
import { readShelf } from '../report/shelf.js';
import { action, addCommonOptions, parseNumber, type CommonOptions } from './common.js';
import { EXIT, UsageError, UserError } from './exit.js';
import type { Output } from './output.js';
import { openHostReadonly } from './pending.js';

interface ReportOptions extends CommonOptions {
  html?: string;
  scrubAfter: string;
}

export function registerReport(program: Command): void {
  const cmd = program
    .command('report')
    .summary('write an HTML page showing every disk')
    .description(
      'Write one self-contained HTML page (no network, no external files) from the host catalog: every ' +
        'volume and copy with used and free space, growth run by run, pending actions, mirror lag, ' +
        'when each disk was last verified, and which disks are due back for a scrub.',
    )
    .option('--html <file>', 'the page to write (replaced if it exists)')
    .option('--scrub-after <days>', 'a disk not scrubbed (verify --checksum) for this many days is due', '30');
  addCommonOptions(cmd, { dest: 'none' });
  cmd.action(action<ReportOptions>(report));
}

function report(opts: ReportOptions, _args: string[], out: Output): number {
  if (!opts.html) throw new UsageError('--html FILE is required: name the page to write');
  const scrubDays = parseNumber('--scrub-after', 1, 36500, true)(String(opts.scrubAfter));
  const file = path.resolve(opts.html);
  const host = openHostReadonly(opts);
  let html: string;
  let volumes: number;
  try {
    const shelf = readShelf(host, Date.now(), scrubDays);
    volumes = shelf.volumes.length;
    html = renderShelfHtml(shelf);
  } finally {
    host.close();
  }
  // Written beside the target and renamed, so a browser never shows half a page.
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, html);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    const e = err as NodeJS.ErrnoException;
    throw new UserError(`cannot write ${file} (${e.code ?? e.message})`);
  }
  if (out.json) out.result({ file, volumes });
  else out.info(`wrote ${file}: ${volumes} volume(s)`);
  return EXIT.ok;
}
