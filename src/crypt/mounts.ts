/**
 * Blaine's gocryptfs mounts as the kernel lists them: each carries the file-system name
 * `blaine:<tag>:<pid>`, so a mount whose process is gone can be found and removed.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { privateMountBase, requireTools, SPAWN_TIMEOUT_MS } from './tools.js';
import { realFs as fs } from '../fsx/fsx.js';

const FS_TYPE = 'fuse.gocryptfs';

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
export function fsName(tag: string, pid: number): string {
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

export function fusermountUnmount(fusermount: string, mountPoint: string, lazy: boolean): boolean {
  const r = spawnSync(fusermount, lazy ? ['-u', '-z', mountPoint] : ['-u', mountPoint], { stdio: 'pipe', timeout: SPAWN_TIMEOUT_MS });
  return r.status === 0;
}

/** Waits (briefly, synchronously) for a process to end. */
export function waitForExit(pid: number | undefined, ms: number): void {
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
export function daemonPid(name: string): number | undefined {
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

/** Only ever an empty directory: a mount point that still shows files is not removed. */
export function removeEmptyDir(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    // not empty, or gone already
  }
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
