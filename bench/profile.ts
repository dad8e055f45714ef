/** Reads a V8 .cpuprofile (node --cpu-prof) into the few lines that say where the time went. */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './measure.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface HotFunction {
  name: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  self: HotFunction[];
  /** Blaine's own functions by time spent in them and everything they called. */
  inclusive: HotFunction[];
}

function frameName(f: CallFrame): string {
  let where = f.url.replace(/^file:\/\//, '');
  if (where.startsWith(REPO_ROOT)) where = path.relative(REPO_ROOT, where);
  else if (where.includes('/node_modules/')) where = where.slice(where.lastIndexOf('/node_modules/') + 14);
  return `${f.functionName || '(anonymous)'}${where ? ` ${where}:${f.lineNumber + 1}` : ''}`;
}

export function summarizeProfile(file: string, top = 12): ProfileSummary {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  let total = 0;
  prof.samples.forEach((id, i) => {
    const node = byId.get(id);
    // V8 records the interval before a sample; the next delta is the time this sample stood for.
    const us = prof.timeDeltas[i + 1] ?? prof.timeDeltas[i] ?? 0;
    if (!node || node.callFrame.functionName === '(idle)') return;
    total += us;
    const name = frameName(node.callFrame);
    self.set(name, (self.get(name) ?? 0) + us);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      if (!f.url.includes('/dist/src/')) continue;
      const n = frameName(f);
      // Recursion would count the same sample twice.
      if (seen.has(n)) continue;
      seen.add(n);
      incl.set(n, (incl.get(n) ?? 0) + us);
    }
  });
  const rank = (m: Map<string, number>): HotFunction[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, share: total > 0 ? us / total : 0 }));
  return { totalMs: total / 1000, self: rank(self), inclusive: rank(incl) };
}

export function renderProfile(what: string, p: ProfileSummary): string[] {
  const line = (h: HotFunction) => `${h.ms.toFixed(0).padStart(7)} ms ${(h.share * 100).toFixed(1).padStart(5)}%  ${h.name}`;
  return [
    `CPU profile of ${what}: ${p.totalMs.toFixed(0)} ms sampled; top functions by self time:`,
    ...p.self.map(line),
    `Blaine's own functions by inclusive time:`,
    ...p.inclusive.map(line),
  ];
}
