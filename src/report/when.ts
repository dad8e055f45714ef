/** Times as a person reads them: local time to the minute, and how long ago. */

const pad = (x: number) => String(x).padStart(2, '0');

/** "2026-12-07 15:36" in the machine's time zone. */
export function localTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** "just now", "5 minutes ago", "3 hours ago", "3 days ago", "5 months ago", "2 years ago". */
export function ago(ms: number, now: number): string {
  const s = Math.max(0, (now - ms) / 1000);
  const steps: [number, string][] = [
    [365 * 86400, 'year'],
    [30 * 86400, 'month'],
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  for (const [size, unit] of steps) {
    const k = Math.floor(s / size);
    if (k >= 1) return `${k} ${unit}${k === 1 ? '' : 's'} ago`;
  }
  return 'just now';
}

/** "2026-12-07 15:36 (3 days ago)"; "never" for no time. */
export function whenText(iso: string | number | null, now: number): string {
  if (iso === null) return 'never';
  const ms = typeof iso === 'number' ? iso : Date.parse(iso);
  if (!Number.isFinite(ms)) return String(iso);
  return `${localTime(ms)} (${ago(ms, now)})`;
}
