/**
 * gocryptfs volumes: make a cipher directory, mount it through FUSE, and always unmount it again.
 *
 * The key reaches gocryptfs on its standard input (a pipe), never on its command line. Every mount
 * carries a file-system name `blaine:<tag>:<pid>` (visible in /proc/self/mountinfo), so a later run
 * can tell a mount left behind by a process that no longer exists, and remove it.
 *
 * This module knows nothing of Blaine's disks or command line.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type CryptErrorCode = 'NO_TOOL' | 'NO_FUSE' | 'WRONG_KEY' | 'NO_KEY' | 'INIT_FAILED' | 'MOUNT_FAILED';

export class CryptError extends Error {
  override name = 'CryptError';
  constructor(
    message: string,
    readonly code: CryptErrorCode,
  ) {
    super(message);
  }
}

const INSTALL = 'install them (Debian: apt-get install gocryptfs fuse3)';
/** gocryptfs's documented exit statuses. */
const GOCRYPTFS_WRONG_PASSWORD = 12;
const GOCRYPTFS_EMPTY_PASSWORD = 22;
/** scrypt at gocryptfs's default cost takes ~0.3 s here; this bounds a hung FUSE start. */
const SPAWN_TIMEOUT_MS = 120_000;
const FS_TYPE = 'fuse.gocryptfs';
/** Blaine's documented status for a run ended by Ctrl-C or SIGTERM. */
const INTERRUPTED_EXIT = 130;

function findExecutable(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

interface Tools {
  gocryptfs: string;
  fusermount: string;
}

/** The programs a mount needs, or one sentence saying what to install. */
export function requireTools(): Tools {
  const gocryptfs = findExecutable('gocryptfs');
  const fusermount = findExecutable('fusermount3') ?? findExecutable('fusermount');
  const missing = [gocryptfs ? null : 'gocryptfs', fusermount ? null : 'fusermount3 (FUSE)'].filter(Boolean);
  if (missing.length > 0) {
    throw new CryptError(`encrypted disks need ${missing.join(' and ')}, which ${missing.length > 1 ? 'are' : 'is'} not installed; ${INSTALL}`, 'NO_TOOL');
  }
  if (!fs.existsSync('/dev/fuse')) {
    throw new CryptError('encrypted disks need FUSE, but /dev/fuse does not exist here (load the fuse kernel module, or give the container the /dev/fuse device)', 'NO_FUSE');
  }
  return { gocryptfs: gocryptfs!, fusermount: fusermount! };
}

/** gocryptfs reads one line from a pipe: a key must be one non-empty line. */
export function checkKey(key: string): void {
  if (key.length === 0) throw new CryptError('the encryption key is empty', 'NO_KEY');
  if (/[\n\r\0]/.test(key)) throw new CryptError('the encryption key must be a single line of text', 'NO_KEY');
}

/** gocryptfs's own explanation, without its syslog chatter. */
function gocryptfsSays(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/syslog/i.test(l));
  return lines[lines.length - 1] ?? 'no message';
}

let errCounter = 0;

/**
 * Runs gocryptfs with the key on its standard input. A mount leaves a daemon behind that inherits
 * the output descriptors: it gets /dev/null and a file, not pipes (that would hold this process)
 * nor syslog (gocryptfs's logger process sits in Blaine's process group, so a Ctrl-C at the
 * terminal ends it, and the daemon's next message would then kill the daemon with SIGPIPE).
 */
function runGocryptfs(tools: Tools, args: string[], key: string): { status: number | null; stderr: string; error?: Error } {
  const errFile = path.join(privateMountBase(), `gocryptfs-${process.pid}-${++errCounter}.err`);
  const errFd = fs.openSync(errFile, 'w+', 0o600);
  try {
    const r = spawnSync(tools.gocryptfs, ['-nosyslog', ...args], {
      input: `${key}\n`,
      stdio: ['pipe', 'ignore', errFd],
      timeout: SPAWN_TIMEOUT_MS,
    });
    return { status: r.status, stderr: fs.readFileSync(errFile, 'utf8'), error: r.error };
  } finally {
    fs.closeSync(errFd);
    fs.rmSync(errFile, { force: true });
  }
}

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

export interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
}

/** Undoes mountinfo's octal escapes (\040 for a space and so on). */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function readMounts(): MountEntry[] {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const before = line.slice(0, dash).split(' ');
    const after = line.slice(dash + 3).split(' ');
    if (before.length < 5 || after.length < 2) continue;
    out.push({ mountPoint: unescapeMountField(before[4]!), fsType: after[0]!, source: unescapeMountField(after[1]!) });
  }
  return out;
}

/** The tag names what is mounted (Blaine passes the disk copy's id); it must be safe in a mount option. */
function fsName(tag: string, pid: number): string {
  return `blaine:${tag}:${pid}`;
}

const FS_NAME = /^blaine:([A-Za-z0-9-]+):(\d+)$/;

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Blaine's gocryptfs mounts of `tag` now in place (mount point and owning pid). */
export function mountsOf(tag: string): Array<{ mountPoint: string; pid: number }> {
  const found: Array<{ mountPoint: string; pid: number }> = [];
  for (const m of readMounts()) {
    const name = FS_NAME.exec(m.source);
    if (m.fsType === FS_TYPE && name && name[1] === tag) found.push({ mountPoint: m.mountPoint, pid: Number(name[2]) });
  }
  return found;
}

/** The directory private mount points are made in: owned by this user, mode 0700. */
export function privateMountBase(): string {
  const uid = process.getuid?.() ?? 0;
  const base =
    process.env.BLAINE_RUN_DIR ||
    (uid === 0 && fs.existsSync('/run') ? '/run/blaine' : process.env.XDG_RUNTIME_DIR ? path.join(process.env.XDG_RUNTIME_DIR, 'blaine') : path.join(os.tmpdir(), `blaine-${uid}`));
  fs.mkdirSync(base, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(base);
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new CryptError(`${base} must be a directory of this user that nobody else can enter (mode 0700); fix or remove it`, 'MOUNT_FAILED');
  }
  return base;
}

function fusermountUnmount(fusermount: string, mountPoint: string, lazy: boolean): boolean {
  const r = spawnSync(fusermount, lazy ? ['-u', '-z', mountPoint] : ['-u', mountPoint], { stdio: 'pipe', timeout: SPAWN_TIMEOUT_MS });
  return r.status === 0;
}

/** Waits (briefly, synchronously) for a process to end. */
function waitForExit(pid: number | undefined, ms: number): void {
  if (pid === undefined) return;
  const until = Date.now() + ms;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (Date.now() < until) {
    let state: string | undefined;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    } catch {
      return;
    }
    // A zombie has let go of its files already; whoever adopted it may be slow to reap it.
    if (state === 'Z' || state === 'X') return;
    Atomics.wait(pause, 0, 0, 20);
  }
}

/** The gocryptfs process serving `name` (its arguments hold the name, never the key). */
function daemonPid(name: string): number | undefined {
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return undefined;
  }
  for (const p of pids) {
    try {
      const argv = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (argv.includes(name) && argv.some((a) => a.endsWith('gocryptfs'))) return Number(p);
    } catch {
      // gone, or not ours to read
    }
  }
  return undefined;
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

/**
 * Removes mounts of `tag` whose Blaine process no longer runs (killed, crashed) and the empty
 * private mount points such processes left. Returns how many mounts were removed.
 */
export function removeStaleMounts(tag: string): number {
  const tools = requireTools();
  let removed = 0;
  let base: string | undefined;
  try {
    base = privateMountBase();
  } catch {
    base = undefined;
  }
  for (const m of mountsOf(tag)) {
    if (processAlive(m.pid)) continue;
    const daemon = daemonPid(fsName(tag, m.pid));
    if (fusermountUnmount(tools.fusermount, m.mountPoint, false) || fusermountUnmount(tools.fusermount, m.mountPoint, true)) {
      removed++;
      waitForExit(daemon, 3000);
      if (base && path.dirname(m.mountPoint) === base) removeEmptyDir(m.mountPoint);
    }
  }
  if (base) {
    const mounted = new Set(readMounts().map((m) => m.mountPoint));
    for (const name of fs.readdirSync(base)) {
      const owner = /-(\d+)-\d+(\.err)?$/.exec(name);
      const full = path.join(base, name);
      if (!owner || processAlive(Number(owner[1])) || mounted.has(full)) continue;
      if (owner[2]) fs.rmSync(full, { force: true });
      else removeEmptyDir(full);
    }
  }
  return removed;
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

/** Only ever an empty directory: a mount point that still shows files is not removed. */
function removeEmptyDir(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    // not empty, or gone already
  }
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
      active.delete(handle);
      removeHooksWhenIdle();
      if (ownDir) removeEmptyDir(mountPoint);
    },
  };
  active.add(handle);
  installHooks();
  return handle;
}
