/** Shared by the tests of encrypted disks: whether real gocryptfs mounts can be made here. */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { CryptError, initCipher, mountCipher, requireTools } from './gocryptfs.js';
import { realFs as fs } from '../fsx/fsx.js';

let probed: string | false | undefined;

/** False when gocryptfs mounts work here; otherwise the reason to print when skipping. */
export function cryptUnavailable(): string | false {
  if (probed !== undefined) return probed;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blaine-fuse-probe-'));
  try {
    requireTools();
    initCipher(path.join(dir, 'c'), 'probe');
    mountCipher(path.join(dir, 'c'), 'probe', { tag: 'probe' }).unmount();
    probed = false;
  } catch (err) {
    probed = `gocryptfs mounts do not work here: ${err instanceof CryptError ? err.message : String(err)}`;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return probed;
}

/** Tests make many volumes: scrypt at its lowest cost (children inherit it). */
export function fastScrypt(): void {
  process.env.BLAINE_TEST_SCRYPTN = '10';
}

/** The pid of a process that has ended. */
export function deadPid(): number {
  const r = spawnSync('true');
  return r.pid!;
}
