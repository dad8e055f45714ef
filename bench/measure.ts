/** Timing, process running and machine probes shared by the benchmark sections. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SpaceNeed } from './context.js';

/** The checkout this harness was compiled from (dist/bench/ → ../../). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BLAINE_BIN = path.join(REPO_ROOT, 'bin', 'blaine');
const RSS_HOOK = fileURLToPath(new URL('./rss-hook.js', import.meta.url));

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

const t0 = Date.now();

export function log(msg: string): void {
  process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${msg}\n`);
}

export function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export interface RunResult {
  seconds: number;
  stdout: string;
  stderr: string;
}

/** A failed tool makes every figure after it meaningless, so it stops the section. */
export class BenchError extends Error {
  override name = 'BenchError';
}

function describeFailure(cmd: string, args: string[], r: ReturnType<typeof spawnSync>): string {
  const how = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
  const tail = String(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ');
  return `${path.basename(cmd)} ${args.slice(0, 6).join(' ')}${args.length > 6 ? ' …' : ''} failed (${how})${tail ? `: ${tail}` : ''}`;
}

/**
 * Runs a command to completion and times it from spawn to exit, so process start-up counts for
 * every tool alike. A non-zero status (other than those in okStatus) is a BenchError.
 */
export function timeRun(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; okStatus?: number[] } = {}): RunResult {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    env: opts.env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 256 * MiB,
  });
  const secs = seconds(start);
  if (r.error || r.signal || !(opts.okStatus ?? [0]).includes(r.status ?? -1)) throw new BenchError(describeFailure(cmd, args, r));
  return { seconds: secs, stdout: r.stdout, stderr: r.stderr };
}

export interface BlaineSummary {
  unchanged: number;
  added: number;
  modified: number;
  linked: number;
  skipped: number;
  bytesCopied: number;
  parityBytes: number;
  /** Blaine's own clock, from its start to its summary (no Node start-up). */
  seconds: number;
  diskFull: boolean;
}

export interface BlaineRun {
  /** Wall time of the whole process, as the user sees it. */
  seconds: number;
  summary: BlaineSummary;
  /** Peak resident set of the Blaine process itself (not its par2 children), in bytes; null if not reported. */
  maxRssBytes: number | null;
  /** Share of all cores' time that Blaine and its par2 children used during the run. */
  cpuShare: number | null;
}

/**
 * Runs `blaine <args> --json` under the compiled Node. Peak RSS comes from a preloaded hook that
 * writes process.resourceUsage().maxRSS at exit: spawnSync gives no rusage of the child, and
 * /usr/bin/time is not installed here.
 */
export function runBlaine(args: string[], opts: { nodeArgs?: string[]; cwd?: string } = {}): BlaineRun {
  const rssFile = path.join(os.tmpdir(), `blaine-bench-rss-${process.pid}-${Date.now()}`);
  const env = { ...process.env, BLAINE_BENCH_RSS_FILE: rssFile };
  const nodeArgs = ['--import', pathToFileURL(RSS_HOOK).href, ...(opts.nodeArgs ?? [])];
  const load = loadSample();
  try {
    const r = timeRun(process.execPath, [...nodeArgs, BLAINE_BIN, ...args, '--json'], { env, cwd: opts.cwd });
    const share = ownShareSince(load);
    let summary: BlaineSummary;
    try {
      summary = JSON.parse(r.stdout) as BlaineSummary;
    } catch {
      throw new BenchError(`blaine ${args[0]} printed no JSON summary: ${r.stdout.slice(0, 200)} ${r.stderr.slice(0, 300)}`);
    }
    if (summary.skipped > 0 || summary.diskFull) throw new BenchError(`blaine ${args[0]} skipped ${summary.skipped} file(s), diskFull=${summary.diskFull}`);
    let maxRssBytes: number | null = null;
    try {
      maxRssBytes = Number(fs.readFileSync(rssFile, 'utf8')) * 1024;
    } catch {
      // The hook could not write: report no figure rather than a wrong one.
    }
    return { seconds: r.seconds, summary, maxRssBytes, cpuShare: share };
  } finally {
    fs.rmSync(rssFile, { force: true });
  }
}

/**
 * Flushes dirty pages of earlier steps before a timed step, so one tool's write-back is not
 * billed to the next. Deleting a file before this is cheap: its unwritten pages are just dropped.
 */
export function settle(): void {
  const start = process.hrtime.bigint();
  spawnSync('sync', [], { stdio: 'ignore' });
  const secs = seconds(start);
  // On a shared machine this also flushes other people's writes; say where the wall time went.
  if (secs > 1) log(`sync before the next step took ${secs.toFixed(1)} s (not measured)`);
}

export interface CpuSample {
  busy: number;
  total: number;
}

/** Machine-wide jiffies from /proc/stat; null where there is no /proc. */
export function cpuSample(): CpuSample | null {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    // idle and iowait are the two ways a core sits doing nothing.
    return { busy: total - f[3]! - f[4]!, total };
  } catch {
    return null;
  }
}

/**
 * CPU ticks used by this process and every child it has waited for (Blaine, and through it
 * par2): utime, stime, cutime, cstime of /proc/self/stat, in the same USER_HZ as /proc/stat.
 */
function treeTicks(): number | null {
  try {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    // The command name may contain spaces and parentheses; fields resume after the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  } catch {
    return null;
  }
}

export interface LoadSample {
  cpu: CpuSample | null;
  tree: number | null;
}

export function loadSample(): LoadSample {
  return { cpu: cpuSample(), tree: treeTicks() };
}

/**
 * Share of the machine's CPU time used by processes that are not this benchmark's, since `a`:
 * on a shared machine, the figure that says whether the others were disturbed. Children still
 * running are not counted yet, so call it when none is.
 */
export function foreignLoadSince(a: LoadSample): number | null {
  const b = loadSample();
  if (!a.cpu || !b.cpu || a.tree === null || b.tree === null || b.cpu.total === a.cpu.total) return null;
  const foreign = b.cpu.busy - a.cpu.busy - (b.tree - a.tree);
  return Math.max(0, foreign / (b.cpu.total - a.cpu.total));
}

/**
 * Share of all cores' time used by this process and its reaped children since `a`: whether a
 * tool kept every core busy, whatever else ran on the machine.
 */
export function ownShareSince(a: LoadSample): number | null {
  const b = loadSample();
  if (!a.cpu || !b.cpu || a.tree === null || b.tree === null || b.cpu.total === a.cpu.total) return null;
  return (b.tree - a.tree) / (b.cpu.total - a.cpu.total);
}

/** Runs async work and reports its wall time and the CPU share it (and its children) used. */
export async function timeAsync<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T; cpuShare: number | null }> {
  const load = loadSample();
  const start = process.hrtime.bigint();
  const value = await fn();
  return { seconds: seconds(start), value, cpuShare: ownShareSince(load) };
}

/** Asynchronous children still running, so an interrupted bench does not leave them writing into deleted directories. */
const live = new Set<ChildProcess>();

export function killChildren(): void {
  for (const c of live) c.kill('SIGKILL');
}

/** Runs a command asynchronously (for pools); rejects on failure with its stderr's last line. */
export function runAsync(cmd: string, args: string[], cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    live.add(child);
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      stderr = (stderr + s).slice(-2000);
    });
    child.on('error', (e) => {
      live.delete(child);
      reject(e);
    });
    child.on('close', (code, sig) => {
      live.delete(child);
      if (code === 0) resolve();
      else reject(new BenchError(`${path.basename(cmd)} ${args.slice(0, 8).join(' ')} failed (${sig ?? `exit status ${code}`}): ${stderr.trim().split('\n').pop() ?? ''}`));
    });
  });
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Repeated figures. The tables use the best run: noise on a VM (neighbours, write-back, discard)
 * only ever adds time, and here it is often bimodal, so a median of three may land on either mode.
 */
export interface Repeated {
  best: number;
  median: number;
  max: number;
  all: number[];
}

export function repeated(xs: number[]): Repeated {
  return { best: Math.min(...xs), median: median(xs), max: Math.max(...xs), all: xs };
}

/** Why a section cannot run in `dir`, or null when the file system has room for it. */
export function lackOfSpace(dir: string, need: SpaceNeed, label = dir): string | null {
  const s = fs.statfsSync(dir);
  const free = s.bavail * s.bsize;
  if (free < need.bytes) return `needs ${fmtBytes(need.bytes)} free in ${label}, only ${fmtBytes(free)} there`;
  // File systems without an inode limit (btrfs, tmpfs with nr_inodes=0) report 0 files.
  if (s.files > 0 && s.ffree < need.inodes) return `needs ${need.inodes} free inodes in ${label}, only ${s.ffree} there`;
  return null;
}

export function fmtBytes(n: number): string {
  if (n >= GiB) return `${(n / GiB).toFixed(2)} GiB`;
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/** Decimal MB/s, as dd, dc3dd and the SPEC quote them. */
export function mbps(bytes: number, secs: number): number {
  return bytes / 1e6 / secs;
}

/** rm -rf where available: for trees of 100,000s of files it is about twice as fast as fs.rmSync. */
export function rmrf(p: string): void {
  const r = spawnSync('rm', ['-rf', '--', p], { stdio: 'ignore' });
  if (r.error || r.status !== 0) fs.rmSync(p, { recursive: true, force: true });
}
