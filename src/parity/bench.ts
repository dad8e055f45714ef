/**
 * SPEC §9: parity through ParityPool against par2 run directly with the same flags, the same number
 * at a time. Run: `node dist/src/parity/bench.js [MiB] [jobs]` (default 1024 MiB, one job per core).
 * Data is written under the system temp dir and removed afterwards.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ParityPool } from './pool.js';
import { planSlices } from './slices.js';

const MiB = 1024 * 1024;

export interface ParityBenchResult {
  bytes: number;
  files: number;
  /** MB/s (10^6 bytes per second) of data given parity, best of the rounds. */
  poolMBps: number;
  directMBps: number;
}

/** Sizes for about `total` bytes: four big files (50–300 MiB) and many of 100 KiB–5 MiB, in a fixed shuffled order. */
export function benchSizes(total: number): number[] {
  let seed = 12345;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const big = [300, 150, 80, 50].map((m) => Math.round((m * MiB * total) / (1024 * MiB)));
  const sizes = [...big];
  let left = total - big.reduce((a, b) => a + b, 0);
  while (left > 0) {
    const s = Math.min(left, Math.round(100 * 1024 + rand() * (5 * MiB - 100 * 1024)));
    sizes.push(s);
    left -= s;
  }
  for (let i = sizes.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [sizes[i], sizes[j]] = [sizes[j]!, sizes[i]!];
  }
  return sizes;
}

function writeData(disk: string, sizes: number[]): string[] {
  const buf = Buffer.allocUnsafe(4 * MiB);
  return sizes.map((size, i) => {
    const rel = `mnt/media/d${i % 8}/file${i}.bin`;
    const p = path.join(disk, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    const fd = fs.openSync(p, 'w');
    for (let done = 0; done < size; ) {
      const n = Math.min(buf.length, size - done);
      crypto.randomFillSync(buf, 0, n);
      fs.writeSync(fd, buf, 0, n);
      done += n;
    }
    fs.closeSync(fd);
    return rel;
  });
}

/** CPU seconds of reaped child processes (par2) and of this process, from /proc (Linux). */
function cpuSeconds(): { children: number; self: number } {
  const self = process.cpuUsage();
  let children = 0;
  try {
    const f = fs.readFileSync('/proc/self/stat', 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    children = (Number(fields[13]) + Number(fields[14])) / 100; // cutime + cstime, in USER_HZ (100)
  } catch {
    // not Linux: only wall time is reported
  }
  return { children, self: (self.user + self.system) / 1e6 };
}

function par2(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    // Detached like the pool's: each session is its own scheduler autogroup on Linux, which on a
    // busy machine gets a process more CPU than a shared one would; both sides must be alike.
    const c = spawn('par2', args, { stdio: 'ignore', detached: true });
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`par2 exit ${code}`))));
  });
}

/** par2 with the pool's flags (-t1, same -s/-c/-n1/-m), `jobs` at a time, outputs in outDir. */
async function direct(disk: string, rels: string[], sizes: number[], jobs: number, pct: number, memoryMiB: number, outDir: string): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < rels.length) {
      const i = next++;
      const plan = planSlices(sizes[i]!, pct);
      await par2(['c', '-q', '-q', `-s${plan.blockSize}`, `-c${plan.recoveryBlocks}`, '-n1', '-t1', `-m${memoryMiB}`, `-B${disk}`, '--', path.join(outDir, `${i}.par2`), path.join(disk, rels[i]!)]);
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
}

async function viaPool(disk: string, rels: string[], sizes: number[], jobs: number, pct: number): Promise<void> {
  const pool = new ParityPool({ jobs, pct });
  const all = rels.map((rel, i) => pool.submit(disk, rel, sizes[i]!));
  await pool.drain();
  await Promise.all(all);
}

export async function runParityBench(opts: { totalBytes?: number; jobs?: number; pct?: number; rounds?: number; log?: (s: string) => void } = {}): Promise<ParityBenchResult> {
  const total = opts.totalBytes ?? 1024 * MiB;
  const jobs = opts.jobs ?? os.availableParallelism();
  const pct = opts.pct ?? 10;
  const rounds = opts.rounds ?? 2;
  const log = opts.log ?? (() => {});
  const memoryMiB = Math.max(16, Math.floor(os.totalmem() / 2 / MiB / jobs));
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'blaine-parity-bench-'));
  try {
    const disk = path.join(root, 'disk');
    const out = path.join(root, 'direct');
    const sizes = benchSizes(total);
    const rels = writeData(disk, sizes);
    const bytes = sizes.reduce((a, b) => a + b, 0);
    log(`${rels.length} files, ${(bytes / MiB).toFixed(0)} MiB, jobs ${jobs}, ${pct}%`);
    let poolBest = Infinity;
    let directBest = Infinity;
    // Alternating rounds, so a busy neighbour on the machine hurts both alike.
    for (let r = 0; r < rounds; r++) {
      fs.rmSync(out, { recursive: true, force: true });
      fs.mkdirSync(out);
      let c0 = cpuSeconds();
      let t = performance.now();
      await direct(disk, rels, sizes, jobs, pct, memoryMiB, out);
      const d = (performance.now() - t) / 1000;
      let c1 = cpuSeconds();
      const dCpu = `par2 CPU ${(c1.children - c0.children).toFixed(1)} s, node CPU ${(c1.self - c0.self).toFixed(1)} s`;
      fs.rmSync(path.join(disk, '.blaine'), { recursive: true, force: true });
      c0 = cpuSeconds();
      t = performance.now();
      await viaPool(disk, rels, sizes, jobs, pct);
      const p = (performance.now() - t) / 1000;
      c1 = cpuSeconds();
      const pCpu = `par2 CPU ${(c1.children - c0.children).toFixed(1)} s, node CPU ${(c1.self - c0.self).toFixed(1)} s`;
      log(`round ${r + 1}: direct ${(bytes / 1e6 / d).toFixed(1)} MB/s (${d.toFixed(1)} s; ${dCpu}), pool ${(bytes / 1e6 / p).toFixed(1)} MB/s (${p.toFixed(1)} s; ${pCpu})`);
      directBest = Math.min(directBest, d);
      poolBest = Math.min(poolBest, p);
    }
    return { bytes, files: rels.length, poolMBps: bytes / 1e6 / poolBest, directMBps: bytes / 1e6 / directBest };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const mib = Number(process.argv[2] ?? 1024);
  const jobs = process.argv[3] ? Number(process.argv[3]) : undefined;
  const r = await runParityBench({ totalBytes: mib * MiB, jobs, rounds: 3, log: (s) => console.log(s) });
  console.log(`pool ${r.poolMBps.toFixed(1)} MB/s, direct par2 ${r.directMBps.toFixed(1)} MB/s: ${((100 * r.poolMBps) / r.directMBps).toFixed(0)}%`);
}
