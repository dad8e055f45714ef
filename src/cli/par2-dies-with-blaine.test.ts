// par2cmdline runs in a process group of its own: unless it dies with Blaine, a SIGKILLed Blaine
// leaves it writing into .blaine/tmp while the next run cleans up there. A real backup making
// parity with par2cmdline is killed once its first par2 is seen running: no par2 of this test may
// be left a moment later, and a plain rerun must converge (disk = catalog, verify --checksum clean).
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { assertArchiveHolds, assertDiskMatchesCatalog, blaine, blaineBin, testEnv, write } from '../../test/helpers.js';
import { par2Available } from '../parity/par2.js';

const PAR2 = { BLAINE_PARITY_CREATOR: 'par2' };

/** Processes whose command line mentions `text` (zombies have none), but not `except`. */
function processesMentioning(text: string, except: number): Array<{ pid: number; argv: string[] }> {
  const out: Array<{ pid: number; argv: string[] }> = [];
  for (const name of fs.readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === except || pid === process.pid) continue;
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue;
    }
    if (argv.some((a) => a.includes(text))) out.push({ pid, argv });
  }
  return out;
}

const isPar2 = (argv: string[]) => argv.some((a) => path.basename(a) === 'par2');

async function until(what: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (what()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return what();
}

test('a backup SIGKILLed while par2cmdline makes parity leaves no par2 running, and the rerun converges', async (t) => {
  if (process.platform !== 'linux') return t.skip('needs /proc to see processes');
  if (!par2Available()) return t.skip('par2cmdline is not installed');
  const env = testEnv('blaine-par2kill-');
  t.after(env.cleanup);
  // Large enough that each par2 run lasts well beyond the moment it is seen and the poll below.
  for (let i = 0; i < 3; i++) write(path.join(env.lib, `big${i}.bin`), crypto.randomBytes(96 << 20));
  const args = ['backup', '--init', '--label', 'K', '--dest', env.disk, '--db', env.db, '--reserve', '0', '--jobs', '2', env.lib];
  const child = spawn(process.execPath, [blaineBin, ...args], { stdio: 'ignore', env: { ...process.env, ...PAR2 } });
  const exited = new Promise((r) => child.on('exit', r));
  const seen = await until(() => processesMentioning(env.disk, child.pid!).some((p) => isPar2(p.argv)), 120_000);
  assert.ok(seen, 'no par2 process was seen making parity');
  child.kill('SIGKILL');
  await exited;
  const gone = await until(() => processesMentioning(env.base, child.pid!).length === 0, 500);
  const left = processesMentioning(env.base, child.pid!);
  for (const p of left) process.kill(p.pid, 'SIGKILL');
  assert.ok(gone, `still running after Blaine was killed: ${left.map((p) => p.argv.join(' ')).join('; ')}`);

  const again = blaine(['backup', '--dest', env.disk, '--db', env.db, '--reserve', '0', '--jobs', '2', env.lib], { env: PAR2 });
  assert.equal(again.status, 0, again.stderr);
  assertDiskMatchesCatalog(env.disk, env.db, { parity: true });
  assertArchiveHolds(env.lib, [env.disk]);
  const tmp = path.join(env.disk, '.blaine', 'tmp');
  assert.deepEqual(fs.existsSync(tmp) ? fs.readdirSync(tmp) : [], [], 'leftovers in .blaine/tmp');
  const v = blaine(['verify', '--checksum', '--dest', env.disk, '--db', env.db]);
  assert.equal(v.status, 0, v.stdout + v.stderr);
});
