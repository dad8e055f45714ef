import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../test/helpers.js';

/**
 * The invariant over random rotations (test/rotation-sim.ts): every disk exact after every
 * apply and catch-up, `verify --checksum` clean, and after every visit of a stored disk the
 * offsite disks giving back the library as at the offsite twin's last backup (a new host catalog
 * rebuilt from them, a restore from each, compared by content, mode, owner, mtime to the ns,
 * hardlink groups and symlinks). A few seeds here (every
 * fourth seed runs with parity); many more with `node scripts/rotation-soak.mjs SEEDS`.
 *
 * Each seed runs in a process of its own (the soak script): the simulation runs the CLI in its
 * process and captures that process's stdout. The disks live in memory where /dev/shm is there:
 * the runs sync after every batch, and a shared disk would make them wait for nothing.
 */
const where = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();

for (const seed of [101, 102, 104]) {
  test(`rotation property, seed ${seed}${seed % 4 === 0 ? ', with parity' : ''}`, () => {
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'scripts', 'rotation-soak.mjs'), '1', String(seed), '18'], {
      encoding: 'utf8',
      env: { ...process.env, BLAINE_SOAK_DIR: where },
    });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /1 seed\(s\) of 18 days clean/);
  });
}
