import type { Command } from 'commander';
import type { Catalog, CopyRow } from '../catalog/catalog.js';
import { action, addCommonOptions, type CommonOptions } from './common.js';
import { EXIT } from './exit.js';
import type { Output } from './output.js';
import { formatBytes } from '../fsx/space.js';
import { openHostReadonly } from './pending.js';

export function registerDisks(program: Command): void {
  const cmd = program
    .command('disks')
    .summary('list volumes and their copies')
    .description(
      'Every volume and copy: label, files, bytes, when each copy was last synced and its free space\n' +
        'then, pending deferred actions, and how far a mirror copy is behind.',
    );
  addCommonOptions(cmd, { dest: 'none' });
  cmd.action(action<CommonOptions>(disks));
}

interface Lag {
  runs: number;
  files: number;
  bytes: number;
}

/**
 * How much a copy lacks: the changes that runs on its other copies made since it was last synced,
 * from the host's run log (files touched and bytes copied).
 */
function lagOf(host: Catalog, c: CopyRow, volumeGeneration: number): Lag {
  if (c.generation >= volumeGeneration) return { runs: 0, files: 0, bytes: 0 };
  const runs = host.db
    .prepare(`SELECT summary FROM runs WHERE volume = ? AND copy IS NOT ? AND finished > ? AND command IN ('backup', 'apply')`)
    .all(c.volume, c.copy, c.lastSync ?? '') as Array<{ summary: string | null }>;
  const lag: Lag = { runs: 0, files: 0, bytes: 0 };
  for (const r of runs) {
    const s = r.summary ? (JSON.parse(r.summary) as Record<string, number>) : {};
    lag.runs++;
    lag.files += (s.added ?? 0) + (s.modified ?? 0) + (s.renamed ?? 0) + (s.linked ?? 0) + (s.removed ?? 0);
    lag.bytes += s.bytesCopied ?? 0;
  }
  return lag;
}

function disks(opts: CommonOptions, _args: string[], out: Output): number {
  const host = openHostReadonly(opts);
  try {
    const copies = host.copies();
    const pending = host.deferred();
    const result = host.volumes().map((v) => {
      const stats = host.volumeStats(v.uuid);
      return {
        volume: v.uuid,
        label: v.label,
        files: stats.files,
        bytes: stats.bytes,
        pending: pending.filter((p) => p.volume === v.uuid).length,
        encrypted: v.encrypted,
        copies: copies
          .filter((c) => c.volume === v.uuid)
          .map((c) => ({
            copy: c.copy,
            label: c.label,
            lastSync: c.lastSync,
            free: c.freeBytes,
            files: c.files,
            bytes: c.bytes,
            behind: lagOf(host, c, v.generation),
          })),
      };
    });
    if (opts.json) {
      out.result(result);
      return EXIT.ok;
    }
    if (result.length === 0) out.info('no volumes yet');
    for (const v of result) {
      out.info(`${v.label}  (${v.volume})${v.encrypted ? '  encrypted' : ''}`);
      out.info(`  ${v.files} files, ${formatBytes(v.bytes)}, ${v.pending} pending action(s)`);
      for (const c of v.copies) {
        const lag = c.behind.runs > 0 ? `, behind by ${c.behind.runs} run(s): ${c.behind.files} file(s), ${formatBytes(c.behind.bytes)}` : ', up to date';
        const free = c.free === null ? 'free unknown' : `${formatBytes(c.free)} free then`;
        out.info(`  copy ${c.label} (${c.copy.slice(0, 8)}): last synced ${c.lastSync ?? 'never'}, ${free}${lag}`);
      }
    }
    return EXIT.ok;
  } finally {
    host.close();
  }
}
