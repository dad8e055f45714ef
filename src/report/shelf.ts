/**
 * The state of every disk on the shelf, read from the host catalog alone (no disk needs to be
 * mounted): what `blaine report` draws and what the summary's next step is computed from.
 */
import type { Catalog, CopyRow, RunRow } from '../catalog/catalog.js';
import { copyLag, type Lag } from '../catalog/generation.js';
import { archiveSeries, DAY_MS, growthPerDay, type RunPoint } from './growth.js';
import { healthByCopy, type HealthNow } from '../health/history.js';
import { holdOf } from '../plan/held.js';

const WRITING = new Set(['backup', 'apply', 'clone']);

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

export interface ShelfCopy {
  copy: string;
  label: string;
  lastSync: string | null;
  /** Free bytes and file-system size at the last run that wrote it (null when never measured). */
  free: number | null;
  capacity: number | null;
  behind: Lag;
  /** The last verify run on this copy: when, and how many files it read. */
  lastVerify: string | null;
  lastVerifyChecked: number;
  /** The last verify that read file contents (a scrub). */
  lastScrub: string | null;
  /**
   * The scrub rule: a copy that holds files is due when no `verify --checksum` has read it within
   * the scrub interval, counted from when the copy was made (a new disk or clone was just written).
   */
  scrubDue: boolean;
  /** The first run recorded on this copy (its making), ISO. */
  made: string | null;
  /** The latest SMART reading and the one before (null: never read). */
  health: HealthNow | null;
}

/** A folder a volume holds, with what is in it (files below it at any depth). */
export interface HeldFolder {
  path: string;
  files: number;
  bytes: number;
}

export interface ShelfVolume {
  volume: string;
  label: string;
  encrypted: boolean;
  files: number;
  bytes: number;
  /** `held`: DELETEs among them that wait for a mirror copy to catch up (plan/held.ts). */
  pending: { RENAME: number; LINK: number; DELETE: number; total: number; held: number };
  /** Share (0..1) of the volume's files whose contents were read within the scrub interval. */
  verifiedShare: number;
  copies: ShelfCopy[];
  /** The largest folders it holds (two levels below the shelf's common folder), largest first; and how many more. */
  folders: HeldFolder[];
  moreFolders: number;
}

export interface Shelf {
  generated: number;
  /** The folder every archived path lies under (e.g. /mnt/media/); folders are named below it. */
  commonFolder: string;
  scrubDays: number;
  volumes: ShelfVolume[];
  /** Archive size after each run, one value per volume in `volumes` order. */
  growth: { at: number; byVolume: number[] }[];
  /** Bytes written onto disks per day recently (growthPerDay); null without enough history. */
  perDay: number | null;
}

/** Reduces the run log to what growth needs (writing runs with a volume). */
export function runPoints(runs: readonly RunRow[]): RunPoint[] {
  return runs
    .filter((r) => r.volume !== null && WRITING.has(r.command))
    .map((r) => ({
      at: Date.parse(r.finished),
      volume: r.volume!,
      written: num(r.summary.bytesCopied) + num(r.summary.parityBytes),
      volumeBytes: r.usedBytes,
    }));
}

/**
 * `counts: false` skips what needs a pass over each volume's rows (files, bytes, verified share:
 * left 0): the summary after a backup needs only pending actions, lag and growth, and must stay
 * cheap on a million-file catalog.
 */
export function readShelf(host: Catalog, now: number, scrubDays = 30, opts: { counts?: boolean } = {}): Shelf {
  const counts = opts.counts ?? true;
  const runs = host.finishedRuns();
  const copies = host.copies();
  // Counted in SQL: after a big reorganisation the queue can hold more rows than are worth loading.
  const deferred = host.pendingCounts();
  const heldBy = heldCounts(host, copies);
  const since = Math.floor((now - scrubDays * DAY_MS) / 1000);
  const health = healthByCopy(host);
  const common = counts ? commonFolder(host) : '/';
  const volumes = host.volumes().map((v): ShelfVolume => {
    const stats = counts ? host.volumeStats(v.uuid) : { files: 0, bytes: 0 };
    const pending = { RENAME: 0, LINK: 0, DELETE: 0, total: 0, held: heldBy.get(v.uuid) ?? 0 };
    for (const d of deferred) {
      if (d.volume !== v.uuid) continue;
      pending[d.action] += d.n;
      pending.total += d.n;
    }
    const verified = counts ? host.verifiedSince(v.uuid, since) : 0;
    return {
      volume: v.uuid,
      label: v.label,
      encrypted: v.encrypted,
      files: stats.files,
      bytes: stats.bytes,
      pending,
      verifiedShare: stats.files === 0 ? 1 : verified / stats.files,
      copies: copies.filter((c) => c.volume === v.uuid).map((c) => shelfCopy(c, runs, v.generation, now, scrubDays, stats.files > 0, health.get(c.copy) ?? null)),
      ...(counts ? heldFolders(host, v.uuid, common) : { folders: [], moreFolders: 0 }),
    };
  });
  const points = runPoints(runs);
  return {
    generated: now,
    commonFolder: common,
    scrubDays,
    volumes,
    growth: archiveSeries(points, volumes.map((v) => v.volume)),
    perDay: growthPerDay(points, now),
  };
}

/**
 * Held DELETEs per volume. Counted over groups of one queuing run (volume, generation): the queue
 * can be long, the runs that filled it are few.
 */
export function heldCounts(host: Catalog, copies: readonly CopyRow[] = host.copies()): Map<string, number> {
  const out = new Map<string, number>();
  for (const g of host.deleteGroups()) {
    const row = { id: 0, volume: g.volume, action: 'DELETE' as const, path: '', target: null, created: '', queuedBy: g.queuedBy, queuedGen: g.queuedGen };
    if (holdOf(row, copies, new Map()) !== null) out.set(g.volume, (out.get(g.volume) ?? 0) + g.n);
  }
  return out;
}

/** How many folders of each volume the report names. */
const FOLDERS_SHOWN = 6;

/** The folder all archived paths share: the lowest and highest path in order share every common prefix. */
function commonFolder(host: Catalog): string {
  const r = host.pathSpan();
  if (!r.lo || !r.hi) return '/';
  let i = 0;
  while (i < r.lo.length && r.lo[i] === r.hi[i]) i++;
  return r.lo.slice(0, r.lo.lastIndexOf('/', i - 1) + 1) || '/';
}

/** A volume's files grouped by the folder two levels below the common one ("photos/2019"), largest first. */
function heldFolders(host: Catalog, volume: string, common: string): { folders: HeldFolder[]; moreFolders: number } {
  const byFolder = new Map<string, HeldFolder>();
  for (const row of host.fileSizes(volume)) {
    const parts = row.path.slice(common.length).split('/');
    const folder = parts.length > 1 ? parts.slice(0, Math.min(2, parts.length - 1)).join('/') + '/' : '(top level)';
    const f = byFolder.get(folder) ?? { path: folder, files: 0, bytes: 0 };
    f.files++;
    f.bytes += row.size;
    byFolder.set(folder, f);
  }
  const all = [...byFolder.values()].sort((a, b) => b.bytes - a.bytes || a.path.localeCompare(b.path));
  return { folders: all.slice(0, FOLDERS_SHOWN), moreFolders: Math.max(0, all.length - FOLDERS_SHOWN) };
}

function shelfCopy(
  c: CopyRow,
  runs: readonly RunRow[],
  generation: number,
  now: number,
  scrubDays: number,
  holdsFiles: boolean,
  health: HealthNow | null,
): ShelfCopy {
  let lastVerify: RunRow | null = null;
  let lastScrub: RunRow | null = null;
  let capacity: number | null = null;
  let made: string | null = null;
  for (const r of runs) {
    if (r.copy !== c.copy) continue;
    made ??= r.finished;
    if (r.capacity !== null) capacity = r.capacity;
    if (r.command !== 'verify' || r.status === 'error') continue;
    lastVerify = r;
    if (num(r.summary.checked) > 0) lastScrub = r;
  }
  return {
    copy: c.copy,
    label: c.label,
    lastSync: c.lastSync,
    free: c.freeBytes,
    capacity,
    behind: copyLag(runs, c, generation, now),
    lastVerify: lastVerify?.finished ?? null,
    lastVerifyChecked: num(lastVerify?.summary.checked),
    lastScrub: lastScrub?.finished ?? null,
    scrubDue: holdsFiles && Date.parse(lastScrub?.finished ?? made ?? c.lastSync ?? new Date(now).toISOString()) < now - scrubDays * DAY_MS,
    made,
    health,
  };
}
