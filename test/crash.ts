/** Shared by the step-wise crash tests: the crash-at-every-N driver and what a full restore must equal. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { assertArchiveHolds, assertDiskMatchesCatalog, blaine } from './helpers.js';

/** One scanning thread: a given N then always hits the same step. */
export const ONE_SCAN_THREAD = { BLAINE_SCAN_THREADS: '1' };

export function copyTree(from: string, to: string): void {
  fs.rmSync(to, { recursive: true, force: true });
  execFileSync('cp', ['-a', from, to]);
}

/** Crash points tried at most: a run with more calls of the kind fails the test rather than passing untried. */
const MAX_CRASH_POINTS = 200;

/**
 * Restores `saved` (disks and host catalog as they were before the run), runs `args` with a crash
 * after the Nth `kind` call, reruns plainly (`rerun`, by default the same command) and checks with
 * `after`, for N = 1, 2, ... until the run gets through. Returns how many crash points it ran.
 */
export function crashEveryStep(
  env: { base: string; db: string },
  kind: string,
  saved: string[],
  args: string[],
  after: (where: string) => void,
  opts: { rerun?: string[]; okStatuses?: number[] } = {},
): number {
  const ok = opts.okStatuses ?? [0];
  const tpl = path.join(env.base, 'tpl');
  fs.mkdirSync(tpl, { recursive: true });
  for (const [i, p] of saved.entries()) copyTree(p, path.join(tpl, String(i)));
  let crashes = 0;
  let completed = false;
  for (let n = 1; n <= MAX_CRASH_POINTS; n++) {
    for (const [i, p] of saved.entries()) copyTree(path.join(tpl, String(i)), p);
    for (const ext of ['-wal', '-shm']) fs.rmSync(env.db + ext, { force: true });
    const r = blaine(args, { env: { ...ONE_SCAN_THREAD, BLAINE_TEST_FAULTS: `${kind}:${n}:crash` } });
    if (ok.includes(r.status)) {
      completed = true;
      break;
    }
    assert.equal(r.status, -1, `${kind} ${n}: killed, not exited: ${r.stderr}`);
    crashes++;
    const again = blaine(opts.rerun ?? args, { env: ONE_SCAN_THREAD });
    assert.ok(ok.includes(again.status), `after a crash at ${kind} ${n}: status ${again.status}: ${again.stdout}${again.stderr}`);
    after(`after a crash at ${kind} ${n}`);
  }
  assert.ok(crashes > 0, `the run made no ${kind} call to crash after`);
  // Every crash point up to the run's last call was tried only if the run then got through.
  assert.ok(completed, `the run still crashed after ${MAX_CRASH_POINTS} ${kind} calls: the steps past those were never tried`);
  return crashes;
}

/** After a crash and a rerun: the disk equals its catalog and holds the library; a failure names the crash point. */
export function assertRerunLeftDiskWhole(env: { disk: string; db: string; lib: string }, where: string): void {
  try {
    assertDiskMatchesCatalog(env.disk, env.db);
    assertArchiveHolds(env.lib, [env.disk]);
  } catch (err) {
    (err as Error).message = `${where}: ${(err as Error).message}`;
    throw err;
  }
}

export { fidelityOf } from './helpers.js';

/** Files below root grouped by inode: each path with the first path (in walk order) of its group. */
export function hardlinkGroupsOf(root: string): Map<string, string> {
  const first = new Map<bigint, string>();
  const out = new Map<string, string>();
  const walk = (d: string, rel: string) => {
    for (const ent of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      const full = path.join(d, ent.name);
      if (ent.isDirectory()) walk(full, r);
      else if (ent.isFile()) {
        const ino = fs.lstatSync(full, { bigint: true }).ino;
        if (!first.has(ino)) first.set(ino, r);
        out.set(r, first.get(ino)!);
      }
    }
  };
  walk(root, '');
  return out;
}
