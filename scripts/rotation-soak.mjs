#!/usr/bin/env node
// The rotation property over many seeds (not part of `npm test`; compile first with
// `npx tsc -p .`): `node scripts/rotation-soak.mjs SEEDS [FIRST] [DAYS]` runs seeds FIRST..FIRST+SEEDS-1,
// every fourth with parity, each in a fresh temporary folder, and stops at the first failure with
// the seed and the commands that led to it (rerun that seed alone to replay it exactly).
// BLAINE_SOAK_DIR=/dev/shm keeps the disks in memory: the runs then wait for no real sync.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { simulateRotation } from '../dist/test/rotation-sim.js';

const [seeds = 200, first = 1, days = 40] = process.argv.slice(2).map(Number);
const started = Date.now();
let commands = 0;
let visits = 0;
let catchUps = 0;
let disasters = 0;
// BLAINE_SOAK_KEEP_GOING=1: a failed seed is reported and the next one runs (the exit status is still 1).
const keepGoing = process.env.BLAINE_SOAK_KEEP_GOING === '1';
const failed = [];
for (let seed = first; seed < first + seeds; seed++) {
  const base = fs.mkdtempSync(path.join(process.env.BLAINE_SOAK_DIR ?? os.tmpdir(), `blaine-soak-${seed}-`));
  const lines = [];
  try {
    const r = await simulateRotation({ seed, base, days, parity: seed % 4 === 0, log: (l) => lines.push(l) });
    commands += r.commands;
    visits += r.visits;
    catchUps += r.catchUps;
    disasters += r.disasters;
    fs.rmSync(base, { recursive: true, force: true });
    process.stdout.write(`seed ${seed}: ok (${r.commands} commands, ${r.visits} visits, ${r.catchUps} catch-ups, ${r.disasters} disasters restored)\n`);
  } catch (err) {
    process.stdout.write(`${lines.slice(-60).join('\n')}\nseed ${seed}: FAILED (left in ${base})\n${err?.stack ?? err}\n`);
    failed.push(seed);
    if (!keepGoing) process.exit(1);
  }
}
const secs = ((Date.now() - started) / 1000).toFixed(0);
if (failed.length > 0) {
  process.stdout.write(`${failed.length} of ${seeds} seed(s) FAILED: ${failed.join(' ')} (${secs} s)\n`);
  process.exit(1);
}
process.stdout.write(`${seeds} seed(s) of ${days} days clean: ${commands} commands, ${visits} stored-disk visits, ${catchUps} catch-ups, ${disasters} disasters restored, ${secs} s\n`);
