/**
 * `blaine remove`: files leave the archive on purpose (SPEC §3, §5: the way to drop files that are now
 * excluded). The mounted copy is first brought up to its volume, as every run does; then the host
 * catalog's matching rows are planned (plan/remove.ts) and the executor deletes the mounted volume's
 * share with its parity, journalled like any backup step, and queues DELETE for the other volumes.
 * --dry-run is the same pipeline on a session that writes nothing, with an applier that records.
 */
import type { Catalog } from '../catalog/catalog.js';
import { Executor, type ApplierFactory, type ExecutionResult } from '../apply/executor.js';
import { RecordingApplier } from '../apply/recorder.js';
import { openDrySession } from '../archive/dry-session.js';
import { beginWrite, finishWrite, openDiskSession, recoveryMessages, type KeyProvider } from '../archive/session.js';
import type { Fsx } from '../fsx/fsx.js';
import { catchUp, noCopyContext } from '../mirror/catchup.js';
import type { Operation } from '../plan/operation.js';
import { planRemove, type RemovePlan } from '../plan/remove.js';
import type { ApplyEvent } from '../apply/env.js';

export interface RemoveRun {
  dest: string;
  db: string;
  /** SQLite GLOB patterns on the stored absolute path (SPEC §4). */
  globs: string[];
  maxDeletePct: number;
  force: boolean;
  dryRun: boolean;
  key: KeyProvider | undefined;
  signal: AbortSignal;
  fs: Fsx;
}

export interface RemoveReporter {
  info(msg: string): void;
  warn(msg: string): void;
  /** What carrying the removal out tells, operation by operation. */
  applied(e: ApplyEvent): void;
}

export interface RemoveOutcome {
  /** The mounted copy's label. */
  copyLabel: string;
  volume: string;
  plan: RemovePlan;
  /** Volume labels by UUID, for messages. */
  labels: Map<string, string>;
  /** null: the guard held everything back, or nothing matched. */
  result: ExecutionResult | null;
  stopped: null | 'disk-full' | 'interrupted';
  removed: number;
  deferred: number;
  /** A dry run's operations (the catch-up's, then the removal's), recorded instead of carried out. */
  ops?: Operation[];
}

export async function runRemove(o: RemoveRun, out: RemoveReporter): Promise<RemoveOutcome> {
  const recorded: Operation[] | null = o.dryRun ? [] : null;
  const makeApplier: ApplierFactory = recorded ? (ctx) => new RecordingApplier(ctx, recorded, 0) : (ctx) => new Executor(ctx);
  const session = (recorded ? openDrySession : openDiskSession)({ dest: o.dest, db: o.db, key: o.key, fs: o.fs });
  try {
    const { info } = session;
    for (const m of recoveryMessages(session)) out.warn(m);
    const labels = new Map(session.host.volumes().map((v) => [v.uuid, v.label]));
    const plan = planFor(session.host, info.volume, labels, o);
    const outcome: RemoveOutcome = {
      copyLabel: info.copyLabel, volume: info.volume, plan, labels, result: null, stopped: null, removed: 0, deferred: 0,
      ...(recorded ? { ops: recorded } : {}),
    };
    const behind = session.sync === 'behind';
    if (plan.ops.length === 0 && !behind) return outcome;
    beginWrite(session);
    const ctx = noCopyContext(session, { signal: o.signal, tell: (e) => out.applied(e), fs: o.fs });
    // Pending actions first (SPEC §5): the deletions then meet the disk as its volume has it.
    let caughtUp = false;
    if (behind) {
      const c = await catchUp(session, ctx, makeApplier);
      caughtUp = c.changed > 0 || c.applied > 0;
      if (c.applied > 0) out.info(`${recorded ? 'would apply' : 'applied'} ${c.applied} deferred action(s) on "${info.label}"`);
      if (c.stopped) {
        outcome.stopped = c.stopped;
        if (!recorded) await finishWrite(session, 'remove', c.stopped, {}, true, false);
        return outcome;
      }
    }
    const result = await makeApplier({ ...ctx, userRemoval: true }).run(plan.ops);
    outcome.result = result;
    outcome.stopped = result.stopped?.reason ?? null;
    outcome.deferred = result.counts.deferred;
    outcome.removed = result.counts.removed - result.counts.deferred;
    const summary = { removed: outcome.removed, deferred: outcome.deferred, globs: o.globs };
    if (!recorded) await finishWrite(session, 'remove', outcome.stopped ?? 'ok', summary, result.done > 0 || caughtUp, outcome.removed > 0);
    return outcome;
  } finally {
    session.close();
  }
}

function planFor(host: Catalog, volume: string, labels: Map<string, string>, o: RemoveRun): RemovePlan {
  return planRemove(host.matching(o.globs), volume, (v) => host.volumeStats(v).files, {
    maxDeletePct: o.maxDeletePct,
    force: o.force,
    label: (v) => labels.get(v) ?? v,
  });
}
