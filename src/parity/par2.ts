/**
 * Creating, verifying and repairing one file's PAR2 set with par2cmdline (or a compatible
 * creator, through `Par2Config.command`).
 *
 * par2cmdline 0.8.1 quirks worked around here (see NOTES.md and the tests):
 * - it aborts on a one-character recorded name, and expands `*` and `?` in a data file's name as
 *   wildcards, and turns `\` into `/` when verifying: such files are hardlinked into a scratch
 *   directory under a safe name (`safeParityName`) and that name is recorded;
 * - it records names relative to `-B`, which must be absolute, and it refuses a parity file path
 *   containing a wildcard: par2 runs with its cwd in a scratch directory and the parity file is
 *   passed by a plain relative name;
 * - it verifies a renamed file only under the name it recorded, and picks up any `NAME.*.par2`
 *   beside the index: verify and repair run in a scratch directory holding links to the data file
 *   (under the recorded name) and to this set's parity files only;
 * - it will not overwrite existing parity files: every run writes into a fresh scratch directory
 *   and the finished set is renamed into place, so an interrupted run never leaves a set that
 *   looks complete.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createFromFile, defaultParityMemory, nativeCreatorAvailable, parityAddon } from './creator.js';
import { parityPacketsIntact } from './packets.js';
import {
  checkRelPath,
  installParity,
  isCode,
  parityFiles,
  paritySuffix,
  removeParity,
  SCRATCH_PREFIX,
  scratchDir,
} from './paths.js';
import { rescueCopy } from './rescue.js';
import { planSlices } from './slices.js';
import { hardLink } from '../crypt/link.js';

export interface Par2Config {
  /** argv prefix of a par2cmdline-compatible program, e.g. ['par2'] or ['nice', '-n19', 'par2']. */
  command: string[];
  /** Default `-t` for runs that do not choose their own; unset: one thread per core. */
  threads?: number;
}

export const DEFAULT_PAR2: Par2Config = { command: ['par2'] };

export type ParityErrorCode =
  | 'ENOSPC' // the disk (or a quota) is full
  | 'ENOENT' // the data file is not there
  | 'EINVAL' // not a regular file
  | 'ENOPAR2' // the par2 program could not be started
  | 'ABORTED'
  | 'EPAR2'; // par2 failed for another reason

/** A parity operation that failed; `message` is one sentence for the user. */
export class ParityError extends Error {
  readonly code: ParityErrorCode;
  constructor(message: string, code: ParityErrorCode, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ParityError';
    this.code = code;
  }
}

/**
 * The answer for one file. `missing`: no usable parity (no files, or too damaged for par2 to read
 * at all), so par2 cannot say anything about the data. `parityDamaged`: some parity packets fail
 * their checksums; par2 still answers from the rest, with fewer recovery slices, and the set
 * should be made again while the data is good.
 */
export type ParityCheck =
  | { state: 'ok'; parityDamaged?: true }
  | { state: 'repairable'; parityDamaged?: true }
  | { state: 'unrepairable'; parityDamaged?: true }
  | { state: 'missing' };

export interface RunOptions {
  cfg?: Par2Config;
  /** par2 `-t`. */
  threads?: number;
  signal?: AbortSignal;
}

export interface CreateOptions extends RunOptions {
  pct: number;
  maxSlices?: number;
  /** par2 `-m`: caps its memory, which otherwise defaults to half the machine's per process. */
  memoryMiB?: number;
  /** Bytes Blaine's own creator may use for this file (default defaultParityMemory()). */
  memoryBytes?: number;
  /** `par2`: make the set with par2cmdline even where Blaine's own creator is available. */
  creator?: 'native' | 'par2';
}

const availability = new Map<string, boolean>();

/** Whether the configured par2 runs (`par2 -V` exits 0); asked once per command. */
export function par2Available(cfg: Par2Config = DEFAULT_PAR2): boolean {
  const key = JSON.stringify(cfg.command);
  let ok = availability.get(key);
  if (ok === undefined) {
    const [cmd, ...pre] = cfg.command;
    const r = cmd ? spawnSync(cmd, [...pre, '-V'], { stdio: 'ignore', timeout: 30_000 }) : null;
    ok = r !== null && r.error === undefined && r.status === 0;
    availability.set(key, ok);
  }
  return ok;
}

/**
 * The name a parity set records for relPath. par2cmdline 0.8.1 crashes on one-character names,
 * expands `*`/`?` in names and reads `\` as `/`, so those are changed; all other names are kept.
 */
export function safeParityName(relPath: string): string {
  let name = checkRelPath(relPath).replace(/[*?\\]/g, '_');
  if (name.length < 2) name = `_/${name}`;
  return name;
}

/**
 * Makes PAR2 parity for `<disk>/<relPath>` at `<disk>/.blaine/parity/<relPath>.par2` and
 * `<relPath>.vol+.par2`, replacing any earlier set. `parityName` is the name recorded in the set
 * (relPath unless par2 needed another, see safeParityName); `bytes` is what the set takes on disk.
 * An empty file gets no parity (there is nothing to protect and par2 refuses it): bytes 0.
 */
export async function createParity(
  diskRoot: string,
  relPath: string,
  opts: CreateOptions,
): Promise<{ parityName: string; bytes: number }> {
  const root = path.resolve(diskRoot);
  const rel = checkRelPath(relPath);
  const cfg = opts.cfg ?? DEFAULT_PAR2;
  const dataPath = path.join(root, rel);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dataPath);
  } catch (e) {
    throw fsError(e, `cannot make parity for ${rel}`);
  }
  if (!st.isFile()) throw new ParityError(`cannot make parity for ${rel}: it is not a regular file`, 'EINVAL');
  if (st.size === 0) {
    removeParity(root, rel);
    return { parityName: rel, bytes: 0 };
  }
  const plan = planSlices(st.size, opts.pct, opts.maxSlices);
  const recorded = safeParityName(rel);
  throwIfAborted(opts.signal, rel);

  const scratch = makeScratch(root, rel);
  if (usesNativeCreator(opts)) {
    try {
      const index = path.join(scratch, 'p.par2');
      const recovery = path.join(scratch, 'p.vol+.par2');
      const shape = { sliceSize: plan.blockSize, recoverySlices: plan.recoveryBlocks, size: st.size, name: recorded, memory: opts.memoryBytes ?? defaultParityMemory() };
      let bytes: number;
      try {
        bytes = await createFromFile(dataPath, shape, index, recovery, opts.signal);
      } catch (e) {
        throwIfAborted(opts.signal, rel);
        if (isCode(e, 'EIO')) throw new ParityError(`cannot make parity for ${rel}: the file changed while its parity was made`, 'EPAR2', { cause: e });
        throw fsError(e, `cannot make parity for ${rel}`);
      }
      throwIfAborted(opts.signal, rel);
      try {
        installParity(root, rel, { index, recovery });
      } catch (e) {
        throw fsError(e, `cannot put the parity for ${rel} in place`);
      }
      return { parityName: recorded, bytes };
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  }
  try {
    let base = root;
    let dataArg = dataPath;
    if (recorded !== rel) {
      base = path.join(scratch, 'd');
      dataArg = path.join(base, recorded);
      stageFile(dataPath, dataArg);
    }
    // -s/-c: SPEC §6 slices (planSlices) instead of par2's 2,000-slice default, which is ~5× slower;
    // -n1: a single recovery file, the fewest par2 allows (-n0 is refused), so a set is two files;
    // no -r, which par2 forbids with -c; -q -q: silent, errors still reach stderr; -t: see threadsFor.
    const args = ['c', '-q', '-q', `-s${plan.blockSize}`, `-c${plan.recoveryBlocks}`, '-n1'];
    args.push(`-t${threadsFor(opts)}`);
    if (opts.memoryMiB !== undefined) args.push(`-m${Math.max(1, Math.floor(opts.memoryMiB))}`);
    args.push(`-B${base}`, '--', 'p.par2', dataArg);
    const run = await runPar2(cfg, args, scratch, opts.signal, rel);
    if (run.code !== 0) throw failure(run, `par2 could not make parity for ${rel}`, scratch);

    // -n1: par2 writes the index p.par2 and one recovery file p.volNN+MM.par2.
    const recovery = fs.readdirSync(scratch).filter((n) => /^p\.vol\d+\+\d+\.par2$/.test(n));
    const index = path.join(scratch, 'p.par2');
    if (recovery.length !== 1 || !fs.existsSync(index)) {
      throw new ParityError(`par2 reported success for ${rel} but did not write one index and one recovery file`, 'EPAR2');
    }
    const made = { index, recovery: path.join(scratch, recovery[0]!) };
    const bytes = fs.statSync(made.index).size + fs.statSync(made.recovery).size;
    throwIfAborted(opts.signal, rel);
    try {
      installParity(root, rel, made);
    } catch (e) {
      throw fsError(e, `cannot put the parity for ${rel} in place`);
    }
    return { parityName: recorded, bytes };
  } finally {
    removeScratch(scratch);
  }
}

let fallbackSaid = false;

/**
 * Blaine's own creator makes the set unless par2cmdline is asked for (opts.creator, or
 * BLAINE_PARITY_CREATOR=par2), another creator command is configured, or the addon is missing;
 * the last is said once on stderr, since parity is then several times slower.
 */
function usesNativeCreator(opts: CreateOptions): boolean {
  if (opts.creator === 'par2' || process.env.BLAINE_PARITY_CREATOR === 'par2') return false;
  const cmd = opts.cfg?.command;
  if (cmd && !(cmd.length === 1 && cmd[0] === 'par2')) return false;
  if (nativeCreatorAvailable()) return true;
  if (!fallbackSaid && parityAddon() === null) {
    fallbackSaid = true;
    process.stderr.write('blaine: the native PAR2 creator is not built (no C compiler at install time?); making parity with par2cmdline, several times slower\n');
  }
  return false;
}

/** Checks `<disk>/<relPath>` against its parity, which was made for the name `parityName`. */
export async function verifyParity(
  diskRoot: string,
  relPath: string,
  parityName: string,
  opts: RunOptions = {},
): Promise<ParityCheck> {
  const root = path.resolve(diskRoot);
  const rel = checkRelPath(relPath);
  const files = parityFiles(root, rel);
  if (files.length === 0) return emptyFile(path.join(root, rel)) ? { state: 'ok' } : { state: 'missing' };
  return retryRescued(rel, (rescue) => withStaged(root, rel, parityName, files, os.tmpdir(), rescue, async (scratch, base, main) => {
    const [run, intact] = await Promise.all([
      runPar2(opts.cfg ?? DEFAULT_PAR2, par2Args('v', base, main, opts), scratch, opts.signal, rel),
      parityPacketsIntact(files),
    ]);
    const damaged = intact ? {} : { parityDamaged: true as const };
    switch (run.code) {
      case 0:
        return { state: 'ok', ...damaged };
      case 1:
        return { state: 'repairable', ...damaged };
      case 2:
        return { state: 'unrepairable', ...damaged };
      case 4: // "insufficient critical data": par2 cannot read the set at all
        return { state: 'missing' };
      default:
        throw failure(run, `par2 could not verify ${rel}`, scratch);
    }
  }));
}

/**
 * Repairs `<disk>/<relPath>` from its parity into a new file `outPath` (replaced if it exists),
 * leaving the disk's file as it is; when nothing needed repair, outPath gets a copy. Resolves
 * false when par2 cannot repair it (or there is no parity).
 */
export async function repairTo(
  diskRoot: string,
  relPath: string,
  parityName: string,
  outPath: string,
  opts: RunOptions = {},
): Promise<boolean> {
  const root = path.resolve(diskRoot);
  const rel = checkRelPath(relPath);
  const dataPath = path.join(root, rel);
  const out = path.resolve(outPath);
  const files = parityFiles(root, rel);
  if (files.length === 0) {
    if (!emptyFile(dataPath)) return false;
    writeOut(null, dataPath, out);
    return true;
  }
  return retryRescued(rel, (rescue) => withStaged(root, rel, parityName, files, path.dirname(out), rescue, async (scratch, base, main) => {
    const run = await runPar2(opts.cfg ?? DEFAULT_PAR2, par2Args('r', base, main, opts), scratch, opts.signal, rel);
    if (run.code === 1 || run.code === 2 || run.code === 4 || run.code === 5) return false;
    if (run.code !== 0) throw failure(run, `par2 could not repair ${rel}`, scratch);
    const staged = path.join(base, checkRelPath(parityName, 'parity name'));
    // par2 renames a damaged file to NAME.1 and writes NAME anew; if NAME is still the link to
    // the disk's file, nothing needed repair and the disk's bytes are the good ones.
    const repaired = fs.existsSync(`${staged}.1`) || !sameFile(staged, dataPath);
    writeOut(repaired ? staged : null, dataPath, out);
    return true;
  }));
}

function par2Args(cmd: 'v' | 'r', base: string, main: string, opts: RunOptions): string[] {
  return [cmd, '-q', '-q', `-t${threadsFor(opts)}`, `-B${base}`, '--', main];
}

/**
 * Always explicit: par2cmdline 0.8.1 left to choose its own thread count often spends ~0.25 s
 * more on a small file (0.01 s with any explicit -t), measured here.
 */
function threadsFor(opts: RunOptions): number {
  const n = opts.threads ?? opts.cfg?.threads ?? os.availableParallelism();
  return Math.max(1, Math.floor(n));
}

/**
 * Runs `body` in a scratch directory holding `d/<parityName>` (a link to the data file, when it
 * exists) and this set's parity files as `p.par2`, `p.vol+.par2`. The scratch directory is on
 * the disk when it is writable (hardlinks, and a repaired file renames into place for free),
 * otherwise under `fallbackParent`, with symlinks.
 */
async function withStaged<T>(
  root: string,
  rel: string,
  parityName: string,
  files: string[],
  fallbackParent: string,
  rescue: boolean,
  body: (scratch: string, base: string, main: string) => Promise<T>,
): Promise<T> {
  const name = checkRelPath(parityName, 'parity name');
  const scratch = makeScratch(root, rel, fallbackParent);
  try {
    const base = path.join(scratch, 'd');
    const dataPath = path.join(root, rel);
    if (!fs.existsSync(dataPath)) fs.mkdirSync(base);
    else if (rescue) rescueCopy(dataPath, path.join(base, name));
    else stageFile(dataPath, path.join(base, name));
    const staged = files.map((f) => `p${paritySuffix(f, rel)}`);
    for (const [i, f] of files.entries()) stageFile(f, path.join(scratch, staged[i]!));
    // The index when there is one; a recovery file alone is a complete set too.
    return await body(scratch, base, staged[0]!);
  } finally {
    removeScratch(scratch);
  }
}

/**
 * Runs a par2 step on the file as it is, and once more on a rescued copy when par2 could not read
 * it: an unreadable sector, or on an encrypted disk a 4 KiB block whose ciphertext rotted
 * (gocryptfs answers EIO), would otherwise stop par2 before it repairs anything.
 */
async function retryRescued<T>(rel: string, step: (rescue: boolean) => Promise<T>): Promise<T> {
  try {
    return await step(false);
  } catch (e) {
    if (!(e instanceof ParityError) || !UNREADABLE.test(e.message)) throw e;
    return await step(true);
  }
}

/** How par2 0.8.1 reports a data file it cannot read. */
const UNREADABLE = /Could not read \d+ bytes from .*: Input\/output error/;
const READ_ONLY = new Set(['EROFS', 'EACCES', 'EPERM']);

/** A fresh scratch directory on the disk; `fallbackParent` is used when the disk is read-only. */
function makeScratch(root: string, rel: string, fallbackParent?: string): string {
  const dir = scratchDir(root);
  try {
    try {
      return fs.mkdtempSync(path.join(dir, SCRATCH_PREFIX));
    } catch (e) {
      if (!isCode(e, 'ENOENT')) throw e;
      fs.mkdirSync(dir, { recursive: true });
      return fs.mkdtempSync(path.join(dir, SCRATCH_PREFIX));
    }
  } catch (e) {
    // A disk mounted read-only (browsing, restore) can still be verified and repaired from.
    if (fallbackParent === undefined || !READ_ONLY.has((e as NodeJS.ErrnoException).code ?? '')) {
      throw fsError(e, `cannot make a scratch directory for ${rel}`);
    }
    try {
      fs.mkdirSync(fallbackParent, { recursive: true });
      return fs.mkdtempSync(path.join(fallbackParent, `.blaine-${SCRATCH_PREFIX}`));
    } catch (e2) {
      throw fsError(e2, `cannot make a scratch directory for ${rel}`);
    }
  }
}

/** After a successful create the scratch directory is already empty: one rmdir instead of a tree walk. */
function removeScratch(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Puts `target` at `at` as a hardlink, or as a symlink where hardlinks cannot be made. */
function stageFile(target: string, at: string): void {
  fs.mkdirSync(path.dirname(at), { recursive: true });
  try {
    hardLink(target, at);
  } catch (e) {
    if (isCode(e, 'ENOSPC')) throw fsError(e, `cannot stage ${target} for par2`);
    // par2 reads through a symlink, and a repair renames the link itself to NAME.1.
    fs.symlinkSync(target, at);
  }
}

function sameFile(a: string, b: string): boolean {
  try {
    const sa = fs.lstatSync(a);
    if (sa.isSymbolicLink()) return true;
    const sb = fs.statSync(b);
    return sa.ino === sb.ino && sa.dev === sb.dev;
  } catch {
    return false;
  }
}

function emptyFile(p: string): boolean {
  try {
    const st = fs.lstatSync(p);
    return st.isFile() && st.size === 0;
  } catch {
    return false;
  }
}

/** Writes `from` (moved when possible) or else a copy of `copyOf` to out, under a temporary name first. */
function writeOut(from: string | null, copyOf: string, out: string): void {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.blaine-tmp-${process.pid}`;
  try {
    let moved = false;
    if (from !== null) {
      try {
        fs.renameSync(from, tmp);
        moved = true;
      } catch (e) {
        if (!isCode(e, 'EXDEV')) throw e;
      }
    }
    if (!moved) fs.copyFileSync(from ?? copyOf, tmp);
    fs.renameSync(tmp, out);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw fsError(e, `cannot write the repaired file ${out}`);
  }
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** par2 process groups still running, killed if Node exits first so none is left writing. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    // Negative pid: the whole group, so a wrapper's par2 dies too.
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

function runPar2(cfg: Par2Config, args: string[], cwd: string, signal: AbortSignal | undefined, rel: string): Promise<RunResult> {
  const [cmd, ...pre] = cfg.command;
  if (!cmd) return Promise.reject(new ParityError('the par2 command is empty', 'ENOPAR2'));
  if (signal?.aborted) return Promise.reject(aborted(rel));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of live) killGroup(c);
    });
  }
  // stderr goes to a file, read only when par2 fails: cheaper per run than a pipe and its stream.
  const errPath = path.join(cwd, 'stderr.txt');
  let errFd: number;
  try {
    errFd = fs.openSync(errPath, 'w');
  } catch (e) {
    return Promise.reject(fsError(e, `cannot run par2 for ${rel}`));
  }
  return new Promise<RunResult>((resolve, reject) => {
    let child: ChildProcess;
    try {
      // Its own process group (detached): Ctrl-C reaches Blaine, which decides, and abort kills all of it.
      child = spawn(cmd, [...pre, ...args], { cwd, stdio: ['ignore', 'ignore', errFd], detached: true });
    } finally {
      fs.closeSync(errFd);
    }
    live.add(child);
    const onAbort = (): void => killGroup(child);
    signal?.addEventListener('abort', onAbort, { once: true });
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      live.delete(child);
      signal?.removeEventListener('abort', onAbort);
      return true;
    };
    child.on('error', (e) => {
      if (!settle()) return;
      killGroup(child);
      reject(new ParityError(`cannot run ${cmd} (${e.message}); install par2cmdline (Debian package par2)`, 'ENOPAR2', { cause: e }));
    });
    child.on('close', (code, sig) => {
      if (!settle()) return;
      if (signal?.aborted) reject(aborted(rel));
      else resolve({ code, signal: sig, stderr: code === 0 ? '' : readTail(errPath, 4096) });
    });
  }).finally(() => fs.rmSync(errPath, { force: true }));
}

function readTail(file: string, max: number): string {
  try {
    const buf = fs.readFileSync(file);
    return buf.subarray(Math.max(0, buf.length - max)).toString('utf8');
  } catch {
    return '';
  }
}

function aborted(rel: string): ParityError {
  return new ParityError(`parity for ${rel} was stopped`, 'ABORTED');
}

function throwIfAborted(signal: AbortSignal | undefined, rel: string): void {
  if (signal?.aborted) throw aborted(rel);
}

const FULL = /No space left on device|Disk quota exceeded/i;

/** A one-sentence error for a failed par2 run; ENOSPC when par2 said so or the disk has no room left. */
function failure(run: RunResult, what: string, scratch: string): ParityError {
  const lastLine =
    run.stderr
      .split(/[\r\n]+/)
      .map((l) => l.trim())
      .filter(Boolean)
      .pop() ?? '';
  const how = run.signal ? `killed by ${run.signal}` : `exit status ${run.code}`;
  if (FULL.test(run.stderr) || diskFull(scratch)) {
    return new ParityError(`${what}: the disk is full`, 'ENOSPC');
  }
  return new ParityError(`${what} (${how}${lastLine ? `: ${lastLine.replace(/\.$/, '')}` : ''})`, 'EPAR2');
}

function diskFull(dir: string): boolean {
  try {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize < 64 * 1024;
  } catch {
    return false;
  }
}

function fsError(e: unknown, what: string): ParityError {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOSPC' || err.code === 'EDQUOT') return new ParityError(`${what}: the disk is full`, 'ENOSPC', { cause: e });
  if (err.code === 'ENOENT') return new ParityError(`${what}: the file does not exist`, 'ENOENT', { cause: e });
  return new ParityError(`${what}: ${err.message ?? String(e)}`, 'EPAR2', { cause: e });
}
