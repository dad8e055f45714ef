export interface Move {
  from: string;
  to: string;
}

/** Where a stored file waits during a swap: below the disk's own .blaine/tmp, never among user files. */
export function swapPath(n: number, base: string): string {
  const name = base.slice(base.lastIndexOf('/') + 1);
  return `/.blaine/tmp/swap-${n}/${name}`;
}

/**
 * Orders a set of moves (distinct sources, distinct targets) so that no move overwrites a path that
 * another move still has to read from. Chains run back to front; each cycle (a swap, a rotation) is
 * broken by parking one file at a temporary name. Pure: the same input gives the same sequence.
 */
export function orderMoves(moves: Move[], firstTemp = 0): Move[] {
  const bySource = new Map<string, Move>();
  for (const m of moves) if (m.from !== m.to) bySource.set(m.from, m);
  const out: Move[] = [];
  let temp = firstTemp;
  // A move is ready when nothing still waiting reads from its target.
  const ready = (m: Move) => !bySource.has(m.to);
  const pending = [...bySource.values()].sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
  while (bySource.size > 0) {
    let progressed = false;
    for (const m of pending) {
      if (!bySource.has(m.from) || bySource.get(m.from) !== m) continue;
      // Follow the chain that ends in this move's target so a whole chain drains in one sweep.
      let cur: Move | undefined = m;
      const stack: Move[] = [];
      const seen = new Set<string>();
      while (cur && !ready(cur) && !seen.has(cur.from)) {
        seen.add(cur.from);
        stack.push(cur);
        cur = bySource.get(cur.to);
      }
      if (cur && ready(cur)) {
        stack.push(cur);
        for (let i = stack.length - 1; i >= 0; i--) {
          const s = stack[i]!;
          if (bySource.get(s.from) === s && ready(s)) {
            out.push(s);
            bySource.delete(s.from);
            progressed = true;
          }
        }
      }
    }
    if (!progressed) {
      // Only cycles are left: park the first file of one cycle, which frees its target.
      const m = pending.find((x) => bySource.get(x.from) === x)!;
      const tmp = swapPath(temp++, m.from);
      out.push({ from: m.from, to: tmp });
      bySource.delete(m.from);
      const rest: Move = { from: tmp, to: m.to };
      bySource.set(tmp, rest);
      pending.push(rest);
    }
  }
  return out;
}
