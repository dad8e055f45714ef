/**
 * How fast the archive grows, from the host catalog's run log. Both the summary after a backup and
 * the HTML report ask how many more days a disk holds; they must give the same answer.
 */

/** One finished writing run, reduced to what growth needs. */
export interface RunPoint {
  /** When the run finished, ms since the epoch. */
  at: number;
  volume: string;
  /** Bytes the run wrote onto its disk: file data plus parity. */
  written: number;
  /** Bytes of files the volume held when the run ended (null when the run did not count them). */
  volumeBytes: number | null;
}

export const DAY_MS = 86_400_000;

/**
 * Bytes written per day over the runs of the last `windowDays`. The first run of the window only
 * marks its start: what it wrote came before the span measured (a seed backup of terabytes must
 * not read as one day's growth). Null with fewer than two runs, or when they span under a day,
 * since a rate from minutes of history would promise nonsense.
 */
export function growthPerDay(runs: readonly RunPoint[], now: number, windowDays = 14): number | null {
  const recent = runs.filter((r) => r.at <= now && r.at > now - windowDays * DAY_MS).sort((a, b) => a.at - b.at);
  if (recent.length < 2) return null;
  const span = recent[recent.length - 1]!.at - recent[0]!.at;
  if (span < DAY_MS) return null;
  let written = 0;
  for (const r of recent.slice(1)) written += r.written;
  return (written / span) * DAY_MS;
}

/** Whole days of growth the free space still takes; null when growth is unknown or nil. */
export function daysLeft(freeBytes: number | null, perDay: number | null): number | null {
  if (freeBytes === null || perDay === null || perDay <= 0) return null;
  return Math.max(0, Math.floor(freeBytes / perDay));
}

/**
 * The archive's size after each run: every volume's last known size, summed. Volumes are stacked
 * in the order given, so a chart can draw each as a band.
 */
export function archiveSeries(runs: readonly RunPoint[], volumes: readonly string[]): { at: number; byVolume: number[] }[] {
  const last = new Map<string, number>();
  const series: { at: number; byVolume: number[] }[] = [];
  for (const r of [...runs].sort((a, b) => a.at - b.at)) {
    if (r.volumeBytes === null) continue;
    last.set(r.volume, r.volumeBytes);
    series.push({ at: r.at, byVolume: volumes.map((v) => last.get(v) ?? 0) });
  }
  return series;
}

/** Beyond this, a count of days says nothing a user can plan with. */
export const MANY_DAYS = 3650;

/** "about 31 day(s)", or "more than ten years" for a disk that recent growth will not fill. */
export function aboutDays(days: number): string {
  return days > MANY_DAYS ? 'more than ten years' : `about ${days.toLocaleString('en')} day(s)`;
}
