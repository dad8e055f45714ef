/**
 * The few lines after a run that changed something: what was done, how fast, how much room is
 * left and for how long, what waits on offline disks, and what to do next. Pure: numbers in,
 * text out, so every sentence is tested without making a disk full.
 */
import { formatBytes } from '../fsx/space.js';
import type { PlanCounts } from '../plan/operation.js';
import { formatDuration } from '../progress/line.js';
import { aboutDays, daysLeft } from './growth.js';
import type { Shelf } from './shelf.js';

export interface RunFacts {
  /** The disk written (its copy label). */
  label: string;
  counts: Omit<PlanCounts, 'missing' | 'excluded'> & { skipped: number };
  bytesCopied: number;
  parityBytes: number;
  /** What that parity takes on the disk, in blocks. */
  parityDiskBytes?: number;
  seconds: number;
  freeBytes: number | null;
  /** Recent growth of the archive, bytes per day (null: not enough history). */
  perDay: number | null;
  /** Archived files gone from the data paths and kept (no --clean). */
  missing: number;
  /** Actions waiting for disks that are not mounted. */
  pendingOffline: { label: string; actions: number }[];
  /** Copies that lack what their twin did. */
  behind: { label: string; twin: string; days: number; runs: number }[];
  stopped: 'disk-full' | 'interrupted' | null;
  /** Data paths, for a command the user can paste. */
  paths: string[];
  /** A dry run: what would be done, nothing about free space or next steps. */
  dryRun?: boolean;
  /** The command had --init: running it again as it was would be refused (the disk is made). */
  init?: boolean;
}

/** What the shelf adds to a run's own numbers: growth, actions waiting elsewhere, copies behind. */
export function shelfFacts(shelf: Shelf, volume: string): Pick<RunFacts, 'perDay' | 'pendingOffline' | 'behind'> {
  return {
    perDay: shelf.perDay,
    pendingOffline: shelf.volumes
      .filter((v) => v.volume !== volume && v.pending.total > 0)
      .map((v) => ({ label: v.label, actions: v.pending.total })),
    behind: shelf.volumes.flatMap((v) =>
      v.copies
        .filter((c) => c.behind.runs > 0)
        .map((c) => ({
          label: c.label,
          // the twin: the copy that is furthest ahead, i.e. misses the fewest runs
          twin: [...v.copies].filter((o) => o.copy !== c.copy).sort((a, b) => a.behind.runs - b.behind.runs)[0]?.label ?? v.label,
          days: c.behind.days,
          runs: c.behind.runs,
        })),
    ),
  };
}

/** Fewer days of room than this, and the summary says to have the next disk ready. */
export const LOW_DAYS = 14;

function n(x: number): string {
  return x.toLocaleString('en');
}

/** A shell word: left bare when it is safe, single-quoted otherwise. */
function shellWord(w: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

export function summaryLines(f: RunFacts): string[] {
  const lines: string[] = [];
  const c = f.counts;
  const kinds: [string, number][] = [
    ['added', c.added], ['modified', c.modified], ['renamed', c.renamed], ['linked', c.linked],
    ['removed', c.removed], ['deferred', c.deferred], ['skipped', c.skipped],
  ];
  const done = kinds.filter(([, v]) => v > 0).map(([k, v]) => `${k} ${n(v)}`);
  lines.push(`${f.dryRun ? 'would do on ' : ''}"${f.label}": ${done.length > 0 ? done.join(', ') : 'nothing to change'}; ${n(c.unchanged)} unchanged`);
  if (f.dryRun) {
    lines.push(`would copy ${formatBytes(f.bytesCopied)}`);
    return lines;
  }

  const written = f.bytesCopied + f.parityBytes;
  const rate = f.seconds > 0 && written > 0 ? `, ${formatBytes(written / f.seconds)}/s` : '';
  // Parity's real share: small files' sets take whole blocks, more than their bytes say.
  const share = f.parityDiskBytes && f.bytesCopied > 0 ? ` (${formatBytes(f.parityDiskBytes)} on the disk, ${Math.round((100 * f.parityDiskBytes) / f.bytesCopied)}% of the data)` : '';
  lines.push(`copied ${formatBytes(f.bytesCopied)} + parity ${formatBytes(f.parityBytes)}${share} in ${formatDuration(f.seconds)}${rate}`);

  const middle: string[] = [];
  if (f.missing > 0) middle.push(`${n(f.missing)} archived file(s) are gone from the data paths and kept on the archive (--clean removes them)`);
  lines.push(...stateLines(f, middle));
  return lines;
}

export type StateFacts = Pick<RunFacts, 'label' | 'freeBytes' | 'perDay' | 'pendingOffline' | 'behind' | 'stopped' | 'paths' | 'init'>;

/**
 * The lines every command that wrote a disk ends with: free space and how long it lasts, actions
 * waiting for other disks, and the next step. `middle` goes after the free-space line.
 */
export function stateLines(f: StateFacts, middle: string[] = []): string[] {
  const lines: string[] = [];
  if (f.freeBytes !== null) {
    const days = daysLeft(f.freeBytes, f.perDay);
    const growth = days === null ? '' : `: ${aboutDays(days)} at the recent ${formatBytes(f.perDay!)} a day`;
    lines.push(`${formatBytes(f.freeBytes)} free on "${f.label}"${growth}`);
  }
  lines.push(...middle);
  if (f.pendingOffline.length > 0) {
    lines.push(`waiting for offline disks: ${f.pendingOffline.map((p) => `"${p.label}" ${n(p.actions)} action(s)`).join(', ')}`);
  }
  const next: string[] = [];
  const paths = f.paths.length > 0 ? f.paths.map(shellWord).join(' ') : 'PATH...';
  if (f.stopped === 'disk-full') {
    next.push(`disk full: mount a new disk and run \`blaine backup --init --label NAME --dest DISK ${paths}\``);
  } else if (f.stopped === 'interrupted') {
    next.push(f.init ? 'interrupted: run the same command again without --init to continue (the disk is made already)' : 'interrupted: run the same command again to continue');
  } else {
    const days = daysLeft(f.freeBytes, f.perDay);
    if (days !== null && days < LOW_DAYS) next.push(`"${f.label}" fills in about ${n(days)} day(s): have a new disk ready`);
  }
  for (const b of f.behind) {
    const when = b.days > 0 ? `${n(b.days)} day(s)` : `${n(b.runs)} run(s)`;
    next.push(`disk ${b.label} is ${when} behind its twin ${b.twin}: mount it and run the backup to catch it up`);
  }
  for (const s of next) lines.push(`next: ${s}`);
  return lines;
}

/** What a visit left queued by the rule of SPEC §8 (plan/held.ts), in one line. */
export function heldLine(held: ReadonlyArray<{ until: string }>): string {
  const until = [...new Set(held.map((h) => h.until))].join('; ');
  return `${n(held.length)} deletion(s) held back, so that the offsite disks still give back the library: until ${until} (see \`blaine pending\`)`;
}
