/**
 * A disk's health, recorded on every visit: after a run that worked on a disk, its SMART reading
 * goes into the host catalog and the user hears what changed since the last visit.
 */
import { acquireLock } from '../archive/lock.js';
import { readVolume } from '../archive/volume.js';
import { Catalog } from '../catalog/catalog.js';
import { describeHealth, healthByCopy, healthWarnings, recordVisit } from './history.js';
import { blockDeviceOf, readSmart } from './smart.js';
import { type Fsx } from '../fsx/fsx.js';

export interface VisitReport {
  /** One line for the user: the reading and its change, or why there is none. */
  line: string;
  /** Counters that grew, a failing self-check. */
  warnings: string[];
}

/** Null when there is nothing to say: not a Blaine disk (the run said why), no host catalog yet. */
export function recordDiskHealth(db: string, dest: string, fsx: Fsx, now = Date.now()): VisitReport | null {
  let copy: string;
  let label: string;
  try {
    const info = readVolume(dest, fsx);
    copy = info.copy;
    label = info.copyLabel;
  } catch {
    return null;
  }
  if (!fsx.existsSync(db)) return null;
  const device = blockDeviceOf(dest, fsx);
  if (!device) return { line: `disk health of "${label}": not recorded (${dest} is not on a block device)`, warnings: [] };
  const reading = readSmart(device, fsx);
  if ('none' in reading) return { line: `disk health of "${label}": not recorded (${reading.none})`, warnings: [] };
  const release = acquireLock(`${db}.lock`, `the host catalog ${db}`);
  try {
    const host = Catalog.open(db);
    try {
      recordVisit(host, copy, reading, now);
      const h = healthByCopy(host).get(copy)!;
      return { line: `disk health of "${label}" (${device}): ${describeHealth(h)}`, warnings: healthWarnings(label, h) };
    } finally {
      host.close();
    }
  } finally {
    release();
  }
}
