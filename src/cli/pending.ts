import fs from 'node:fs';
import type { Command } from 'commander';
import { Catalog } from '../catalog/catalog.js';
import { action, addCommonOptions, dbPath, type CommonOptions } from './common.js';
import { EXIT, UserError } from './exit.js';
import { nameBytesFields, type Output } from './output.js';
import { labelsOf, resolveVolume } from './volumes.js';
import { withHolds } from '../plan/held.js';

export function registerPending(program: Command): void {
  const cmd = program
    .command('pending')
    .summary('list deferred actions')
    .description('List the actions queued for offline volumes, in the order they will be applied.')
    .argument('[vol...]', 'only these volumes: label, UUID or UUID prefix');
  addCommonOptions(cmd, { dest: 'none' });
  cmd.action(action<CommonOptions>(pending));
}

export function openHostReadonly(opts: CommonOptions): Catalog {
  const db = dbPath(opts);
  if (!fs.existsSync(db)) throw new UserError(`no host catalog at ${db}; run a backup first, give --db, or, if it was lost, run \`blaine rebuild-catalog --dest DISK\``);
  return Catalog.open(db, { readonly: true });
}

function pending(opts: CommonOptions, vols: string[], out: Output): number {
  const host = openHostReadonly(opts);
  try {
    const labels = labelsOf(host);
    const wanted = vols.map((v) => resolveVolume(host, v).uuid);
    const rows = withHolds(host.deferred(), host.copies(), labels).filter(({ q }) => wanted.length === 0 || wanted.includes(q.volume));
    if (opts.json) {
      out.result(
        rows.map(({ q: r, hold }) => ({
          volume: r.volume,
          label: labels.get(r.volume) ?? null,
          action: r.action,
          path: r.path,
          target: r.target,
          held: hold !== null,
          reason: hold?.reason ?? null,
          until: hold?.until ?? null,
          ...nameBytesFields({ path: r.path, target: r.target }),
        })),
      );
      return EXIT.ok;
    }
    if (rows.length === 0) {
      out.info('no deferred actions');
      return EXIT.ok;
    }
    for (const { q: r, hold } of rows) {
      const label = labels.get(r.volume) ?? r.volume.slice(0, 8);
      out.info(`${label.padEnd(12)}  ${r.action.padEnd(6)}  ${r.path}${r.target ? ` -> ${r.target}` : ''}`);
      if (hold) out.info(`${''.padEnd(12)}  held: ${hold.reason}; until ${hold.until}`);
    }
    return EXIT.ok;
  } finally {
    host.close();
  }
}
