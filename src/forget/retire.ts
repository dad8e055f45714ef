/**
 * Retiring one copy of a mirrored volume (the seed's step 9: when C and C' are full, C' is wiped and
 * becomes the new D'). `backup --init` on such a disk asks for --force; then this copy is forgotten in
 * the host catalog and what Blaine wrote on it goes — the catalogued files, their parity, `.blaine` —
 * while files Blaine did not write stay. Refused while the twin lacks changes only this copy holds.
 */
import { BlaineError } from '../error.js';
import path from 'node:path';
import { Catalog, type CopyRow, type VolumeRow } from '../catalog/catalog.js';
import { dropCopy } from '../catalog/forget.js';
import { copyLag, diskGeneration } from '../catalog/generation.js';
import { acquireDiskLock } from '../archive/lock.js';
import { blaineDir, diskCatalogPath, onDisk, quarantineDir, volumeFile } from '../archive/layout.js';
import { openDiskSession, type KeyProvider } from '../archive/session.js';
import { readVolume, type VolumeInfo } from '../archive/volume.js';
import type { Fsx } from '../fsx/fsx.js';
import { pruneEmptyDirs } from '../fsx/tree.js';


/** A retirement refused (the twin lacks changes, or the copy is not what it should be). */
export class RetireError extends BlaineError {}

/** Examples of changed paths named in a refusal. */
const SHOWN = 5;

export interface KnownCopy {
  info: VolumeInfo;
  volume: VolumeRow;
  /** The volume's other copies the host catalog knows. */
  twins: CopyRow[];
}

/**
 * The disk at `dest` as a copy of a volume that the host catalog knows with at least one other copy
 * (this copy itself may be forgotten already, by a retirement cut short); null for anything else.
 */
export function knownCopyAt(dest: string, db: string, fs: Fsx): KnownCopy | null {
  let info: VolumeInfo;
  try {
    info = readVolume(dest, fs);
  } catch {
    return null;
  }
  if (!fs.existsSync(db)) return null;
  const host = Catalog.openCopy(db);
  try {
    const volume = host.volume(info.volume);
    const twins = host.copies().filter((c) => c.volume === info.volume && c.copy !== info.copy);
    return volume && twins.length > 0 ? { info, volume, twins } : null;
  } finally {
    host.close();
  }
}

export function retireAdvice(k: KnownCopy, dest: string): string {
  const twins = k.twins.map((t) => `"${t.label}"`).join(', ');
  return (
    `${dest} is the copy "${k.info.copyLabel}" of volume "${k.info.label}", which ${twins} also hold(s); ` +
    `pass --force to retire this copy (Blaine's files on it are removed, others are left alone) and make it a new disk`
  );
}

export interface RetireReport {
  copyLabel: string;
  /** Catalogued files removed from the disk. */
  removed: number;
  /** The twin lacked changes of this copy and --discard-changes let them go. */
  discarded: number;
}

/**
 * Retires the copy at `dest`. Order matters for a crash: the host forgets the copy first, then the
 * files go, then the catalog, and volume.json last — until then a rerun recognises the disk and
 * retires it again.
 */
export function retireCopy(o: { dest: string; db: string; key?: KeyProvider; discardChanges: boolean; fs: Fsx }): RetireReport {
  const s = openDiskSession({ dest: o.dest, db: o.db, key: o.key, retiring: true, fs: o.fs });
  let report: RetireReport;
  const encrypted = s.info.encrypted;
  try {
    const { info } = s;
    const mine = diskGeneration(s.disk);
    const twins = s.host.copies().filter((c) => c.volume === info.volume && c.copy !== info.copy);
    const newest = twins.reduce((a, b) => (b.generation > a.generation ? b : a), twins[0]!);
    let discarded = 0;
    if (newest && newest.generation < mine) {
      const lag = copyLag(s.host.finishedRuns(), newest, mine, Date.now());
      const changed = changedHere(s.root, s.disk.entriesOfVolume(info.volume), newest.lastSync, o.fs);
      discarded = lag.files > 0 ? lag.files : changed.length;
      if (!o.discardChanges) {
        // The run log counts the changes; the newest-changed files on the disk are the likeliest examples of them.
        const shown = changed.slice(0, lag.files > 0 ? Math.min(SHOWN, lag.files) : SHOWN).join(', ');
        throw new RetireError(
          `"${newest.label}" lacks changes that only "${info.copyLabel}" holds: ${lag.files} file change(s) in ${lag.runs} run(s) since it was last synced` +
            `${newest.lastSync ? ` (${newest.lastSync.slice(0, 16).replace('T', ' ')} UTC)` : ''}` +
            `${shown ? `, e.g. ${shown}` : ''}; mount "${newest.label}" and run a backup onto it first, or add --discard-changes to retire "${info.copyLabel}" anyway`,
        );
      }
    }
    const rows = s.disk.entriesOfVolume(info.volume);
    s.host.transaction(() => dropCopy(s.host, info.copy));
    let removed = 0;
    // On an encrypted disk everything is inside the cipher directory, which goes whole below.
    if (!encrypted) {
      for (const e of rows) {
        const p = onDisk(s.root, e.path);
        try {
          o.fs.lstatSync(p);
        } catch {
          continue;
        }
        o.fs.rmSync(p, { force: true });
        pruneEmptyDirs(s.root, path.dirname(p), o.fs);
        removed++;
      }
    } else removed = rows.length;
    report = { copyLabel: info.copyLabel, removed, discarded };
  } finally {
    s.close();
  }
  wipeBlaineDir(o.dest, encrypted, o.fs);
  return report;
}

/**
 * Catalogued paths of this copy whose file changed on the disk after `since` (newest first): the
 * examples a refusal names. Files the copy took over from its twin while catching up look alike,
 * so these are examples, not the exact set.
 */
function changedHere(root: string, rows: Array<{ path: string }>, since: string | null, fs: Fsx): string[] {
  const after = since ? Date.parse(since) : 0;
  const hits: Array<[number, string]> = [];
  for (const e of rows) {
    try {
      const t = fs.lstatSync(onDisk(root, e.path)).ctimeMs;
      if (t > after) hits.push([t, e.path]);
    } catch {
      // missing on the disk: nothing this copy holds
    }
  }
  return hits.sort((a, b) => b[0] - a[0]).map(([, p]) => p);
}

/** Empties .blaine under the disk's lock: all but quarantined files (not proven Blaine's), volume.json last. */
function wipeBlaineDir(dest: string, encrypted: boolean, fs: Fsx): void {
  const release = acquireDiskLock(dest);
  try {
    const dir = blaineDir(dest);
    const keep = new Set(['lock', 'volume.json', path.basename(quarantineDir(dest))]);
    const catalog = path.basename(diskCatalogPath(dest));
    const names = fs.readdirSync(dir) as string[];
    for (const n of names) if (!keep.has(n) && !n.startsWith(catalog)) fs.rmSync(path.join(dir, n), { recursive: true, force: true });
    for (const n of names) if (n.startsWith(catalog)) fs.rmSync(path.join(dir, n), { force: true });
    if (encrypted) fs.rmSync(quarantineDir(dest), { recursive: true, force: true });
    fs.rmSync(volumeFile(dest), { force: true });
  } finally {
    release();
  }
}
