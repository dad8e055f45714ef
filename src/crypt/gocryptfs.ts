/**
 * gocryptfs volumes: make a cipher directory, mount it through FUSE, and always unmount it again.
 *
 * The key reaches gocryptfs on its standard input (a pipe), never on its command line. Every mount
 * carries a file-system name `blaine:<tag>:<pid>` (visible in /proc/self/mountinfo), so a later run
 * can tell a mount left behind by a process that no longer exists, and remove it.
 *
 * This module knows nothing of Blaine's disks or command line.
 */
import path from 'node:path';
import {
  daemonPid, fsName, fusermountUnmount, readMounts, removeEmptyDir, removeStaleMounts, waitForExit,
} from './mounts.js';
import {
  checkKey, CryptError, GOCRYPTFS_EMPTY_PASSWORD, GOCRYPTFS_WRONG_PASSWORD, gocryptfsSays, privateMountBase,
  requireTools, runGocryptfs,
} from './tools.js';
import { realFs as fs } from '../fsx/fsx.js';
import { syncThrough } from '../fsx/durable.js';

export { readMounts, mountsOf, removeStaleMounts, type MountEntry } from './mounts.js';
export { checkKey, CryptError, privateMountBase, requireTools, type CryptErrorCode } from './tools.js';

/** Blaine's documented status for a run ended by Ctrl-C or SIGTERM. */
const INTERRUPTED_EXIT = 130;

/** Makes `cipherDir` (which must not exist or be empty) a new gocryptfs volume opened by `key`. */
export function initCipher(cipherDir: string, key: string): void {
  const tools = requireTools();
  checkKey(key);
  fs.mkdirSync(cipherDir, { recursive: true, mode: 0o700 });
  const args = ['-init', '-q'];
  // Only tests lower scrypt's cost (many volumes are made); a real disk keeps gocryptfs's default.
  const scryptn = process.env.BLAINE_TEST_SCRYPTN;
  if (scryptn && /^\d+$/.test(scryptn)) args.push('-scryptn', scryptn);
  const r = runGocryptfs(tools, [...args, cipherDir], key);
  if (r.status !== 0) {
    if (r.status === GOCRYPTFS_EMPTY_PASSWORD) throw new CryptError('the encryption key is empty', 'NO_KEY');
    throw new CryptError(`gocryptfs could not set up ${cipherDir}: ${gocryptfsSays(r.stderr)}`, 'INIT_FAILED');
  }
}

export interface CipherMount {
  /** Where the clear-text view is. */
  readonly mountPoint: string;
  readonly readonly: boolean;
  /** Unmounts (lazily if something still holds a file open) and removes a private mount point. Idempotent. */
  unmount(): void;
}

const active = new Set<CipherMount>();
let hooksInstalled = false;

function unmountAll(): void {
  for (const m of [...active]) {
    try {
      m.unmount();
    } catch {
      // exiting anyway; the next run removes what is left
    }
  }
}

/**
 * A signal that nobody else handles would end the process without an 'exit' event, leaving the
 * mount behind: then this unmounts and ends the process as the signal would have. When a command
 * handles the signal itself (to stop cleanly), it closes its session, which unmounts; if it then
 * calls process.exit, the 'exit' hook unmounts.
 */
function onSignal(sig: NodeJS.Signals): void {
  if (process.listenerCount(sig) > 1) return;
  unmountAll();
  process.exit(INTERRUPTED_EXIT);
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', unmountAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
}

function removeHooksWhenIdle(): void {
  if (!hooksInstalled || active.size > 0) return;
  hooksInstalled = false;
  process.off('exit', unmountAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(sig, onSignal);
}

let mountCounter = 0;

/** Private mount points of this process and how messages show them, kept after the unmount. */
const shownAs = new Map<string, string>();

/**
 * Replaces private mount points in a message with the names given at mount time: a path below
 * /run/blaine/<id> means nothing to a user once the run is over.
 */
export function showMountedPaths(text: string): string {
  let out = text;
  for (const [mountPoint, name] of shownAs) if (out.includes(mountPoint)) out = out.split(mountPoint).join(name);
  return out;
}

/**
 * Mounts `cipherDir` with `key`: at `mountPoint` when given (it must be an empty directory),
 * otherwise at a new private directory that unmount() removes. Stale mounts of the same tag are
 * removed first. The mount is undone when the process exits or is ended by a signal.
 */
export function mountCipher(
  cipherDir: string,
  key: string,
  opts: { tag: string; readonly?: boolean; mountPoint?: string; /** how messages name a private mount point */ shownAs?: string },
): CipherMount {
  const tools = requireTools();
  checkKey(key);
  if (!/^[A-Za-z0-9-]+$/.test(opts.tag)) throw new Error(`mount tag ${opts.tag} may only hold letters, digits and dashes`);
  if (!fs.existsSync(path.join(cipherDir, 'gocryptfs.conf'))) {
    throw new CryptError(`${cipherDir} holds no gocryptfs volume (gocryptfs.conf is missing)`, 'MOUNT_FAILED');
  }
  removeStaleMounts(opts.tag);
  let mountPoint: string;
  let ownDir = false;
  if (opts.mountPoint) {
    mountPoint = path.resolve(opts.mountPoint);
  } else {
    mountPoint = path.join(privateMountBase(), `${opts.tag}-${process.pid}-${++mountCounter}`);
    fs.mkdirSync(mountPoint, { mode: 0o700 });
    ownDir = true;
  }
  const name = fsName(opts.tag, process.pid);
  const args = ['-q', '-fsname', name, ...(opts.readonly ? ['-ro'] : []), cipherDir, mountPoint];
  const r = runGocryptfs(tools, args, key);
  if (r.status !== 0) {
    if (ownDir) removeEmptyDir(mountPoint);
    if (r.status === GOCRYPTFS_WRONG_PASSWORD) throw new CryptError('wrong key: it does not open this encrypted disk', 'WRONG_KEY');
    const why = r.error ? r.error.message : gocryptfsSays(r.stderr);
    throw new CryptError(`gocryptfs could not mount ${cipherDir} at ${mountPoint}: ${why}`, 'MOUNT_FAILED');
  }
  const daemon = daemonPid(name);
  if (ownDir && opts.shownAs) shownAs.set(mountPoint, opts.shownAs);
  // A flush of the mount (syncDisk before a catalog commit) must reach the ciphertext on the disk.
  const unsync = opts.readonly ? () => {} : syncThrough(mountPoint, path.resolve(cipherDir));
  let mounted = true;
  const handle: CipherMount = {
    mountPoint,
    readonly: !!opts.readonly,
    unmount() {
      if (!mounted) return;
      const stillThere = readMounts().some((m) => m.mountPoint === mountPoint && m.source === name);
      if (stillThere && !fusermountUnmount(tools.fusermount, mountPoint, false)) {
        // A file still open (an exit in the middle of a run): detach now, gocryptfs ends when it closes.
        if (!fusermountUnmount(tools.fusermount, mountPoint, true)) {
          throw new CryptError(`${mountPoint} could not be unmounted; run \`${path.basename(tools.fusermount)} -u ${mountPoint}\``, 'MOUNT_FAILED');
        }
      } else {
        // gocryptfs takes about a second to end after the unmount, and holds the cipher
        // directory open (the disk busy) until then.
        waitForExit(daemon, 5000);
      }
      mounted = false;
      unsync();
      active.delete(handle);
      removeHooksWhenIdle();
      if (ownDir) removeEmptyDir(mountPoint);
    },
  };
  active.add(handle);
  installHooks();
  return handle;
}
