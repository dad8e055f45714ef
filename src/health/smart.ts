/**
 * A disk's SMART health, read with smartctl's JSON output (`smartctl -j -a DEVICE`, smartmontools
 * 7): the counters that tell a dying disk (reallocated, pending and uncorrectable sectors), its
 * power-on hours and temperature. A disk that sat on a shelf for a year is the one most likely to
 * be failing, and only a visit can tell.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fsConstants, type Fsx } from '../fsx/fsx.js';

export interface SmartReading {
  device: string;
  model: string | null;
  serial: string | null;
  powerOnHours: number | null;
  reallocated: number | null;
  pending: number | null;
  uncorrectable: number | null;
  temperature: number | null;
  /** The drive's own overall assessment; null when it gives none. */
  passed: boolean | null;
}

/** Why there is no reading, in words for one line. */
export interface NoReading {
  none: string;
}

/** The counters whose growth says a disk is failing, as the user reads them. */
export const COUNTERS = [
  ['reallocated', 'reallocated sectors'],
  ['pending', 'pending sectors'],
  ['uncorrectable', 'uncorrectable sectors'],
] as const;

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** ATA attribute ids (smartmontools' drivedb names): 5 Reallocated_Sector_Ct, 197 Current_Pending_Sector, 198 Offline_Uncorrectable. */
const ATA = { reallocated: 5, pending: 197, uncorrectable: 198 } as const;

/** smartctl's JSON, read: a reading, or why there is none (no SMART, a USB bridge it cannot pass, an error). */
export function parseSmart(text: string, device: string): SmartReading | NoReading {
  let doc: Json;
  try {
    doc = obj(JSON.parse(text)) ?? {};
  } catch {
    return { none: `smartctl gave no JSON for ${device} (smartmontools 7 or newer is needed)` };
  }
  const messages = ((obj(doc.smartctl)?.messages as unknown[]) ?? []).map((m) => obj(m)).filter((m): m is Json => !!m);
  const firstError = messages.find((m) => m.severity === 'error')?.string;
  const support = obj(doc.smart_support);
  if (support?.available === false) return { none: `${device} has no SMART` };
  if (support?.enabled === false) return { none: `SMART is turned off on ${device} (smartctl -s on ${device})` };
  const table = ((obj(doc.ata_smart_attributes)?.table as unknown[]) ?? []).map((a) => obj(a)).filter((a): a is Json => !!a);
  const attribute = (id: number) => num(obj(table.find((a) => a.id === id)?.raw)?.value);
  const nvme = obj(doc.nvme_smart_health_information_log);
  const reading: SmartReading = {
    device,
    model: typeof doc.model_name === 'string' ? doc.model_name : null,
    serial: typeof doc.serial_number === 'string' ? doc.serial_number : null,
    powerOnHours: num(obj(doc.power_on_time)?.hours) ?? num(nvme?.power_on_hours),
    reallocated: attribute(ATA.reallocated),
    pending: attribute(ATA.pending),
    uncorrectable: attribute(ATA.uncorrectable) ?? num(nvme?.media_errors),
    temperature: num(obj(doc.temperature)?.current) ?? num(nvme?.temperature),
    passed: typeof obj(doc.smart_status)?.passed === 'boolean' ? (obj(doc.smart_status)!.passed as boolean) : null,
  };
  const anything = [reading.powerOnHours, reading.reallocated, reading.pending, reading.uncorrectable, reading.temperature, reading.passed].some((v) => v !== null);
  if (!anything) return { none: typeof firstError === 'string' ? firstError.replace(/\.$/, '') : `${device} reports no SMART data` };
  return reading;
}

/** The block device a path's file system is on (the whole disk, not its partition); null for tmpfs, FUSE, … */
export function blockDeviceOf(dir: string, fs: Fsx, mountinfo = '/proc/self/mountinfo'): string | null {
  let real: string;
  try {
    real = fs.realpathSync(dir);
  } catch {
    return null;
  }
  let best: { at: string; source: string } | null = null;
  for (const line of fs.readFileSync(mountinfo, 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const at = left.split(' ')[4]!.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    const inside = real === at || real.startsWith(at.endsWith('/') ? at : `${at}/`);
    if (inside && (!best || at.length >= best.at.length)) best = { at, source: right.split(' ')[1]! };
  }
  if (!best || !best.source.startsWith('/dev/')) return null;
  // A partition's disk: /sys/class/block/sdb1 is a folder inside /sys/…/sdb.
  const name = path.basename(fs.existsSync(best.source) ? fs.realpathSync(best.source) : best.source);
  const sys = `/sys/class/block/${name}`;
  if (fs.existsSync(path.join(sys, 'partition'))) return `/dev/${path.basename(path.dirname(fs.realpathSync(sys)))}`;
  return `/dev/${name}`;
}

/** smartctl on PATH, else where Debian puts it (a user's PATH often lacks /usr/sbin). */
export function findSmartctl(fs: Fsx, env: NodeJS.ProcessEnv = process.env): string | null {
  const dirs = [...(env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    const p = path.join(d, 'smartctl');
    try {
      fs.accessSync(p, fsConstants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** Reads the device's SMART data; never throws (a disk's health is worth a line, not a failed run). */
export function readSmart(device: string, fs: Fsx): SmartReading | NoReading {
  const smartctl = findSmartctl(fs);
  if (!smartctl) return { none: 'smartctl is not installed (Debian: apt-get install smartmontools)' };
  const r = spawnSync(smartctl, ['-j', '-a', device], { encoding: 'utf8', timeout: 60_000, maxBuffer: 16 << 20 });
  if (r.error) return { none: `smartctl could not run: ${r.error.message}` };
  return parseSmart(r.stdout, device);
}
