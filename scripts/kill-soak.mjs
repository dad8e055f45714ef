// Real-process kills: backups, applies, verify --fix and clones of a library big enough
// for the signal to land mid-operation are hit by SIGKILL, SIGINT or SIGTERM at a random moment;
// SIGINT/SIGTERM must end the run with 130 (or it finished first: 0); a plain rerun must then
// converge: every disk equals its catalog, the library is on the disks bit for bit, verify clean.
// By hand, after `npm run build`: node scripts/kill-soak.mjs [rounds] [seed]   (not part of npm test)
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertArchiveHolds, assertDiskMatchesCatalog } from '../dist/test/helpers.js';

const rounds = Number(process.argv[2] ?? 15);
let seed = Number(process.argv[3] ?? 1);
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const pick = (a) => a[Math.floor(rand() * a.length)];
const bin = path.resolve('bin/blaine');
const base = fs.mkdtempSync(path.join(os.tmpdir(), 'blaine-soak-'));
const lib = path.join(base, 'lib');
const A = path.join(base, 'A');
const B = path.join(base, 'B');
const db = path.join(base, 'host.sqlite');
for (const d of [lib, A, B]) fs.mkdirSync(d, { recursive: true });

const run = (args) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
const bk = (disk, extra = []) => ['backup', '--dest', disk, '--db', db, '--reserve', '0', '--clean', '--max-delete', '100', '--jobs', '2', ...extra, lib];
function must(args) {
  const r = run(args);
  if (r.status !== 0) throw new Error(`${args.join(' ')}: status ${r.status}\n${r.stderr}`);
}
/**
 * True once bin/blaine runs past its first lines (which catch SIGINT and SIGTERM): the bundle it then
 * loads maps the native addons. (/proc's SigCgt would not do: Node itself catches both from its start.)
 */
function pastStartUp(pid) {
  try {
    return /blaine_native|better_sqlite3/.test(fs.readFileSync(`/proc/${pid}/maps`, 'utf8'));
  } catch {
    return false;
  }
}
function killed(args, delayMs, signal) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: 'ignore' });
    let timer;
    let exited = false;
    // The delay counts from the moment bin/blaine catches signals: before it, Node itself is still
    // starting (100-600 ms on a loaded machine) and no program can catch anything.
    const arm = () => {
      if (exited) return;
      if (signal !== 'SIGKILL' && !pastStartUp(child.pid)) timer = setTimeout(arm, 2);
      else timer = setTimeout(() => child.kill(signal), delayMs);
    };
    arm();
    child.on('exit', (code, sig) => {
      exited = true;
      clearTimeout(timer);
      resolve(code ?? sig);
    });
  });
}
let n = 0;
const files = () => fs.readdirSync(lib, { recursive: true }).filter((f) => fs.lstatSync(path.join(lib, f)).isFile());
function churn() {
  for (let i = 0; i < 40; i++) {
    const all = files();
    const r = rand();
    const f = all.length > 0 ? path.join(lib, pick(all)) : '';
    if (r < 0.3 || all.length < 50) {
      const dir = path.join(lib, `d${Math.floor(rand() * 8)}`);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `n${n++}.bin`), crypto.randomBytes(100_000 + Math.floor(rand() * 1_500_000)));
    } else if (r < 0.5) fs.renameSync(f, path.join(path.dirname(f), `r${n++}.bin`));
    else if (r < 0.6) {
      const g = path.join(lib, pick(all));
      if (g !== f) {
        fs.renameSync(f, `${f}.swap`);
        fs.renameSync(g, f);
        fs.renameSync(`${f}.swap`, g);
      }
    } else if (r < 0.75) fs.writeFileSync(f, crypto.randomBytes(100_000 + Math.floor(rand() * 1_500_000)));
    else if (r < 0.85) fs.rmSync(f);
    else fs.linkSync(f, path.join(path.dirname(f), `h${n++}.bin`));
  }
}
function check(disks, where) {
  try {
    for (const d of disks) assertDiskMatchesCatalog(d, db, { hostMayHaveMore: true });
    assertArchiveHolds(lib, disks);
    for (const d of disks) {
      const v = run(['verify', '--checksum', '--dest', d, '--db', db]);
      if (v.status !== 0) throw new Error(`verify ${d}: ${v.stdout}${v.stderr}`);
    }
  } catch (err) {
    console.error(`FAILED ${where}`);
    throw err;
  }
}

churn();
churn();
must(bk(B, ['--init']));
must(bk(A, ['--init']));
const tally = { kills: 0, byCommand: {}, statuses: {} };
const C = path.join(base, 'C');
for (let round = 0; round < rounds; round++) {
  for (const cmd of ['backup', 'apply', 'verify', 'clone']) {
    churn();
    let args;
    if (cmd === 'backup') args = bk(A);
    else if (cmd === 'apply') {
      must(bk(A));
      args = ['apply', '--dest', B, '--db', db];
    } else if (cmd === 'verify') {
      must(bk(A));
      // damage two stored files so that --fix has work to do
      const rows = files().slice(0, 2).map((f) => path.join(A, lib.slice(1), f));
      for (const r of rows) if (fs.existsSync(r)) { const fd = fs.openSync(r, 'r+'); fs.writeSync(fd, Buffer.from('rot'), 0, 3, 10); fs.closeSync(fd); }
      args = ['verify', '--checksum', '--fix', '--dest', A, '--db', db];
    } else {
      must(bk(A));
      fs.rmSync(C, { recursive: true, force: true });
      fs.mkdirSync(C);
      args = ['clone', '--dest', A, '--to', C, '--db', db];
    }
    const signal = pick(['SIGKILL', 'SIGINT', 'SIGTERM']);
    // SIGKILL from the spawn (nothing to catch), SIGINT/SIGTERM from the moment bin/blaine catches them.
    const delay = signal === 'SIGKILL' ? 300 + Math.floor(rand() * 500) : Math.floor(rand() * 500);
    const status = await killed(args, delay, signal);
    tally.kills++;
    tally.byCommand[cmd] = (tally.byCommand[cmd] ?? 0) + 1;
    const key = `${signal}->${status}`;
    tally.statuses[key] = (tally.statuses[key] ?? 0) + 1;
    if (signal !== 'SIGKILL' && status !== 130 && status !== 0) throw new Error(`${cmd} ${signal} at ${delay} ms: status ${status}`);
    const where = `round ${round} ${cmd} ${signal} at ${delay} ms (status ${status})`;
    if (cmd === 'clone') {
      const again = status === 0 ? { status: 0 } : run(args);
      if (again.status !== 0) throw new Error(`${where}: clone rerun: ${again.stderr}`);
      must(['apply', '--dest', C, '--db', db]);
    } else must(cmd === 'backup' ? bk(A) : args);
    must(['apply', '--dest', B, '--db', db]);
    check(cmd === 'clone' ? [A, B, C] : [A, B], where);
  }
}
console.log(JSON.stringify(tally));
fs.rmSync(base, { recursive: true, force: true });
