import type { Command } from 'commander';
import { rebuildCatalog } from '../recover/rebuild.js';
import type { VolumeChange } from '../recover/merge.js';
import { action, addCommonOptions, dbPath, fileSystem, keyProvider, requireDest, type CommonOptions } from './common.js';
import { EXIT, UserError } from './exit.js';
import type { Output } from './output.js';

export function registerRebuildCatalog(program: Command): void {
  const cmd = program
    .command('rebuild-catalog')
    .summary('restore the host catalog from a disk, or refine it from one')
    .description(
      'Without a host catalog: make it again from the snapshot of it that the disk carries (every ' +
        "volume's files and every deferred action, as of the disk's last run), refined by the disk's own " +
        'catalog. With one: take in what the disk knows better, volume by volume, the newest winning; ' +
        'actions queued since the disk was last written stay queued. A damaged disk is repaired first: a ' +
        "lost volume.json is written again from the disk's catalog, and a missing, empty or unreadable disk " +
        "catalog is rebuilt from the disk's rotated catalogs or the host catalog's rows, checked against the " +
        'disk. Otherwise the disk is only read.',
    );
  addCommonOptions(cmd);
  cmd.action(action<CommonOptions>(rebuild));
}

const TAKEN: Record<VolumeChange['taken'], string> = {
  added: 'added from',
  newer: 'updated from',
  'in-step': 'already in step with',
  older: 'newer than',
};

function rebuild(opts: CommonOptions, _args: string[], out: Output): number {
  const db = dbPath(opts);
  const r = rebuildCatalog({ dest: requireDest(opts), db, key: keyProvider(opts), fs: fileSystem() });
  if (r.disk?.volumeFile) out.summary(`volume.json of "${r.info.copyLabel}" written again from its disk catalog`);
  const repaired = r.disk?.catalog;
  if (repaired) {
    const from = repaired.source === 'rotated' ? `its rotated catalog ${repaired.from}` : `the host catalog's rows for "${r.info.label}" (${repaired.from})`;
    out.summary(`disk catalog of "${r.info.copyLabel}" rebuilt from ${from}: ${repaired.files} file(s) found on the disk as catalogued`);
    if (repaired.setAside) out.info(`  the damaged disk catalog was kept as ${repaired.setAside}`);
    if (repaired.unvouched.length > 0) {
      out.warn(
        `${repaired.unvouched.length} catalogued file(s) are not on the disk as catalogued (missing, or another size or mtime) and were left out; the next backup copies them again: ` +
          `${repaired.unvouched.slice(0, 5).join(', ')}${repaired.unvouched.length > 5 ? ', …' : ''}`,
      );
      for (const p of repaired.unvouched.slice(5)) out.detail(`  not vouched for: ${p}`);
    }
  }
  if (r.setAside) out.warn(`the host catalog could not be opened; it was moved to ${r.setAside} and a new one made`);
  if (opts.json) {
    out.result({ disk: r.disk, created: r.created, setAside: r.setAside, snapshot: r.snapshot, volumes: r.volumes, files: r.files, pending: r.pending, changes: r.changes, leftOut: r.leftOut, behind: r.behind });
    return EXIT.ok;
  }
  const source = r.snapshot ? `the snapshot on "${r.info.copyLabel}"` : `the catalog of "${r.info.copyLabel}" (it carries no snapshot of the host catalog)`;
  if (r.created) out.summary(`host catalog ${db} rebuilt from ${source}`);
  else out.summary(`host catalog ${db} refined from "${r.info.copyLabel}"`);
  for (const c of r.changes) {
    const where = c.from === 'snapshot' ? 'its snapshot' : 'its own catalog';
    const queue = [c.keptPending ? `${c.keptPending} newer deferred action(s) kept` : '', c.droppedPending ? `${c.droppedPending} it had seen dropped` : '']
      .filter(Boolean)
      .join(', ');
    out.info(`  volume "${c.label}": ${TAKEN[c.taken]} ${where}, ${c.files} file(s)${queue ? `; ${queue}` : ''}`);
  }
  for (const f of r.leftOut) out.info(`  volume "${f.label}": forgotten (forget-disk, ${f.forgotten.slice(0, 10)}); not taken back from an older snapshot`);
  for (const b of r.behind) {
    out.info(
      `  kept as it was: "${r.info.copyLabel}" knows later backups of "${b.copyLabel}" (volume "${b.label}"), which only that copy holds; ` +
        `rebuild from "${b.copyLabel}" first to take them in`,
    );
  }
  out.summary(`${r.volumes} volume(s), ${r.files} file(s), ${r.pending} deferred action(s)`);
  return EXIT.ok;
}
