import type { Command } from 'commander';
import { copyLag } from '../catalog/generation.js';
import { heldCounts } from '../report/shelf.js';
import { action, addCommonOptions, type CommonOptions } from './common.js';
import { EXIT } from './exit.js';
import type { Output } from './output.js';
import { formatBytes } from '../fsx/space.js';
import { openHostReadonly } from './pending.js';
import { describeHealth, grownCounters, healthByCopy, healthWarnings, type HealthNow } from '../health/history.js';
import { whenText } from '../report/when.js';

export function registerDisks(program: Command): void {
  const cmd = program
    .command('disks')
    .summary('list volumes and their copies')
    .description(
      'Every volume and copy: label, files, bytes, when each copy was last synced and its free space ' +
        'then, pending deferred actions, and how far a mirror copy is behind.',
    );
  addCommonOptions(cmd, { dest: 'none' });
  cmd.action(action<CommonOptions>(disks));
}

/** A copy's health for --json: the latest reading, and the counters that grew since the visit before. */
function healthOf(h: HealthNow | undefined) {
  if (!h) return null;
  return { ...h.latest, at: new Date(h.latest.at).toISOString(), previousAt: h.previous ? new Date(h.previous.at).toISOString() : null, grown: grownCounters(h) };
}

function disks(opts: CommonOptions, _args: string[], out: Output): number {
  const host = openHostReadonly(opts);
  try {
    const copies = host.copies();
    const pending = host.deferred();
    const held = heldCounts(host, copies);
    const runs = host.finishedRuns();
    const now = Date.now();
    const health = healthByCopy(host);
    const result = host.volumes().map((v) => {
      const stats = host.volumeStats(v.uuid);
      return {
        volume: v.uuid,
        label: v.label,
        files: stats.files,
        bytes: stats.bytes,
        pending: pending.filter((p) => p.volume === v.uuid).length,
        held: held.get(v.uuid) ?? 0,
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
            behind: copyLag(runs, c, v.generation, now),
            health: healthOf(health.get(c.copy)),
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
      const waits = v.held > 0 ? ` (${v.held} deletion(s) held until a mirror copy catches up)` : '';
      out.info(`  ${v.files} files, ${formatBytes(v.bytes)}, ${v.pending} pending action(s)${waits}`);
      for (const c of v.copies) {
        const lag = c.behind.runs > 0 ? `, behind by ${c.behind.runs} run(s): ${c.behind.files} file(s), ${formatBytes(c.behind.bytes)}` : ', up to date';
        const free = c.free === null ? 'free unknown' : `${formatBytes(c.free)} free then`;
        out.info(`  copy ${c.label} (${c.copy.slice(0, 8)}): last synced ${whenText(c.lastSync, now)}, ${free}${lag}`);
        const h = health.get(c.copy);
        if (h) {
          out.info(`    health ${whenText(h.latest.at, now)}: ${describeHealth(h)}`);
          for (const w of healthWarnings(c.label, h)) out.warn(w);
        }
      }
    }
    return EXIT.ok;
  } finally {
    host.close();
  }
}
