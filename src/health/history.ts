/**
 * Each visit's SMART reading, kept in the host catalog (table disk_health), and what changed
 * since the visit before: what `disks`, `report` and the run itself tell the user.
 */
import type { Catalog } from '../catalog/catalog.js';
import { latestHealth, recordHealth } from '../catalog/health.js';
import { COUNTERS, type SmartReading } from './smart.js';

export interface HealthVisit extends SmartReading {
  copy: string;
  /** Milliseconds since the epoch. */
  at: number;
}

/** A copy's latest reading and the one before it (null on a first visit). */
export interface HealthNow {
  latest: HealthVisit;
  previous: HealthVisit | null;
}

export function recordVisit(cat: Catalog, copy: string, r: SmartReading, at: number): void {
  recordHealth(cat, { ...r, copy, at });
}

/** Every copy's latest two readings; empty for a catalog from before health was recorded. */
export function healthByCopy(cat: Catalog): Map<string, HealthNow> {
  const out = new Map<string, HealthNow>();
  for (const v of latestHealth(cat)) {
    const now = out.get(v.copy);
    if (!now) out.set(v.copy, { latest: v, previous: null });
    else now.previous = v;
  }
  return out;
}

/** The counters that grew since the previous visit. */
export function grownCounters(h: HealthNow): { name: string; from: number; to: number }[] {
  if (!h.previous) return [];
  const grown: { name: string; from: number; to: number }[] = [];
  for (const [key, name] of COUNTERS) {
    const to = h.latest[key];
    const from = h.previous[key];
    if (to !== null && from !== null && to > from) grown.push({ name, from, to });
  }
  return grown;
}

const n = (x: number) => x.toLocaleString('en');

/** "12,345 power-on hours, 36 °C, reallocated sectors 24 (+16), pending sectors 0, uncorrectable sectors 0" */
export function describeHealth(h: HealthNow): string {
  const parts: string[] = [];
  const { latest, previous } = h;
  if (latest.powerOnHours !== null) parts.push(`${n(latest.powerOnHours)} power-on hours`);
  if (latest.temperature !== null) parts.push(`${latest.temperature} °C`);
  for (const [key, name] of COUNTERS) {
    const v = latest[key];
    if (v === null) continue;
    const before = previous?.[key];
    const change = before === null || before === undefined || before === v ? '' : ` (${v > before ? '+' : ''}${n(v - before)})`;
    parts.push(`${name} ${n(v)}${change}`);
  }
  if (latest.passed === false) parts.push('SMART self-assessment FAILED');
  return parts.length > 0 ? parts.join(', ') : 'no SMART values';
}

/** Sentences for a disk whose health got worse since the last visit (or that says it is failing). */
export function healthWarnings(label: string, h: HealthNow): string[] {
  const out: string[] = [];
  const since = h.previous ? ` since the last visit (${new Date(h.previous.at).toISOString().slice(0, 10)})` : '';
  const grown = grownCounters(h);
  if (grown.length > 0) {
    const what = grown.map((g) => `${g.name} ${n(g.from)} → ${n(g.to)}`).join(', ');
    out.push(`disk "${label}" (${h.latest.device}${h.latest.serial ? `, serial ${h.latest.serial}` : ''}) is wearing out: ${what}${since}; copy what it holds to another disk and plan to replace it`);
  }
  if (h.latest.passed === false) out.push(`disk "${label}" (${h.latest.device}) fails its own SMART health check: copy what it holds to another disk now`);
  return out;
}
