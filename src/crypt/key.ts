/**
 * Where an encryption key comes from: a key file, the environment, or a prompt on the terminal.
 * The key is only ever held in memory and handed to gocryptfs through a pipe.
 */
import { spawnSync } from 'node:child_process';
import { checkKey, CryptError } from './gocryptfs.js';
import { realFs as fs } from '../fsx/fsx.js';

export interface KeySources {
  keyFile?: string;
  /** The value of BLAINE_KEY, if set. */
  env?: string;
  /** Whether a person can be asked (standard input and error are a terminal). */
  interactive: boolean;
  /** Ask twice (a new disk: a typing error would lock the owner out). */
  confirm?: boolean;
  /** Says which disk the key is for, in the prompt. */
  purpose: string;
}

function fromFile(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const what = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be read (permission denied)' : `cannot be read (${code ?? 'error'})`;
    throw new CryptError(`the key file ${file} ${what}`, 'NO_KEY');
  }
  // A key file made with `echo` ends in a newline that is not part of the key.
  const key = text.replace(/\r?\n$/, '');
  if (key.length === 0) throw new CryptError(`the key file ${file} is empty`, 'NO_KEY');
  if (/[\n\r\0]/.test(key)) throw new CryptError(`the key file ${file} must hold the key on a single line`, 'NO_KEY');
  return key;
}

/**
 * A sentence when a key file can be read by users other than its owner (null when it cannot, or
 * cannot be looked at): anyone who can read it can read every encrypted disk.
 */
export function keyFileExposure(file: string): string | null {
  let mode: number;
  try {
    mode = fs.statSync(file).mode;
  } catch {
    return null;
  }
  if ((mode & 0o077) === 0) return null;
  const shown = (mode & 0o777).toString(8).padStart(4, '0');
  return `the key file ${file} can be read by other users (mode ${shown}); anyone who can read it can read your encrypted disks: run \`chmod 600 ${file}\``;
}

/**
 * Reads a line from the terminal with echo off; the shell's `read` keeps it out of any argv. The
 * question is shown only once echo is off, so nothing typed after it can appear on the screen.
 */
function promptOnce(question: string): string {
  const r = spawnSync(
    'sh',
    ['-c', `trap 'stty echo' EXIT INT TERM; stty -echo || exit 4; printf '%s' "$BLAINE_PROMPT" >&2; IFS= read -r line || exit 3; printf '\\n' >&2; printf '%s' "$line"`],
    { stdio: ['inherit', 'pipe', 'inherit'], encoding: 'utf8', env: { ...process.env, BLAINE_PROMPT: question } },
  );
  if (r.status !== 0) throw new CryptError('no key was typed', 'NO_KEY');
  return r.stdout;
}

/** The key from the first source that has one: --key-file, then BLAINE_KEY, then the terminal. */
export function obtainKey(src: KeySources): string {
  if (src.keyFile) return fromFile(src.keyFile);
  if (src.env !== undefined && src.env !== '') {
    checkKey(src.env);
    return src.env;
  }
  if (!src.interactive) {
    throw new CryptError(`${src.purpose} is encrypted and no key was given: pass --key-file FILE or set BLAINE_KEY`, 'NO_KEY');
  }
  const key = promptOnce(`key for ${src.purpose}: `);
  checkKey(key);
  if (src.confirm && promptOnce('the same key again: ') !== key) throw new CryptError('the two keys typed differ; nothing was changed', 'NO_KEY');
  return key;
}
