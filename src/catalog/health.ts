/**
 * The disk_health table of the host catalog: one SMART reading per visit of a copy. What the
 * readings mean is src/health's; storing and finding them is here.
 */
import { connectionOf } from './handle.js';
import type { SmartReading } from '../health/smart.js';

/** One visit's reading as stored (null: the drive did not report it). */
export interface HealthRecord extends SmartReading {
  copy: string;
  /** Milliseconds since the epoch. */
  at: number;
}

interface Row {
  copy: string;
  at: number;
  device: string;
  model: string | null;
  serial: string | null;
  power_on_hours: number | null;
  reallocated: number | null;
  pending: number | null;
  uncorrectable: number | null;
  temperature: number | null;
  passed: number | null;
}

export function recordHealth(cat: object, r: HealthRecord): void {
  connectionOf(cat)
    .prepare(
      `INSERT OR REPLACE INTO disk_health (copy, at, device, model, serial, power_on_hours, reallocated, pending, uncorrectable, temperature, passed)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(r.copy, r.at, r.device, r.model, r.serial, r.powerOnHours, r.reallocated, r.pending, r.uncorrectable, r.temperature, r.passed === null ? null : r.passed ? 1 : 0);
}

/** Every copy's latest two readings, newest first per copy; none for a catalog from before health was recorded. */
export function latestHealth(cat: object): HealthRecord[] {
  const db = connectionOf(cat);
  if (!db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'disk_health'`).get()) return [];
  const rows = db
    .prepare(`SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY copy ORDER BY at DESC) AS n FROM disk_health) WHERE n <= 2 ORDER BY copy, at DESC`)
    .all() as Row[];
  return rows.map((r) => ({
    copy: r.copy,
    at: r.at,
    device: r.device,
    model: r.model,
    serial: r.serial,
    powerOnHours: r.power_on_hours,
    reallocated: r.reallocated,
    pending: r.pending,
    uncorrectable: r.uncorrectable,
    temperature: r.temperature,
    passed: r.passed === null ? null : r.passed === 1,
  }));
}
