import type { Command } from 'commander';
import { runRemove, type RemoveOutcome } from '../remove/remove.js';
import { describeOp } from './backup-report.js';
import { action, addCommonOptions, dbPath, fileSystem, interruptSignal, keyProvider, parseNumber, requireDest, type CommonOptions } from './common.js';
import { EXIT, UsageError } from './exit.js';
import type { Output } from './output.js';
import { tellApplyEvent } from './apply-events.js';

interface RemoveOptions extends CommonOptions {
  maxDelete: string;
  force?: boolean;
  dryRun?: boolean;
}

export function registerRemove(program: Command): void {
  const cmd = program
    .command('remove')
    .summary('delete files from the archive')
    .description(
      'Delete the archived files whose absolute path matches a GLOB (SQLite GLOB: * matches / too) from ' +
        'the archive: from the mounted disk now (with their parity), and queued as deferred deletions for ' +
        'the offline disks that hold them. The way to drop files that are now excluded.',
    )
    .argument('<glob...>', 'patterns on the stored absolute path, e.g. "/mnt/media/*.tmp"')
    .option('--max-delete <pct>', 'most files (percent of a volume) one run may remove', '10')
    .option('--force', 'remove even when the mass-delete guard trips')
    .option('--dry-run', 'print what would be removed and change nothing');
  addCommonOptions(cmd);
  cmd.action(action<RemoveOptions>(remove));
}

async function remove(opts: RemoveOptions, globs: string[], out: Output): Promise<number> {
  const dest = requireDest(opts);
  const maxDeletePct = parseNumber('--max-delete', 0, 100)(String(opts.maxDelete));
  if (globs.some((g) => g.trim() === '')) throw new UsageError('an empty GLOB matches nothing; name the files to remove');
  const interrupt = opts.dryRun ? null : interruptSignal(out);
  let r: RemoveOutcome;
  try {
    r = await runRemove(
      {
        dest,
        db: dbPath(opts),
        globs,
        maxDeletePct,
        force: !!opts.force,
        dryRun: !!opts.dryRun,
        key: keyProvider(opts),
        signal: interrupt?.signal ?? new AbortController().signal,
        fs: fileSystem(),
      },
      { info: (m) => out.info(m), warn: (m) => out.warn(m), applied: (e) => tellApplyEvent(e, out) },
    );
  } finally {
    interrupt?.dispose();
  }
  return report(r, opts, out);
}

function report(r: RemoveOutcome, opts: RemoveOptions, out: Output): number {
  const label = (v: string) => `"${r.labels.get(v) ?? v}"`;
  const guarded = r.plan.guarded.length > 0;
  if (opts.json) {
    out.result({
      removed: r.removed,
      deferred: r.deferred,
      dryRun: !!opts.dryRun,
      volumes: [...r.plan.perVolume].map(([volume, files]) => ({ volume, label: r.labels.get(volume) ?? null, files })),
      guarded: r.plan.guarded,
      stopped: r.stopped,
    });
  }
  for (const g of r.plan.guarded) out.error(`nothing removed: ${g.reason}; pass --force (or a higher --max-delete) to remove them`);
  for (const op of r.ops ?? []) out.info(describeOp(op));
  if (!opts.json && !guarded) {
    if (r.plan.perVolume.size === 0) out.summary('no archived file matches; nothing removed');
    else {
      const verb = opts.dryRun ? 'would remove' : 'removed';
      const offline = [...r.plan.perVolume].filter(([v]) => v !== r.volume).map(([v, n]) => `${label(v)} ${n}`);
      out.summary(
        `"${r.copyLabel}": ${verb} ${r.removed} file(s)` +
          (offline.length > 0 ? `; ${opts.dryRun ? 'would defer' : 'deferred'} ${r.deferred} deletion(s) for offline disks (${offline.join(', ')}), done when each is next mounted` : ''),
      );
    }
  }
  if (r.stopped === 'interrupted') return EXIT.interrupted;
  if (r.stopped === 'disk-full') return EXIT.diskFull;
  return guarded ? EXIT.error : EXIT.ok;
}
