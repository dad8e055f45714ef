import { BlaineError, EXIT } from '../error.js';
import { nameToBytes } from '../fsx/name-bytes.js';
/*
 * Exclusion rules with SnapRAID 14 semantics. Facts relied on, read in amadvance/snapraid:
 * cmdline/elem.c (filter_alloc_file, filter_apply, filter_element, filter_path, filter_subdir),
 * cmdline/str.c (wnmatch_sub), cmdline/selftest.c (its wnmatch and filter-validity tables),
 * cmdline/scan.c (which check each entry type gets) and doc/snapraid.d ("Pattern" section):
 *
 * - Directories get filter_subdir: only DIR/ rules are tried, the first one that matches decides,
 *   and a directory no rule matches is always walked, whatever the last rule is. So an include-only
 *   rule set never prunes a directory; it only leaves out, by default, the files nothing includes.
 * - Files and symlinks get filter_path: NAME rules, plus DIR/ rules that match a leading part of
 *   the path ending just before a '/'. The first matching rule decides; with no match the file is
 *   excluded when the last rule is an include. A NAME rule never applies to a directory.
 * - A pattern with a leading '/' is matched once, from the data path. Any other pattern is tried
 *   at the start of the path and again after every '/', so `b/c` matches `a/b/c` but not `ab/c`.
 * - Matching is byte-wise and case-sensitive: `?` is one byte, so it does not match a two-byte
 *   UTF-8 character. `?`, `*` and `[...]` never match '/'. A class takes ranges and `!` or `^`
 *   negation; a ']' right after '[' (or after the negation) closes it; a backslash inside is an
 *   ordinary member; ranges compare signed chars (the x86 build).
 * - Outside a class, '\' makes the next `*`, `?`, `[`, `]` or '\' literal; before anything
 *   else, and at the end, it is itself a literal character.
 * - Two or more stars cross '/' only when a '/' is next to them in the pattern (or they open an
 *   anchored pattern); otherwise they act as one `*`. Stars followed by '/' at the very start, or
 *   between two slashes, may also stand for no directory at all; stars ending the pattern right
 *   after a '/' match anything, even nothing.
 * - Rejected patterns: empty, a lone '/', '/' + stars + '/', an empty, '.' or '..' component, an
 *   unterminated '['.
 *
 * picomatch is not used: its `**`, braces, extglobs and character-wise `?` differ from the above.
 * Each pattern is translated into a RegExp over the path's UTF-8 bytes instead.
 */

export interface Rule {
  kind: 'exclude' | 'include';
  pattern: string;
}

export class ExclusionError extends BlaineError {
  constructor(message: string) {
    super(message, EXIT.usage);
    this.name = 'ExclusionError';
  }
}

const SLASH = 0x2f;
const STAR = 0x2a;
const QUESTION = 0x3f;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const BACKSLASH = 0x5c;
const DOT = 0x2e;
const ESCAPABLE = new Set([STAR, QUESTION, OPEN, CLOSE, BACKSLASH]);

type Token =
  | { t: 'byte'; b: number }
  | { t: 'any' }
  | { t: 'class'; re: string }
  | { t: 'star' }
  | { t: 'stars' };

/** What the pattern had just before a token, which decides whether `**` may cross '/'. */
type Before = 'none' | 'slash' | 'other';

/** Returns why SnapRAID would refuse this pattern, or null when it is accepted. */
function patternProblem(pattern: string): string | null {
  if (pattern === '') return 'it is empty';
  const b = nameToBytes(pattern);

  let inClass = false;
  for (let i = 0; i < b.length; i++) {
    if (inClass) {
      if (b[i] === CLOSE) inClass = false;
    } else if (b[i] === BACKSLASH && i + 1 < b.length) {
      i++;
    } else if (b[i] === OPEN) {
      inClass = true;
    }
  }
  if (inClass) return "it has a '[' that is never closed by ']'";

  if (pattern === '/' || pattern === '/**/') return 'it would select the whole data path';

  // Components may not be empty, '.' or '..'; only a leading and a trailing empty one are allowed.
  let sawSlash = false;
  let valid = false;
  let filled = false;
  let dots = 0;
  for (const c of b) {
    if (c === SLASH) {
      if (!valid && (sawSlash || filled)) return "it has an empty, '.' or '..' path component";
      valid = false;
      filled = false;
      dots = 0;
      sawSlash = true;
    } else if (c !== DOT) {
      valid = true;
      filled = true;
    } else {
      filled = true;
      if (++dots >= 3) valid = true;
    }
  }
  if (!valid && (!sawSlash || filled)) return "it has an empty, '.' or '..' path component";
  return null;
}

function hex(b: number): string {
  return '\\x' + b.toString(16).padStart(2, '0');
}

/** A RegExp class for a set of bytes; '/' never belongs, as wnmatch refuses it before looking. */
function classRegex(members: boolean[]): string {
  members[SLASH] = false;
  members[0] = false;
  let out = '';
  for (let b = 0; b < 256; b++) {
    if (!members[b]) continue;
    let e = b;
    while (e + 1 < 256 && members[e + 1]) e++;
    out += e === b ? hex(b) : e === b + 1 ? hex(b) + hex(e) : hex(b) + '-' + hex(e);
    b = e;
  }
  return out === '' ? '(?!)' : '[' + out + ']';
}

const signed = (b: number): number => (b >= 128 ? b - 256 : b);

function tokenize(b: Buffer): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    if (c === STAR) {
      let j = i;
      while (j < b.length && b[j] === STAR) j++;
      out.push({ t: j - i >= 2 ? 'stars' : 'star' });
      i = j;
    } else if (c === QUESTION) {
      out.push({ t: 'any' });
      i++;
    } else if (c === OPEN) {
      let k = i + 1;
      let negate = false;
      if (b[k] === 0x21 /* ! */ || b[k] === 0x5e /* ^ */) {
        negate = true;
        k++;
      }
      const members: boolean[] = new Array(256).fill(false);
      while (k < b.length && b[k] !== CLOSE) {
        if (b[k + 1] === 0x2d /* - */ && k + 2 < b.length && b[k + 2] !== CLOSE) {
          const lo = signed(b[k]);
          const hi = signed(b[k + 2]);
          for (let x = 0; x < 256; x++) if (signed(x) >= lo && signed(x) <= hi) members[x] = true;
          k += 3;
        } else {
          members[b[k]] = true;
          k++;
        }
      }
      if (negate) for (let x = 0; x < 256; x++) members[x] = !members[x];
      out.push({ t: 'class', re: classRegex(members) });
      i = k + 1; // patternProblem() already guaranteed the ']'
    } else if (c === BACKSLASH && i + 1 < b.length && ESCAPABLE.has(b[i + 1])) {
      out.push({ t: 'byte', b: b[i + 1] });
      i += 2;
    } else {
      out.push({ t: 'byte', b: c });
      i++;
    }
  }
  return out;
}

const MAX_SOURCE = 200_000;

/**
 * Regex source for tokens[i..] matched at the current position. `end` is what must follow
 * when the pattern is used up: '$' for an exact match, '(?=/)' for a directory rule tested
 * against a file below it. `before` mirrors wnmatch's previous-pattern-character, which it
 * resets after every star because it recurses there.
 */
function build(tokens: Token[], end: string): (i: number, before: Before) => string {
  const memo = new Map<string, string>();
  const gen = (i: number, before: Before): string => {
    const key = i + before;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    let s: string;
    if (i === tokens.length) {
      s = end;
    } else {
      const tok = tokens[i];
      switch (tok.t) {
        case 'byte':
          s = hex(tok.b) + gen(i + 1, tok.b === SLASH ? 'slash' : 'other');
          break;
        case 'any':
          s = '[^/\\x00]' + gen(i + 1, 'other');
          break;
        case 'class':
          s = tok.re + gen(i + 1, 'other');
          break;
        case 'star':
          s = '[^/]*' + gen(i + 1, 'none');
          break;
        case 'stars': {
          const next = tokens[i + 1];
          const slashNext = next !== undefined && next.t === 'byte' && next.b === SLASH;
          if (before !== 'slash' && !slashNext) {
            s = '[^/]*' + gen(i + 1, 'none');
          } else if (next === undefined) {
            s = '[\\s\\S]*'; // matches whatever is left, even where `end` would have refused
          } else if (slashNext && before !== 'other') {
            const skipped = gen(i + 2, 'none');
            const crossed = gen(i + 2, 'slash');
            s = skipped === crossed
              ? '(?:[\\s\\S]*/)?' + skipped
              : '(?:' + skipped + '|[\\s\\S]*/' + crossed + ')';
          } else {
            s = '[\\s\\S]*' + gen(i + 1, 'none');
          }
          break;
        }
      }
    }
    if (s.length > MAX_SOURCE) throw new ExclusionError('too complex');
    memo.set(key, s);
    return s;
  };
  return gen;
}

function compile(body: Token[], anchored: boolean, end: string): RegExp {
  const gen = build(body, end);
  const src = anchored ? '^' + gen(0, 'slash') : '(?:^|/)' + gen(0, 'none');
  return new RegExp(src);
}

interface CompiledRule {
  include: boolean;
  isDir: boolean;
  /** Tests a directory's own path; only for DIR/ rules. */
  dirRe: RegExp | null;
  /** Tests a file's path (for DIR/ rules: a directory above it). */
  fileRe: RegExp;
}

function compileRule(rule: Rule): CompiledRule {
  const problem = patternProblem(rule.pattern);
  if (problem !== null) {
    throw new ExclusionError(`Invalid ${rule.kind} pattern "${rule.pattern}": ${problem}.`);
  }
  let p = rule.pattern;
  const anchored = p.startsWith('/');
  const isDir = p.length > 1 && p.endsWith('/');
  if (anchored) p = p.slice(1);
  if (isDir) p = p.slice(0, -1);
  const tokens = tokenize(nameToBytes(p));
  try {
    return {
      include: rule.kind === 'include',
      isDir,
      dirRe: isDir ? compile(tokens, anchored, '$') : null,
      fileRe: compile(tokens, anchored, isDir ? '(?=/)' : '$'),
    };
  } catch (e) {
    if (e instanceof ExclusionError) {
      throw new ExclusionError(`Invalid ${rule.kind} pattern "${rule.pattern}": it has too many '**' parts in a row.`);
    }
    throw e;
  }
}

/** Throws ExclusionError when SnapRAID would refuse the pattern. */
export function checkRule(rule: Rule): void {
  compileRule(rule);
}

const NON_ASCII = /[^\x00-\x7f]/;

/** The path as one character per byte of the name (name-bytes.ts), the unit the compiled patterns count in. */
function asBytes(relPath: string): string {
  return NON_ASCII.test(relPath) ? nameToBytes(relPath).toString('latin1') : relPath;
}

export class ExclusionFilter {
  readonly empty: boolean;
  private readonly rules: CompiledRule[];
  private readonly dirRules: CompiledRule[];
  private readonly lastIsInclude: boolean;
  private readonly regexes: RegExp[];
  /** What the filter was made from, to make the same filter in another thread. */
  readonly spec: { rules: Rule[]; regexes: string[] };

  constructor(rules: Rule[], regexes: string[] = []) {
    this.spec = { rules, regexes };
    this.rules = rules.map(compileRule);
    this.dirRules = this.rules.filter((r) => r.isDir);
    this.lastIsInclude = rules.length > 0 && rules[rules.length - 1].kind === 'include';
    this.regexes = regexes.map((src) => {
      try {
        return new RegExp(src);
      } catch (e) {
        const raw = e instanceof Error ? e.message : String(e);
        const why = raw.replace(/^Invalid regular expression: \/.*\/\w*: /, '');
        throw new ExclusionError(`Invalid --exclude-regex "${src}": ${why.charAt(0).toLowerCase()}${why.slice(1)}.`);
      }
    });
    this.empty = rules.length === 0 && regexes.length === 0;
  }

  /** relPath: relative to the data path, '/'-separated, no leading slash */
  excludesFile(relPath: string): boolean {
    if (this.rules.length > 0) {
      const bytes = asBytes(relPath);
      let decided = false;
      for (const r of this.rules) {
        if (r.fileRe.test(bytes)) {
          if (!r.include) return true;
          decided = true;
          break;
        }
      }
      if (!decided && this.lastIsInclude) return true;
    }
    // Regexes are Blaine's own addition: they can only take files out, never put them back.
    for (const re of this.regexes) if (re.test(relPath)) return true;
    return false;
  }

  /**
   * true when the scanner must not descend into this directory at all. Regexes never prune:
   * a regex matching a directory's path says nothing about the paths below it.
   */
  excludesDir(relPath: string): boolean {
    if (this.dirRules.length === 0) return false;
    const bytes = asBytes(relPath);
    for (const r of this.dirRules) {
      if ((r.dirRe as RegExp).test(bytes)) return !r.include;
    }
    return false;
  }
}
