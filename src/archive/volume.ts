/**
 * Disk identity: <disk>/.blaine/volume.json, always in the clear (also on encrypted disks, so a
 * disk can be recognised before its key is at hand).
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { isTempName } from '../fsx/temp.js';
import { CopyError, fsyncPath, targetError } from '../fsx/copy.js';
import { errCode, reason } from '../fsx/errno.js';
import { type Fsx, type Dirent, type Stats } from '../fsx/fsx.js';
import { blaineDir, cipherDir, oldCatalogsDir, quarantineDir, volumeFile } from './layout.js';
import { missingVolumeFileError } from './damage.js';
import { DiskError } from './disk-error.js';
export { DiskError, type DiskErrorCode } from './disk-error.js';

/** plan/renames.ts swapPath parks files in directories named so. */
const SWAP_DIR_PREFIX = 'swap-';

function quarantine(disk: string, dir: string, fs: Fsx): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir) as string[];
  } catch {
    return;
  }
  const into = path.join(quarantineDir(disk), `${path.basename(dir)}-${Date.now()}`);
  for (const n of names) {
    fs.mkdirSync(into, { recursive: true });
    fs.renameSync(path.join(dir, n), path.join(into, n));
  }
  fs.rmdirSync(dir);
}

export interface VolumeInfo {
  format: 1;
  /** UUID of the volume; mirror copies share it. */
  volume: string;
  label: string;
  /** UUID of this physical copy. */
  copy: string;
  copyLabel: string;
  /** ISO time of initialisation. */
  created: string;
  encrypted: boolean;
  /**
   * Top-level names that were on the disk before `--init --force`: not Blaine's, so never listed
   * as extra, quarantined or removed (SPEC §3). Absent when the disk started empty.
   */
  foreign?: string[];
  /** What `backup --init` was given for this disk; later runs use it unless told otherwise. */
  settings?: DiskSettings;
}

/** Per-disk backup settings, remembered in volume.json (a twin made by clone inherits them). */
export interface DiskSettings {
  /** Bytes to leave free. */
  reserve?: number;
  /** Parity in percent; 0: no parity. */
  parity?: number;
}

export function validSettings(v: unknown): v is DiskSettings {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  return Object.entries(v).every(([k, n]) => ['reserve', 'parity'].includes(k) && typeof n === 'number' && Number.isFinite(n) && n >= 0);
}

const FORMAT = 1;
/** Entries a fresh file system may already hold; they do not make a disk "not empty". */
const FRESH_DISK_ENTRIES = new Set(['lost+found']);
let tempCounter = 0;

function requireDirectory(disk: string, fs: Fsx): Stats {
  let st: Stats;
  try {
    st = fs.statSync(disk);
  } catch {
    throw new DiskError(`${disk} does not exist or is not a directory; is the disk mounted?`, 'NOT_A_DIRECTORY');
  }
  if (!st.isDirectory()) throw new DiskError(`${disk} does not exist or is not a directory; is the disk mounted?`, 'NOT_A_DIRECTORY');
  return st;
}

/** A directory on the same device as its parent is not a mount point: likely a disk that is not mounted. */
function isMountPoint(disk: string, st: Stats, fs: Fsx): boolean {
  try {
    const parent = fs.statSync(path.join(disk, '..'));
    return parent.dev !== st.dev || parent.ino === st.ino;
  } catch {
    return true;
  }
}

function validate(value: unknown, where: string): VolumeInfo {
  const bad = (what: string): DiskError => new DiskError(`${where} is not a valid Blaine volume file: ${what}.`, 'BAD_VOLUME_FILE');
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('it is not a JSON object');
  const v = value as Record<string, unknown>;
  if (v.format !== FORMAT) {
    if (typeof v.format === 'number') {
      throw new DiskError(
        `${where} has format version ${v.format}, which this Blaine does not know; use a newer Blaine for this disk.`,
        'BAD_VOLUME_FILE',
      );
    }
    throw bad('it has no format version');
  }
  for (const key of ['volume', 'label', 'copy', 'copyLabel', 'created'] as const) {
    if (typeof v[key] !== 'string' || v[key] === '') throw bad(`"${key}" must be a non-empty string`);
  }
  if (typeof v.encrypted !== 'boolean') throw bad('"encrypted" must be true or false');
  if (v.foreign !== undefined && (!Array.isArray(v.foreign) || v.foreign.some((n) => typeof n !== 'string'))) {
    throw bad('"foreign" must be a list of names');
  }
  if (v.settings !== undefined && !validSettings(v.settings)) throw bad('"settings" must hold only "reserve" and "parity", as numbers');
  return {
    format: FORMAT,
    volume: v.volume as string,
    label: v.label as string,
    copy: v.copy as string,
    copyLabel: v.copyLabel as string,
    created: v.created as string,
    encrypted: v.encrypted,
    ...(v.foreign ? { foreign: v.foreign as string[] } : {}),
    ...(v.settings ? { settings: v.settings as DiskSettings } : {}),
  };
}

export function readVolume(disk: string, fs: Fsx): VolumeInfo {
  const st = requireDirectory(disk, fs);
  const file = volumeFile(disk);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8') as string;
  } catch (err) {
    if (errCode(err) === 'ENOENT' || errCode(err) === 'ENOTDIR') {
      // A disk whose catalog names its volume is a damaged Blaine disk, not a new one.
      const damaged = missingVolumeFileError(disk, fs);
      if (damaged) throw damaged;
      const hint = isMountPoint(disk, st, fs) ? '' : ` (${disk} is not a mount point either: check that the disk is mounted)`;
      throw new DiskError(`${disk} is not a Blaine disk; run \`blaine backup --init\` to make it one${hint}.`, 'NOT_INITIALISED');
    }
    throw new DiskError(`Cannot read ${file}: ${reason(err)}.`, 'BAD_VOLUME_FILE');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new DiskError(`${file} is not a valid Blaine volume file: it is not valid JSON.`, 'BAD_VOLUME_FILE');
  }
  return validate(parsed, file);
}

/** Writes the file under a temporary name, flushed, then puts it in place (exclusively when `exclusive`). */
function writeVolumeFile(disk: string, info: VolumeInfo, exclusive: boolean, fs: Fsx): void {
  const dir = blaineDir(disk);
  const file = volumeFile(disk);
  const tmp = path.join(dir, `.volume.json.blaine-tmp-${process.pid}-${++tempCounter}`);
  try {
    fs.mkdirSync(dir, { recursive: true });
    const fd = fs.openSync(tmp, 'wx', 0o644);
    try {
      fs.writeFileSync(fd, `${JSON.stringify(info, null, 2)}\n`);
      // Written once per disk and decisive for recognising it: worth an fsync.
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (exclusive) {
      try {
        fs.linkSync(tmp, file);
      } catch (err) {
        if (errCode(err) === 'EEXIST') throw new DiskError(`${disk} is already a Blaine disk; it cannot be initialised again.`, 'ALREADY_INITIALISED');
        throw err;
      }
      fs.unlinkSync(tmp);
    } else {
      fs.renameSync(tmp, file);
    }
    fsyncPath(dir, fs);
  } catch (err) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // Not made, or already renamed.
    }
    if (err instanceof DiskError) throw err;
    throw targetError(err, file);
  }
}

/** Replaces the volume file atomically. */
export function writeVolume(disk: string, info: VolumeInfo, fs: Fsx): void {
  requireDirectory(disk, fs);
  writeVolumeFile(disk, validate(info, 'The volume information'), false, fs);
}

/** Creates .blaine and its working directories (tmp, old, parity) under root; existing ones are kept. */
export function ensureLayout(root: string, fs: Fsx): void {
  const dir = blaineDir(root);
  for (const sub of ['', 'tmp', 'old', 'parity']) fs.mkdirSync(path.join(dir, sub), { recursive: true, mode: 0o700 });
  privateBlaineDir(root, fs);
}

/**
 * .blaine holds the catalogs, which name every archived file: its owner's alone (SPEC §3), also on
 * a disk made before Blaine said so. The archived files themselves keep their own modes.
 */
export function privateBlaineDir(root: string, fs: Fsx): void {
  try {
    const dir = blaineDir(root);
    if ((fs.statSync(dir).mode & 0o077) !== 0) fs.chmodSync(dir, 0o700);
  } catch {
    // Not there yet, or a read-only disk: nothing to tighten now.
  }
}

/**
 * Makes `disk` a new Blaine volume with one copy. The label defaults to the directory's name.
 * A plain disk gets its working directories at once; an encrypted one gets only volume.json in
 * the clear (SPEC §3): the working directories belong inside the encrypted view, where
 * ensureLayout(mount point) makes them. An encrypted disk must start empty (lost+found aside).
 */
export function initVolume(
  disk: string,
  label: string | undefined,
  opts: { encrypted?: boolean; prepare?: () => void; /** accept a disk that holds files, and leave them alone */ force?: boolean; settings?: DiskSettings } = {},
  fs: Fsx,
): VolumeInfo {
  requireDirectory(disk, fs);
  if (fs.existsSync(volumeFile(disk))) {
    let known = '';
    try {
      const v = readVolume(disk, fs);
      known = ` (volume "${v.label}", ${v.volume})`;
    } catch {
      // A damaged file still means the disk was initialised once.
    }
    throw new DiskError(`${disk} is already a Blaine disk${known}; it cannot be initialised again.`, 'ALREADY_INITIALISED');
  }
  // Without volume.json but with a catalog naming its volume: a damaged disk, never a second volume on it (not even with --force).
  const damaged = missingVolumeFileError(disk, fs);
  if (damaged) throw damaged;
  const encrypted = opts.encrypted === true;
  const present = (fs.readdirSync(disk) as string[]).filter((name) => {
    if (FRESH_DISK_ENTRIES.has(name)) return false;
    if (name === '.blaine') {
      // An init that crashed before writing volume.json may have left .blaine (empty folders, a
      // fresh cipher directory): nothing was ever stored there without volume.json.
      if (!encrypted) return false;
      try {
        return (fs.readdirSync(path.join(disk, name)) as string[]).some((n) => !isTempName(n) && n !== path.basename(cipherDir(disk)));
      } catch {
        return true;
      }
    }
    return true;
  });
  if (present.length > 0) {
    const shown = present.slice(0, 3).join(', ') + (present.length > 3 ? ', …' : '');
    if (encrypted) {
      throw new DiskError(
        `${disk} already holds files (${shown}); an encrypted disk must start empty, so use an empty disk or leave out --encrypt.`,
        'NOT_EMPTY',
      );
    }
    if (!opts.force) {
      throw new DiskError(
        `${disk} already holds files (${shown}); use an empty disk, or pass --force to keep them there, left alone by Blaine.`,
        'NOT_EMPTY',
      );
    }
  }
  const name = label?.trim() || path.basename(path.resolve(disk)) || 'disk';
  const info: VolumeInfo = {
    format: FORMAT,
    volume: crypto.randomUUID(),
    label: name,
    copy: crypto.randomUUID(),
    copyLabel: name,
    created: new Date().toISOString(),
    encrypted,
    ...(present.length > 0 ? { foreign: present.sort() } : {}),
    ...(opts.settings ? { settings: opts.settings } : {}),
  };
  const madeDir = !fs.existsSync(blaineDir(disk));
  try {
    if (encrypted) {
      fs.mkdirSync(blaineDir(disk), { recursive: true, mode: 0o700 });
      fs.rmSync(cipherDir(disk), { recursive: true, force: true });
    } else ensureLayout(disk, fs);
  } catch (err) {
    throw targetError(err, blaineDir(disk));
  }
  try {
    opts.prepare?.();
  } catch (err) {
    // Nothing of the failed init stays behind: the disk is as it was.
    if (encrypted) fs.rmSync(cipherDir(disk), { recursive: true, force: true });
    if (madeDir) fs.rmSync(blaineDir(disk), { recursive: true, force: true });
    throw err;
  }
  writeVolumeFile(disk, info, true, fs);
  return info;
}

function removeEntry(entry: string, fs: Fsx): void {
  fs.rmSync(entry, { recursive: true, force: true });
}

/** Removes files named by isTempName below dir, staying on dir's file system; returns how many. */
function removeTempFilesBelow(dir: string, dev: number, skip: string, fs: Fsx): number {
  let removed = 0;
  let entries: Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (full === skip) continue;
    if (isTempName(entry.name) && !entry.isDirectory()) {
      removeEntry(full, fs);
      removed++;
    } else if (entry.isDirectory()) {
      let st: Stats;
      try {
        st = fs.lstatSync(full);
      } catch {
        continue;
      }
      if (st.dev === dev) removed += removeTempFilesBelow(full, dev, skip, fs);
    }
  }
  return removed;
}

/**
 * Removes what crashed runs left behind: everything in .blaine/tmp and temporary files in
 * .blaine itself and .blaine/old; with `deep`, also temporary files (isTempName) anywhere on the disk, for
 * copies made with their temporary file beside the destination. Returns how many entries were
 * removed. Call only while holding the disk's lock: a live run's temporary files look the same.
 */
export function cleanupTemp(disk: string, opts: { deep?: boolean } = {}, fs: Fsx): number {
  requireDirectory(disk, fs);
  const dir = blaineDir(disk);
  const tmp = path.join(dir, 'tmp');
  let removed = 0;
  let names: string[] = [];
  try {
    names = fs.readdirSync(tmp) as string[];
  } catch (err) {
    if (errCode(err) !== 'ENOENT') throw new CopyError(`Cannot read ${tmp}: ${reason(err)}.`, 'TARGET', tmp, { cause: err });
  }
  for (const name of names) {
    if (name.startsWith(SWAP_DIR_PREFIX)) {
      // A file parked for a swap that the journal could not put back: possibly the disk's only copy
      // of that content, so it is kept where verify lists it, never deleted.
      quarantine(disk, path.join(tmp, name), fs);
      continue;
    }
    removeEntry(path.join(tmp, name), fs);
    removed++;
  }
  if (opts.deep) {
    removed += removeTempFilesBelow(disk, fs.statSync(disk).dev, tmp, fs);
  } else {
    // .blaine itself (volume.json, catalog snapshots) and .blaine/old (rotated catalogs).
    for (const own of [dir, oldCatalogsDir(disk)]) {
      let names: string[] = [];
      try {
        names = fs.readdirSync(own) as string[];
      } catch {
        // Not there: nothing of ours to clean.
      }
      for (const name of names) {
        if (isTempName(name)) {
          removeEntry(path.join(own, name), fs);
          removed++;
        }
      }
    }
  }
  return removed;
}
