import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { restoreFiles, RestoreTargetError } from '../restore/restore.js';
import { landingOnDisk, matchingEntries, realish } from '../restore/select.js';
import { restorePlan } from '../restore/elsewhere.js';
import { diskCatalogPath } from '../archive/layout.js';
import { openDiskView, type DiskView } from '../archive/session.js';
import { action, addCommonOptions, fileSystem, dbPath, interruptSignal, keyProvider, notAFile, requireDest, type CommonOptions } from './common.js';
import { EXIT, UsageError, UserError } from './exit.js';
import type { Output } from './output.js';
import { formatBytes } from '../fsx/space.js';
import { isWithin } from '../fsx/paths.js';

interface RestoreOptions extends CommonOptions {
  to?: string;
  overwrite?: boolean;
  dryRun?: boolean;
}

export function registerRestore(program: Command): void {
  const cmd = program
    .command('restore')
    .summary('restore files held by the mounted disk; say which disks hold the rest')
    .description(
      'Restore the files matching GLOB that the mounted disk holds, each at DIR/<absolute path>, with ' +
        'its mtime, mode and symlink target; names hardlinked on the disk become hardlinks. Every file ' +
        "is checked against its SHA1 while copied and repaired from parity when it differs. The disk is " +
        'only read. Then prints which other disks hold the rest of the matching files (host catalog). ' +
        'GLOB matches the absolute path; * matches / too. Exit status 4: a file could not be restored.',
    )
    .argument('<glob...>', 'patterns for the stored absolute path')
    .option('--to <dir>', 'directory to restore into (required)')
    .option('--overwrite', 'replace files that exist at the target')
    .option('--dry-run', 'print what would be restored and write nothing');
  addCommonOptions(cmd);
  cmd.action(action<RestoreOptions>(restore));
}

async function restore(opts: RestoreOptions, globs: string[], out: Output): Promise<number> {
  const dest = requireDest(opts);
  if (!opts.to) throw new UsageError('--to is required: name the directory to restore into');
  if (globs.length === 0) throw new UsageError("name the files to restore (GLOB...; '*' restores everything)");
  const to = notAFile('--to', opts.to, 'the directory to restore into');
  const realDisk = realish(dest);
  if (isWithin(realish(to), realDisk)) {
    throw new UsageError(`--to ${to} is on the disk being restored from; a restore never writes to the disk, choose a directory elsewhere`);
  }
  // The disk is only read: an encrypted one is mounted read-only for the run.
  const view = openDiskView(dest, { key: keyProvider(opts), readonly: true });
  try {
    return await restoreFrom(view, opts, globs, to, realDisk, out);
  } finally {
    view.close();
  }
}

async function restoreFrom(view: DiskView, opts: RestoreOptions, globs: string[], to: string, realDisk: string, out: Output): Promise<number> {
  const { dest, info } = view;
  const catalogFile = diskCatalogPath(view.root);
  if (!fs.existsSync(catalogFile)) throw new UserError(`${dest} has no disk catalog yet; nothing was ever archived on it`);

  const entries = matchingEntries(catalogFile, globs, info.volume);
  const here = new Set(entries.map((e) => e.path));
  const plan = restorePlan(dbPath(opts), globs, info.volume, here);
  if (entries.length === 0 && plan.elsewhere.length === 0 && plan.waiting === 0) {
    throw new UserError(`nothing matches ${globs.join(' ')} on "${info.label}" or in the host catalog`);
  }
  // --to above the disk: a target could still land on it.
  const landing = landingOnDisk(to, entries, realDisk);
  if (landing) throw new UsageError(`--to ${to} would put ${landing.path} on the disk being restored from; choose a directory elsewhere`);

  const interrupt = interruptSignal(out);
  let result;
  try {
    result = await restoreFiles({
      root: view.root,
      entries,
      to,
      overwrite: !!opts.overwrite,
      dryRun: !!opts.dryRun,
      signal: interrupt.signal,
      detail: (m) => out.detail(m),
      warn: (m) => out.warn(m),
      fs: fileSystem(),
      progress: (n, total, bytes) => {
        if (out.progress.phase !== 'restoring') out.progress.begin('restoring', { files: total });
        out.progress.at(n, bytes);
      },
    });
  } catch (err) {
    if (err instanceof RestoreTargetError) throw new UserError(`${err.message}; the files restored before it are in place`);
    throw err;
  } finally {
    interrupt.dispose();
  }
  out.clearProgress();

  if (out.json) {
    out.result({
      restored: result.restored,
      repaired: result.repaired,
      failed: result.failed,
      skipped: result.skipped,
      elsewhere: plan.elsewhere,
      dryRun: !!opts.dryRun,
      failures: result.failures,
    });
  } else {
    const verb = opts.dryRun ? 'dry run: would restore' : 'restored';
    out.info(
      `${verb} ${result.restored} of ${entries.length} matching file(s) from "${info.label}" into ${to}` +
        (result.repaired ? ` (${result.repaired} repaired from parity)` : '') +
        (result.skipped ? `; ${result.skipped} skipped (already there; --overwrite replaces them)` : '') +
        (result.failed ? `; ${result.failed} FAILED` : ''),
    );
    if (plan.elsewhere.length > 0) {
      out.info('the rest of the matching files are on other disks:');
      for (const v of plan.elsewhere) out.info(`  "${v.label}" (${v.volume.slice(0, 8)}): ${v.files} file(s), ${formatBytes(v.bytes)}`);
    }
    if (plan.waiting > 0) {
      out.info(`${plan.waiting} matching file(s) wait for deferred actions on "${info.label}"; \`blaine apply --dest ${dest}\` carries them out`);
    }
  }
  if (result.interrupted) {
    out.error('interrupted; the files restored so far are in place. Run restore again to continue');
    return EXIT.interrupted;
  }
  if (result.failed > 0) {
    out.error(`${result.failed} file(s) could not be restored correctly: their copies on this disk are damaged beyond their parity (see above)`);
    return EXIT.damage;
  }
  return EXIT.ok;
}
