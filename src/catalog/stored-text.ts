/**
 * STOPGAP until the catalogs store names as bytes (BLOBs): better-sqlite3 writes a JS string as
 * UTF-8, which turns the lone surrogates that stand for bytes that are not UTF-8
 * (fsx/name-bytes.ts) into U+FFFD. A string holding such bytes is stored instead with each one as
 * NUL + the Latin-1 character of the byte (0x80..0xFF): no path or link target can hold a NUL, so
 * the form is one to one and every other string is stored as it is. It is applied to every
 * parameter bound and every string read (Catalog wraps its database's `prepare`), so stamps,
 * link targets and the NUL-joined texts of quick checks come back as they went in. Ranges of paths
 * keep working (a name's prefix stays its prefix); such names sort by the stored form in SQL.
 */
import type Database from 'better-sqlite3';
import { hasEscapedBytes } from '../fsx/name-bytes.js';

const ESCAPED = /[\uDC80-\uDCFF]/gu;
const STORED = /\0([\x80-\xff])/g;

/** The text stored for `s`. */
export function toStoredText(s: string): string {
  return hasEscapedBytes(s) ? s.replace(ESCAPED, (c) => '\0' + String.fromCharCode(c.charCodeAt(0) - 0xdc00)) : s;
}

/** The string stored as `t` (the inverse of toStoredText; a NUL before any other character is a separator and stays). */
export function fromStoredText(t: string): string {
  return t.includes('\0') ? t.replace(STORED, (_, c: string) => String.fromCharCode(0xdc00 + c.charCodeAt(0))) : t;
}

function encodeParam(v: unknown): unknown {
  if (typeof v === 'string') return toStoredText(v);
  if (Array.isArray(v)) return v.map(encodeParam);
  return v;
}

function decodeRow(r: unknown): unknown {
  if (typeof r === 'string') return fromStoredText(r);
  if (Array.isArray(r)) {
    for (let i = 0; i < r.length; i++) if (typeof r[i] === 'string') r[i] = fromStoredText(r[i] as string);
    return r;
  }
  if (r !== null && typeof r === 'object' && !Buffer.isBuffer(r)) {
    const o = r as Record<string, unknown>;
    for (const k in o) if (typeof o[k] === 'string') o[k] = fromStoredText(o[k] as string);
  }
  return r;
}

/** Makes every statement `db` prepares from now on bind and read strings in the stored form. */
export function storeNamesLosslessly(db: Database.Database): void {
  const prepare = db.prepare.bind(db);
  db.prepare = ((sql: string) => {
    const st = prepare(sql);
    const run = st.run.bind(st);
    const get = st.get.bind(st);
    const all = st.all.bind(st);
    const iterate = st.iterate.bind(st);
    Object.assign(st, {
      run: (...args: unknown[]) => run(...args.map(encodeParam)),
      get: (...args: unknown[]) => decodeRow(get(...args.map(encodeParam))),
      all: (...args: unknown[]) => (all(...args.map(encodeParam)) as unknown[]).map(decodeRow),
      iterate: function* (...args: unknown[]) {
        for (const r of iterate(...args.map(encodeParam))) yield decodeRow(r);
      },
    });
    return st;
  }) as typeof db.prepare;
}

/**
 * SQLite's GLOB over whole characters, a byte that is not UTF-8 counting as one: `*` any run, `?`
 * one, `[...]` one of a set (ranges, `^` negates, a `]` first is literal); case-sensitive.
 */
export function globMatches(pattern: string, s: string): boolean {
  const lit = (ch: string) => `\\u{${ch.codePointAt(0)!.toString(16)}}`;
  const chars = [...pattern];
  let re = '';
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '*') re += '[^]*';
    else if (ch === '?') re += '.';
    else if (ch === '[') {
      let j = i + 1;
      let set = '';
      if (chars[j] === '^') {
        set += '^';
        j++;
      }
      if (chars[j] === ']') {
        set += lit(']');
        j++;
      }
      while (j < chars.length && chars[j] !== ']') {
        if (chars[j] === '-' && set !== '' && set !== '^' && j + 1 < chars.length && chars[j + 1] !== ']') set += '-';
        else set += lit(chars[j]!);
        j++;
      }
      if (j >= chars.length) return false; // an unclosed set matches nothing, as in SQLite
      re += `[${set}]`;
      i = j;
    } else re += lit(ch);
  }
  return new RegExp(`^${re}$`, 'su').test(s);
}
