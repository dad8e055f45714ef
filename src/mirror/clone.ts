import { BlaineError } from '../error.js';
import crypto from 'node:crypto';
import { snapshotDatabases } from '../catalog/snapshot.js';
import { DirWriter, planFromRows } from '../dirs/sync.js';
import path from 'node:path';
import { Catalog } from '../catalog/catalog.js';
import { diskGeneration, markRunFinished } from '../catalog/generation.js';
import { CopyError, copyWithSha256, fsyncPath, makeSymlink, syncDisk } from '../fsx/copy.js';
import { TEMP_MARK, tempName } from '../fsx/temp.js';
import { acquireDiskLock } from '../archive/lock.js';
import type { DiskSession, KeyProvider } from '../archive/session.js';
import { blaineDir, cipherDir, diskCatalogPath, diskTempDir, hostSnapshotPath, onDisk, volumeFile } from '../archive/layout.js';
import { capacityBytes, freeBytes } from '../fsx/space.js';
import { cipherBytes } from '../crypt/overhead.js';
import { type Fsx, type BigIntStats } from '../fsx/fsx.js';
import { DiskError, ensureLayout, readVolume, writeVolume, type VolumeInfo } from '../archive/volume.js';
import { initCipher, mountCipher, requireTools, type CipherMount } from '../crypt/gocryptfs.js';

export interface CloneResult {
  info: VolumeInfo;
  files: number;
  bytes: number;
  /** Files whose bytes on the source disk no longer match their catalogued SHA-256 (copied as they are). */
  mismatched: string[];
  stopped: null | 'disk-full' | 'interrupted';
}

/** A clone refused before it writes: the target is not empty, or is the source itself. */
export class CloneError extends BlaineError {}

const FRESH = new Set(['lost+found']);

function statTimes(st: BigIntStats) {
  return { mtimeSec: Number(st.mtimeNs / 1_000_000_000n), mtimeNsec: Number(st.mtimeNs % 1_000_000_000n) };
}

function volumeOf(disk: string, fs: Fsx): string | null {
  try {
    return readVolume(disk, fs).volume;
  } catch {
    return null;
  }
}

function onlyEmptyFolders(dir: string, fs: Fsx): boolean {
  try {
    return (fs.readdirSync(dir) as string[]).every((n) => {
      const p = path.join(dir, n);
      return fs.lstatSync(p).isDirectory() && fs.readdirSync(p).length === 0;
    });
  } catch {
    return false;
  }
}

const COPY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The marker of an interrupted clone and the copy id it holds (markers of older versions hold none). */
function markerWithCopy(dir: string, markerPrefix: string, fs: Fsx): { marker: string; copy: string } | null {
  for (const n of fs.readdirSync(dir) as string[]) {
    if (!n.startsWith(markerPrefix)) continue;
    try {
      const copy = String(fs.readFileSync(path.join(dir, n), 'utf8')).trim();
      if (COPY_ID.test(copy)) return { marker: path.join(dir, n), copy };
    } catch {
      // an unreadable marker only costs the old id
    }
  }
  return null;
}

/**
 * Makes a second physical copy of the mounted volume on an empty disk: every stored file with its
 * hardlinks, the parity tree, and the disk catalog, all under the same volume UUID and a new copy
 * id. volume.json is written last, so an interrupted clone is never mistaken for a usable copy.
 */
export async function cloneDisk(
  s: DiskSession,
  to: string,
  copyLabel: string | undefined,
  opts: { signal: AbortSignal; detail(msg: string): void; warn(msg: string): void; fs: Fsx; key?: KeyProvider },
): Promise<CloneResult> {
  const fs = opts.fs;
  const target = path.resolve(to);
  if (!fs.existsSync(target) || !fs.statSync(target).isDirectory()) {
    throw new DiskError(`${target} does not exist or is not a directory; is the new disk mounted?`, 'NOT_A_DIRECTORY');
  }
  // A .blaine of empty folders is what a clone cut short before its marker leaves: nothing to keep.
  const present = fs.readdirSync(target).filter((n) => !FRESH.has(n) && !(n === '.blaine' && onlyEmptyFolders(path.join(target, n), fs)));
  const markerPrefix = `.clone-${s.info.volume}${TEMP_MARK}`;
  // The killed clone may have registered its copy id in the host catalog already; the rerun takes
  // the same id over, so the host keeps one row for this disk, not a ghost beside it.
  let resumed: { marker: string; copy: string } | null = null;
  if (present.length > 0) {
    // A clone of this volume that was cut short (its marker, and no identity yet or only just this
    // volume's): everything on the disk is what it wrote, since a clone starts only on an empty
    // disk. It is started again.
    const own = blaineDir(target);
    const resumable =
      fs.existsSync(own) &&
      (fs.readdirSync(own) as string[]).some((n) => n.startsWith(markerPrefix)) &&
      (!fs.existsSync(volumeFile(target)) || volumeOf(target, fs) === s.info.volume);
    if (!resumable) throw new CloneError(`${target} is not empty; a mirror copy needs an empty disk`);
    opts.warn(`${target} holds an interrupted clone of this volume; starting it again`);
    resumed = markerWithCopy(own, markerPrefix, fs);
    // The marker stays through the wipe: a crash during it must still find the id to take over.
    for (const n of present) {
      if (resumed && n === path.basename(own)) {
        for (const m of fs.readdirSync(own) as string[]) {
          const p = path.join(own, m);
          if (p !== resumed.marker) fs.rmSync(p, { recursive: true, force: true });
        }
      } else fs.rmSync(path.join(target, n), { recursive: true, force: true });
    }
  }
  if (path.resolve(s.root) === target || path.resolve(s.dest) === target) throw new CloneError('--to must be another disk than --dest');
  // The copy of an encrypted volume is encrypted with the same key; only its identity is in the clear.
  const encrypted = s.info.encrypted;
  let key = '';
  if (encrypted) {
    requireTools();
    if (!opts.key) throw new Error('an encrypted disk was cloned without a way to ask for its key');
    key = opts.key(`the disk "${s.info.copyLabel}" at ${s.dest}`, false);
    fs.mkdirSync(blaineDir(target), { recursive: true });
  } else ensureLayout(target, fs);
  const marker = resumed?.marker ?? path.join(blaineDir(target), tempName(`clone-${s.info.volume}`));
  const copy = resumed?.copy ?? crypto.randomUUID();
  if (!resumed) {
    fs.writeFileSync(marker, `${copy}\n`);
    // Durable before the host catalog can name the copy, so a power cut cannot lose the id a rerun takes over.
    fsyncPath(marker, fs);
    fsyncPath(blaineDir(target), fs);
  }
  const release = acquireDiskLock(target);
  let mount: CipherMount | null = null;
  const result: CloneResult = {
    info: { ...s.info, copy, copyLabel: copyLabel?.trim() || path.basename(target) },
    files: 0,
    bytes: 0,
    mismatched: [],
    stopped: null,
  };
  try {
    let root = target;
    if (encrypted) {
      initCipher(cipherDir(target), key);
      mount = mountCipher(cipherDir(target), key, { tag: result.info.copy, shownAs: `[encrypted disk ${target}]` });
      root = mount.mountPoint;
      ensureLayout(root, fs);
    }
    const linked = new Map<string, string>(); // source disk inode -> path on the new disk
    // The volume's folders as its catalog has them: made first (never wider than their own mode),
    // their mtimes set once every file is in.
    const folders = planFromRows(s.disk.dirsOf(s.info.volume));
    const folderWriter = new DirWriter({ root, volume: s.info.volume, disk: s.disk, host: s.host, fs, warn: opts.warn });
    folderWriter.makeNarrowFirst(folders);
    for (const e of s.disk.iterateVolume(s.info.volume)) {
      if (opts.signal.aborted) {
        result.stopped = 'interrupted';
        return result;
      }
      const src = onDisk(s.root, e.path);
      const dest = onDisk(root, e.path);
      let st: BigIntStats;
      try {
        st = fs.lstatSync(src, { bigint: true });
      } catch {
        opts.warn(`${e.path} is catalogued but missing on ${s.root}; not on the copy either (run \`blaine verify\`)`);
        continue;
      }
      if (e.kind === 'symlink') {
        makeSymlink(fs.readlinkSync(src), dest, { uid: Number(st.uid), gid: Number(st.gid), ...statTimes(st) }, fs);
        result.files++;
        continue;
      }
      const ino = `${st.dev}:${st.ino}`;
      const first = linked.get(ino);
      if (first !== undefined) {
        fs.mkdirSync(path.dirname(dest), { recursive: true });
        fs.linkSync(first, dest);
        result.files++;
        continue;
      }
      if (freeBytes(root, fs) < (encrypted ? cipherBytes(Number(st.size)) : Number(st.size))) {
        result.stopped = 'disk-full';
        return result;
      }
      try {
        const res = await copyWithSha256(
          src,
          dest,
          { mode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid), ...statTimes(st) },
          { signal: opts.signal, tempDir: diskTempDir(root), fs },
        );
        if (e.sha256 !== null && res.sha256 !== e.sha256) {
          result.mismatched.push(e.path);
          opts.warn(`${e.path} on ${s.root} does not match its catalogued SHA-256; copied as it is (run \`blaine verify --checksum --fix\` on both)`);
        }
        result.bytes += res.bytes;
      } catch (err) {
        if (err instanceof CopyError && err.code === 'ENOSPC') {
          result.stopped = 'disk-full';
          return result;
        }
        if (opts.signal.aborted) {
          result.stopped = 'interrupted';
          return result;
        }
        throw err;
      }
      linked.set(ino, dest);
      result.files++;
      opts.detail(`copied ${e.path}`);
    }
    folderWriter.finish(folders);
    copyTree(path.join(blaineDir(s.root), 'parity'), path.join(blaineDir(root), 'parity'), fs);
    await snapshotDatabases([s.disk.snapshotJob(diskCatalogPath(root)), s.host.snapshotJob(hostSnapshotPath(root))], fs);
    const cat = Catalog.open(diskCatalogPath(root));
    try {
      const stats = cat.volumeStats(s.info.volume);
      const copyRow = {
        copy: result.info.copy,
        volume: s.info.volume,
        label: result.info.copyLabel,
        generation: diskGeneration(cat),
        lastSync: new Date().toISOString(),
        freeBytes: freeBytes(root, fs),
        files: stats.files,
        bytes: stats.bytes,
      };
      cat.transaction(() => {
        markRunFinished(cat, null);
        cat.putCopy(copyRow);
      });
      s.host.transaction(() => {
        s.host.putCopy(copyRow);
        // The new disk's size, for the report's bar (no archive bytes: a clone adds nothing to the archive).
        const run = s.host.startRun('clone', s.info.volume, copyRow.copy);
        s.host.finishRun(run, 'ok', { files: stats.files }, copyRow.freeBytes, null, { files: stats.files, capacity: capacityBytes(root, fs) });
      });
    } finally {
      cat.close();
    }
    // Everything is on the copy, durably, before its identity says it is one.
    syncDisk(root, fs);
    mount?.unmount();
    writeVolume(target, result.info, fs);
    fs.rmSync(marker, { force: true });
    return result;
  } finally {
    mount?.unmount();
    release();
  }
}

/** Copies a directory tree, keeping hardlinks between the files inside it (parity of hardlinked files). */
function copyTree(from: string, to: string, fs: Fsx): void {
  const seen = new Map<string, string>();
  const walk = (src: string, dest: string) => {
    fs.mkdirSync(dest, { recursive: true });
    for (const ent of fs.readdirSync(src, { withFileTypes: true })) {
      const a = path.join(src, ent.name);
      const b = path.join(dest, ent.name);
      if (ent.isDirectory()) walk(a, b);
      else if (ent.isFile()) {
        const st = fs.statSync(a, { bigint: true });
        const key = `${st.dev}:${st.ino}`;
        const first = seen.get(key);
        if (first) fs.linkSync(first, b);
        else {
          fs.copyFileSync(a, b);
          seen.set(key, b);
        }
      }
    }
  };
  if (fs.existsSync(from)) walk(from, to);
}
