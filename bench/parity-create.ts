/**
 * Parity creation alone, as the parity bench measures it: Blaine's ParityPool (and so its own
 * creator, unless BLAINE_PARITY_CREATOR=par2) over files already in place, nothing copied.
 * Run as its own process so its peak memory is its own:
 *   node dist/bench/parity-create.js ROOT JOBS PCT LIST    (LIST: relative paths, one a line)
 * Prints JSON: { parityBytes, maxRssBytes }. The parity goes to ROOT/.blaine/parity.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ParityPool } from '../src/parity/pool.js';

const [root, jobs, pct, list] = process.argv.slice(2);
if (!root || !jobs || !pct || !list) {
  process.stderr.write('usage: parity-create ROOT JOBS PCT LIST\n');
  process.exit(2);
}
const rels = fs.readFileSync(list, 'utf8').split('\n').filter(Boolean);
const pool = new ParityPool({ jobs: Number(jobs), pct: Number(pct), creator: process.env.BLAINE_PARITY_CREATOR === 'par2' ? 'par2' : 'native' });
let parityBytes = 0;
const jobsDone = rels.map((rel) => pool.submit(root, rel, fs.statSync(path.join(root, rel)).size).then((r) => (parityBytes += r.bytes)));
await pool.drain();
await Promise.all(jobsDone);
process.stdout.write(JSON.stringify({ parityBytes, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
