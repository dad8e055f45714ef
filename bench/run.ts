/**
 * `npm run bench`: Blaine against reference tools (rsync, dc3dd, par2) in the same run, on the
 * same machine and data, so ratios hold even where absolute figures depend on the machine.
 * Performance is measured here and never by timed tests.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchContext, SectionDef } from './context.js';
import { copy } from './copy.js';
import { crypt } from './crypt.js';
import { BenchError, MiB, foreignLoadSince, killChildren, lackOfSpace, loadSample, log, rmrf } from './measure.js';
import { mirror } from './mirror.js';
import { parity } from './parity.js';
import { progress } from './progress.js';
import { restore } from './restore.js';
import { newSection, renderSection, renderSummary, type Section } from './report.js';
import { scan } from './scan.js';

const SECTIONS: SectionDef[] = [scan, mirror, copy, parity, crypt, progress, restore];

const USAGE = `usage: node dist/bench/run.js [SECTION...] [options]     (npm run bench -- [SECTION...] [options])

sections (default: all, in this order): ${SECTIONS.map((s) => s.name).join(', ')}

options:
  --files N        small files in the scan and mirror trees (default 100000; SPEC target: --files 1000000)
  --copy-mib N     size of the copy section's file in MiB (default 1024)
  --parity-mib N   total size of the parity section's tree in MiB (default 1024)
  --crypt-mib N    total size of the crypt section's tree in MiB (default 1024)
  --restore-mib N  total size of the restore section's tree in MiB (default 1024)
  --repeat N       runs of each cheap measurement, best shown (default 3)
  --jobs N         parallel par2 processes, Blaine and reference alike (default: cores)
  --profile        CPU-profile Blaine's no-change rescan and print its hottest functions
  --tmp DIR        where test data goes (default: the OS temporary directory)
  --json           print the figures as JSON on stdout; tables go to stderr
  -h, --help       this text

Figures are wall times of whole processes; repeated ones show the best run (noise only adds
time; the notes give median and worst). Exit status 1 when a section
failed to run (a target that is missed is reported, not an error).`;

interface Args {
  sections: SectionDef[];
  ctx: Omit<BenchContext, 'work'>;
  tmp: string;
  json: boolean;
}

function usageError(msg: string): never {
  process.stderr.write(`bench: ${msg} (see --help)\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const cores = os.availableParallelism();
  const a: Args = {
    sections: [],
    ctx: { files: 100_000, copyBytes: 1024 * MiB, parityBytes: 1024 * MiB, cryptBytes: 1024 * MiB, restoreBytes: 1024 * MiB, repeat: 3, jobs: cores, profile: false },
    tmp: os.tmpdir(),
    json: false,
  };
  const int = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isSafeInteger(n) || n < min) usageError(`${flag} needs a whole number of at least ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--files':
        a.ctx.files = int(flag, value(), 100);
        break;
      case '--copy-mib':
        a.ctx.copyBytes = int(flag, value(), 1) * MiB;
        break;
      case '--parity-mib':
        // Below this the mix's two "video" files and 300 small ones no longer fit.
        a.ctx.parityBytes = int(flag, value(), 16) * MiB;
        break;
      case '--crypt-mib':
        a.ctx.cryptBytes = int(flag, value(), 16) * MiB;
        break;
      case '--restore-mib':
        a.ctx.restoreBytes = int(flag, value(), 16) * MiB;
        break;
      case '--repeat':
        a.ctx.repeat = int(flag, value(), 1);
        break;
      case '--jobs':
        a.ctx.jobs = int(flag, value(), 1);
        break;
      case '--profile':
        a.ctx.profile = true;
        break;
      case '--tmp':
        a.tmp = value() ?? usageError('--tmp needs a directory');
        break;
      case '--json':
        a.json = true;
        break;
      case '-h':
      case '--help':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
      default: {
        if (flag.startsWith('-')) usageError(`unknown option ${flag}`);
        const def = SECTIONS.find((s) => s.name === flag);
        if (!def) usageError(`unknown section ${flag}`);
        if (!a.sections.includes(def)) a.sections.push(def);
      }
    }
  }
  if (a.sections.length === 0) a.sections = [...SECTIONS];
  // Keep the documented order whatever order they were named in: later sections assume nothing
  // about earlier ones, but a stable order makes runs comparable.
  a.sections.sort((x, y) => SECTIONS.indexOf(x) - SECTIONS.indexOf(y));
  return a;
}

function toolVersion(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return 'not installed';
  return (`${r.stdout}\n${r.stderr}`.split('\n').find((l) => /\d+\.\d+/.test(l)) ?? '?').trim();
}

function machine(): Record<string, string | number> {
  return {
    cpu: os.cpus()[0]?.model ?? '?',
    cores: os.availableParallelism(),
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    kernel: os.release(),
    node: process.version,
    rsync: toolVersion('rsync', ['--version']),
    par2: toolVersion('par2', ['-V']),
    dc3dd: toolVersion('dc3dd', ['--version']),
    gocryptfs: toolVersion('gocryptfs', ['-version']),
  };
}

/** Above this share of the machine taken by other processes, a section's figures are flagged. */
const DISTURBED = 0.1;

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const say = (text: string) => (args.json ? process.stderr : process.stdout).write(`${text}\n`);
  fs.mkdirSync(args.tmp, { recursive: true });
  const root = fs.mkdtempSync(path.join(path.resolve(args.tmp), 'blaine-bench-'));
  const cleanup = () => {
    killChildren();
    rmrf(root);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      log(`${sig}: removing ${root}`);
      cleanup();
      process.exit(130);
    });
  }

  const started = Date.now();
  const info = machine();
  say(`Blaine benchmark — ${Object.entries(info).map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  say(`data under ${root}\n`);
  const results: Section[] = [];
  let failed = false;
  const disturbed: string[] = [];
  try {
    for (const def of args.sections) {
      const ctx: BenchContext = { ...args.ctx, work: path.join(root, def.name) };
      const s = newSection(def.name, def.title(ctx));
      results.push(s);
      log(`${def.name}: start`);
      const lack = lackOfSpace(root, def.need(ctx), args.tmp);
      if (lack) {
        s.skipped = lack;
      } else {
        fs.mkdirSync(ctx.work);
        const load = loadSample();
        const t0 = Date.now();
        try {
          await def.run(ctx, s);
        } catch (e) {
          failed = true;
          s.error = e instanceof BenchError ? e.message : String(e);
          if (!(e instanceof BenchError)) process.stderr.write(`${(e as Error).stack ?? e}\n`);
        } finally {
          killChildren();
          const rmStart = Date.now();
          rmrf(ctx.work);
          log(`${def.name}: data removed in ${((Date.now() - rmStart) / 1000).toFixed(1)} s`);
        }
        // Other work on a shared machine skews every figure; say so rather than print them as clean.
        const foreign = foreignLoadSince(load);
        s.figures.foreignLoad = foreign;
        const other = foreign === null ? 'unknown' : `${(foreign * 100).toFixed(0)}%`;
        s.notes.push(`section took ${((Date.now() - t0) / 1000).toFixed(0)} s in all; other processes used ${other} of the machine's CPU meanwhile`);
        if (foreign !== null && foreign > DISTURBED) {
          disturbed.push(s.name);
          s.notes.push('WARNING: the machine was not quiet (other work on it): figures are low and ratios noisier than on a quiet machine');
        }
      }
      say(`${renderSection(s)}\n`);
    }
  } finally {
    cleanup();
  }
  say(renderSummary(results));
  if (disturbed.length > 0) say(`WARNING: other processes loaded the machine during: ${disturbed.join(', ')} (see the notes); rerun on a quiet machine`);
  say(`\ntotal ${((Date.now() - started) / 1000).toFixed(0)} s; test data removed`);
  if (args.json) process.stdout.write(`${JSON.stringify({ machine: info, options: args.ctx, sections: results }, null, 2)}\n`);
  return failed ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`bench: ${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  },
);
