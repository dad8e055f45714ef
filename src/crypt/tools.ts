/**
 * The gocryptfs and FUSE programs: finding them, running gocryptfs with the key on its standard
 * input, and the private directory mount points and gocryptfs's messages go to.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { BlaineError, EXIT } from '../error.js';
import { fsConstants, realFs as fs } from '../fsx/fsx.js';

export type CryptErrorCode = 'NO_TOOL' | 'NO_FUSE' | 'WRONG_KEY' | 'NO_KEY' | 'INIT_FAILED' | 'MOUNT_FAILED';

export class CryptError extends BlaineError {
  override name = 'CryptError';
  constructor(
    message: string,
    readonly code: CryptErrorCode,
  ) {
    // A missing key is like a missing option; a wrong key or missing gocryptfs is an error.
    super(message, code === 'NO_KEY' ? EXIT.usage : EXIT.error);
  }
}

const INSTALL = 'install them (Debian: apt-get install gocryptfs fuse3)';
/** gocryptfs's documented exit statuses. */
export const GOCRYPTFS_WRONG_PASSWORD = 12;
export const GOCRYPTFS_EMPTY_PASSWORD = 22;
/** scrypt at gocryptfs's default cost takes ~0.3 s here; this bounds a hung FUSE start. */
export const SPAWN_TIMEOUT_MS = 120_000;

function findExecutable(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fsConstants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface Tools {
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
export function gocryptfsSays(stderr: string): string {
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
export function runGocryptfs(tools: Tools, args: string[], key: string): { status: number | null; stderr: string; error?: Error } {
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
