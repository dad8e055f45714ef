/**
 * What to do next, from the shelf: which disk to bring back and why. The report's first box; the
 * order is the order of urgency (a failing disk first, a scrub last).
 */
import { formatBytes } from '../fsx/space.js';
import { healthWarnings } from '../health/history.js';
import { aboutDays, daysLeft } from './growth.js';
import type { Shelf } from './shelf.js';
import { LOW_DAYS } from './summary.js';
import { whenText } from './when.js';

export interface NextStep {
  level: 'urgent' | 'soon' | 'when-convenient';
  /** The disk (copy label) to act on. */
  disk: string;
  /** What to do, in a few words. */
  action: string;
  why: string;
}

/** Less free than this share of the disk, and a new disk should be ready. */
const NEARLY_FULL_SHARE = 0.05;

const LEVELS: NextStep['level'][] = ['urgent', 'soon', 'when-convenient'];

export function nextSteps(shelf: Shelf): NextStep[] {
  const steps: NextStep[] = [];
  const now = shelf.generated;
  for (const v of shelf.volumes) {
    const p = v.pending;
    if (p.total > 0) {
      const disks = v.copies.map((c) => c.label).join(' or ') || v.label;
      const kinds = [p.RENAME ? `${p.RENAME} rename` : '', p.LINK ? `${p.LINK} link` : '', p.DELETE ? `${p.DELETE} delete` : ''].filter(Boolean).join(', ');
      steps.push({ level: 'soon', disk: disks, action: 'bring it back and run the backup (or apply)', why: `${p.total.toLocaleString('en')} deferred action(s) wait for it (${kinds})` });
    }
    for (const c of v.copies) {
      if (c.health) {
        for (const w of healthWarnings(c.label, c.health)) steps.push({ level: 'urgent', disk: c.label, action: 'copy what it holds elsewhere and replace it', why: w });
      }
      if (c.behind.runs > 0) {
        const since = c.behind.days > 0 ? `, the oldest ${c.behind.days} day(s) ago` : '';
        steps.push({
          level: 'soon',
          disk: c.label,
          action: 'plug it in to catch it up with its twin',
          why: `${c.behind.runs} run(s) behind: ${c.behind.files.toLocaleString('en')} file(s), ${formatBytes(c.behind.bytes)} to catch up${since}`,
        });
      }
      const left = daysLeft(c.free, shelf.perDay);
      const lowShare = c.free !== null && c.capacity !== null && c.capacity > 0 && c.free < c.capacity * NEARLY_FULL_SHARE;
      if (v.files > 0 && ((left !== null && left < LOW_DAYS) || lowShare)) {
        const room = `${formatBytes(c.free ?? 0)} free${c.capacity ? ` of ${formatBytes(c.capacity)}` : ''}`;
        steps.push({ level: 'soon', disk: c.label, action: 'have a new disk ready: it is nearly full', why: `${room}${left === null ? '' : `, ${aboutDays(left)} at the recent growth`}` });
      }
      if (c.scrubDue) {
        const last = c.lastScrub ? `last read in full ${whenText(c.lastScrub, now)}` : `never read in full since it was made ${whenText(c.made ?? c.lastSync, now)}`;
        steps.push({ level: 'when-convenient', disk: c.label, action: 'bring it back for a scrub (verify --checksum)', why: `${last}; the rule: every ${shelf.scrubDays} days` });
      }
    }
  }
  return steps.sort((a, b) => LEVELS.indexOf(a.level) - LEVELS.indexOf(b.level));
}
