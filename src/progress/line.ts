/**
 * The progress line, from a snapshot: pure, so every shape it can take is tested without a
 * terminal. Widths are in terminal columns; a width of 0 or less means "unknown" and the line
 * is not cut, since a terminal that reports no size (`script -c`) still shows text.
 */
import { formatBytes } from '../fsx/space.js';
import type { ProgressSnapshot } from './progress.js';

/** Seconds as 4.2s, 42s, 3m05s, 2h07m. */
export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '?';
  if (sec < 9.95) return `${sec.toFixed(1)}s`;
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Columns a character takes: 2 for East Asian wide and emoji ranges, 0 for combining marks. */
function columnsOf(cp: number): number {
  if (cp < 0x300) return cp < 0x20 || (cp >= 0x7f && cp < 0xa0) ? 0 : 1;
  if (cp >= 0x300 && cp <= 0x36f) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  ) {
    return 2;
  }
  return 1;
}

export function displayWidth(text: string): number {
  let w = 0;
  for (const ch of text) w += columnsOf(ch.codePointAt(0)!);
  return w;
}

/** The end of `text` that fits in `width` columns, marked with … when cut (paths: the name matters most). */
export function fitTail(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  if (width <= 0) return '';
  const chars = Array.from(text);
  let w = 1;
  let i = chars.length;
  while (i > 0 && w + columnsOf(chars[i - 1]!.codePointAt(0)!) <= width) w += columnsOf(chars[--i]!.codePointAt(0)!);
  return '…' + chars.slice(i).join('');
}

/** The start of `text` that fits in `width` columns. */
export function fitHead(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  let w = 0;
  let out = '';
  for (const ch of text) {
    const c = columnsOf(ch.codePointAt(0)!);
    if (w + c > width) break;
    w += c;
    out += ch;
  }
  return out;
}

function count(n: number): string {
  return n.toLocaleString('en');
}

/** Bytes per second over the phase so far; null in its first half second (too noisy to show). */
export function rateOf(s: ProgressSnapshot): number | null {
  const sec = (s.now - s.phaseStarted) / 1000;
  return sec >= 0.5 ? s.bytesDone / sec : null;
}

/** Seconds left, from bytes when the total is known (time follows bytes), else from files. */
export function etaOf(s: ProgressSnapshot): number | null {
  const sec = (s.now - s.phaseStarted) / 1000;
  if (sec < 0.5) return null;
  if (s.bytesTotal !== null && s.bytesTotal > 0 && s.bytesDone > 0) return ((s.bytesTotal - s.bytesDone) * sec) / s.bytesDone;
  if (s.filesTotal !== null && s.filesTotal > 0 && s.filesDone > 0) return ((s.filesTotal - s.filesDone) * sec) / s.filesDone;
  return null;
}

/** The facts of the snapshot, most important first. */
export function progressParts(s: ProgressSnapshot): string[] {
  const parts: string[] = [];
  parts.push(s.filesTotal !== null ? `${count(s.filesDone)}/${count(s.filesTotal)} files` : `${count(s.filesDone)} files`);
  if (s.bytesDone > 0 || (s.bytesTotal ?? 0) > 0) {
    parts.push(s.bytesTotal !== null ? `${formatBytes(s.bytesDone)}/${formatBytes(s.bytesTotal)}` : formatBytes(s.bytesDone));
  }
  const rate = rateOf(s);
  if (rate !== null && s.bytesDone > 0) parts.push(`${formatBytes(rate)}/s`);
  const eta = etaOf(s);
  if (eta !== null) parts.push(`ETA ${formatDuration(eta)}`);
  if (s.parityQueue !== null && s.parityQueue > 0 && s.phase !== 'parity') parts.push(`parity queue ${count(s.parityQueue)}`);
  return parts;
}

/** One terminal line: phase and facts, then as much of the current file's path as fits. */
export function terminalLine(s: ProgressSnapshot, columns: number): string {
  if (s.phase === null) return '';
  const head = `${s.phase}: ${progressParts(s).join('  ')}`;
  // The last column stays empty: writing into it makes some terminals wrap at once.
  const width = columns > 0 ? columns - 1 : Infinity;
  if (!s.current) return Number.isFinite(width) ? fitHead(head, width) : head;
  const room = width - displayWidth(head) - 2;
  if (room >= 12) return `${head}  ${Number.isFinite(room) ? fitTail(s.current, room) : s.current}`;
  return Number.isFinite(width) ? fitHead(head, width) : head;
}

/** One line for a log or a pipe: a timestamp, everything, never cut. */
export function plainLine(s: ProgressSnapshot): string {
  if (s.phase === null) return '';
  const time = new Date(s.now).toISOString().slice(11, 19);
  return `[${time}] ${s.phase}: ${progressParts(s).join(', ')}${s.current ? `, now ${s.current}` : ''}`;
}
