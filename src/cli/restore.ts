import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { restoreArchive, type Amount, type RestoreResult, type SourceDisk } from '../restore/restore.js';
import { landingOnDisk, realish } from '../restore/select.js';
import { archiveView, type ArchiveView } from '../restore/view.js';
import { leftByVolume, type Elsewhere } from '../restore/elsewhere.js';
import { diskCatalogPath } from '../archive/layout.js';
import { openDiskView, requireHostCatalog, requireKnownVolume, type DiskView } from '../archive/session.js';
import { Catalog } from '../catalog/catalog.js';
import { requireDiskCatalog } from '../archive/damage.js';
import { action, addCommonOptions, fileSystem, dbPath, interruptSignal, keyProvider, notAFile, progressAs, requireDest, type CommonOptions } from './common.js';
import { EXIT, UsageError, UserError } from './exit.js';
import type { Output } from './output.js';
import { formatBytes } from '../fsx/space.js';
import { isWithin } from '../fsx/paths.js';

interface RestoreOptions extends CommonOptions {
  to?: string;
  overwrite?: boolean;
  dryRun?: boolean;
  plan?: boolean;
  missingOnly?: boolean;
}

export function registerRestore(program: Command): void {
  const cmd = program
    .command('restore')
    .summary('restore the archive\'s current state of some paths, disk by disk')
    .description(
      'Restore the paths matching GLOB as the host catalog knows them now (current names, content, ' +
        'mode, owner, mtime, hardlinks, symlinks), each at DIR/<absolute path>, with the content the ' +
        'mounted disk holds, under whatever name it keeps it. Every file is checked against its hash ' +
        'while copied and repaired from parity when it differs; the disk is only read. Run the same ' +
        'command once per disk, in any order: what is already in DIR as catalogued is skipped, and each ' +
        'run ends with what is left and on which disks. --plan says the same without a disk. ' +
        'GLOB matches the absolute path; * matches / too. Exit status 4: a file could not be restored.',
    )
    .argument('<glob...>', 'patterns for the stored absolute path')
    .option('--to <dir>', 'directory to restore into (required)')
    .option('--plan', 'no disk needed: list the disks the restore needs (files, bytes) and what DIR already holds')
    .option('--missing-only', 'put back only paths that are missing in DIR; leave everything there as it is (a dead pool member: --to /)')
    .option('--overwrite', 'replace files in DIR that differ from the archive')
    .option('--dry-run', 'print what would be restored and write nothing');
  addCommonOptions(cmd);
  cmd.action(action<RestoreOptions>(restore));
}

async function restore(opts: RestoreOptions, globs: string[], out: Output): Promise<number> {
  if (!opts.to) throw new UsageError('--to is required: name the directory to restore into');
  if (globs.length === 0) throw new UsageError("name the files to restore (GLOB...; '*' restores everything)");
  if (opts.missingOnly && opts.overwrite) throw new UsageError('--missing-only leaves what exists alone; it cannot be given with --overwrite');
  const to = notAFile('--to', opts.to, 'the directory to restore into');
  const db = dbPath(opts);
  if (opts.plan) {
    if (!fs.existsSync(db)) {
      throw new UserError(`there is no host catalog at ${db}: run \`blaine rebuild-catalog --dest DISK\` with the newest disk first`);
    }
    return withHost(db, (host) => run(opts, globs, to, host, null, out));
  }
  const dest = requireDest(opts);
  const realDisk = realish(dest, fileSystem());
  if (isWithin(realish(to, fileSystem()), realDisk)) {
    throw new UsageError(`--to ${to} is on the disk being restored from; a restore never writes to the disk, choose a directory elsewhere`);
  }
  // What a restore gives back is the host catalog's view: without it, say how to get it back.
  requireHostCatalog(db, dest, fileSystem());
  // The disk is only read: an encrypted one is mounted read-only for the run.
  const view = openDiskView(dest, { key: keyProvider(opts), readonly: true, fs: fileSystem() });
  try {
    return await withHost(db, async (host) => {
      requireKnownVolume(host, db, view.info, dest, fileSystem());
      const catalogFile = diskCatalogPath(view.root);
      requireDiskCatalog(view.root, dest, view.info, host, fileSystem());
      if (!fs.existsSync(catalogFile)) throw new UserError(`${dest} has no disk catalog yet; nothing was ever archived on it`);
      const diskCatalog = Catalog.openCopy(catalogFile);
      try {
        return await run(opts, globs, to, host, { view, disk: { root: view.root, volume: view.info.volume, catalog: diskCatalog }, realDisk }, out);
      } finally {
        diskCatalog.close();
      }
    });
  } finally {
    view.close();
  }
}

/**
 * The host catalog, only read. Opened as every command opens it: a read-only connection to a
 * catalog in WAL mode would leave its -wal and -shm files behind, which a plain close folds away.
 */
async function withHost<T>(db: string, fn: (host: Catalog) => Promise<T>): Promise<T> {
  const host = Catalog.open(db);
  try {
    return await fn(host);
  } finally {
    host.close();
  }
}

interface Mounted {
  view: DiskView;
  disk: SourceDisk;
  realDisk: string;
}

async function run(opts: RestoreOptions, globs: string[], to: string, host: Catalog, mounted: Mounted | null, out: Output): Promise<number> {
  const archive = archiveView(host, globs);
  if (archive.rows.length === 0 && archive.rejected.length === 0) throw new UserError(`nothing in the host catalog matches ${globs.join(' ')}`);
  for (const r of archive.rejected) out.warn(`${r.path}: not restored: the catalog's path cannot be used (${r.why})`);
  if (archive.shadowed.length > 0) {
    out.detail(`${archive.shadowed.length} catalogued path(s) lie below what is now a file or symlink; they are not part of the library: ${archive.shadowed.slice(0, 3).map((e) => e.path).join(', ')}`);
  }
  if (mounted) {
    // --to above the disk: a target could still land on it.
    const landing = landingOnDisk(to, archive.rows, mounted.realDisk, fileSystem());
    if (landing) throw new UsageError(`--to ${to} would put ${landing.path} on the disk being restored from; choose a directory elsewhere`);
  }
  const interrupt = interruptSignal(out);
  let result: RestoreResult;
  try {
    result = await restoreArchive({
      rows: archive.rows,
      dirs: archive.dirs,
      disk: mounted?.disk ?? null,
      to,
      overwrite: !!opts.overwrite,
      missingOnly: !!opts.missingOnly,
      dryRun: !!opts.dryRun,
      signal: interrupt.signal,
      archived: (p) => host.holdsPath(p),
      detail: (m) => out.detail(m),
      warn: (m) => out.warn(m),
      fs: fileSystem(),
      progress: progressAs(out, 'restoring'),
    });
  } finally {
    interrupt.dispose();
  }
  out.clearProgress();
  const left = leftByVolume(host, result.left);
  report(opts, out, to, archive, result, left, mounted);

  if (result.interrupted) {
    out.error('interrupted; the files restored so far are in place. Run the same restore again to continue');
    return EXIT.interrupted;
  }
  const damaged = result.failed - result.blocked;
  if (damaged > 0) {
    out.error(`${damaged} file(s) could not be restored correctly: their copies on this disk are damaged beyond their parity (see above)`);
    return EXIT.damage;
  }
  if (result.failed > 0 || archive.rejected.length > 0) {
    out.error(`${result.failed + archive.rejected.length} path(s) were not restored: the restore writes only inside ${to} and never through a link (see above)`);
    return EXIT.error;
  }
  return EXIT.ok;
}

const amount = (a: Amount): string => `${a.files} file(s), ${formatBytes(a.bytes)}`;

function report(opts: RestoreOptions, out: Output, to: string, archive: ArchiveView, r: RestoreResult, left: Elsewhere[], mounted: Mounted | null): void {
  const done = left.length === 0;
  if (out.json) {
    out.result({
      restored: r.restored,
      repaired: r.repaired,
      failed: r.failed + archive.rejected.length,
      skipped: r.skipped,
      done,
      total: r.total,
      inTarget: r.inTarget,
      left,
      elsewhere: left,
      dryRun: !!opts.dryRun,
      plan: !!opts.plan,
      failures: [...r.failures, ...archive.rejected.map((x) => ({ path: x.path, message: x.why }))],
    });
    return;
  }
  const leftText = left.map((v) => `"${v.label}" (${v.files} file(s), ${formatBytes(v.bytes)})`).join(', ');
  if (!mounted) {
    out.info(`restore of ${amount(r.total)} into ${to}: ${amount(r.inTarget)} already there`);
    if (done) out.info('nothing is left: every matching path is in the target as catalogued');
    else {
      out.info('disks needed:');
      for (const v of left) out.info(`  "${v.label}" (${v.volume.slice(0, 8)}): ${amount(v)}`);
    }
    return;
  }
  const verb = opts.dryRun ? 'dry run: would restore' : 'restored';
  out.summary(
    `${verb} ${r.restored} file(s) (${formatBytes(r.bytes)}) from "${mounted.view.info.label}" into ${to}` +
      (r.repaired ? ` (${r.repaired} repaired from parity)` : '') +
      (r.skipped ? `; ${r.skipped} skipped (they exist and differ; --overwrite replaces them)` : '') +
      (r.failed ? `; ${r.failed} FAILED` : ''),
  );
  if (r.notOnDisk > 0) {
    out.warn(`${r.notOnDisk} file(s) of "${mounted.view.info.label}" are not on this disk (a mirror copy behind its twin holds less): mount the other copy`);
  }
  if (opts.dryRun) out.summary(done ? 'then nothing would be left' : `then left: mount ${leftText}`);
  else out.summary(done ? `nothing is left: all ${r.total.files} matching path(s) are in ${to}` : `left: mount ${leftText}`);
}
