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
import os from 'node:os';
import path from 'node:path';
import { createFromFile, defaultParityMemory, nativeCreatorAvailable, Par2Feeder, Par2Stream, parityAddon, type SetShape } from './creator.js';
import { fsError, ParityError, throwIfAborted } from './errors.js';
import { parityPacketsIntact } from './packets.js';
import { checkRelPath, installParity, isCode, parityFiles, parityStemRel, removeParity, scratchDir, type ParityFs } from './paths.js';
import { tempName } from '../fsx/temp.js';
import { DEFAULT_PAR2, failure, runPar2, threadsFor, type RunOptions } from './run-par2.js';
import { emptyFile, makeScratch, removeScratch, retryRescued, sameFile, stageFile, withStaged, writeOut } from './staging.js';
import { planSlices } from './slices.js';
import { realFs as fs, type Stats } from '../fsx/fsx.js';

export { ParityError, type ParityErrorCode } from './errors.js';
export { DEFAULT_PAR2, par2Available, type Par2Config, type RunOptions } from './run-par2.js';

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

export interface CreateOptions extends RunOptions {
  pct: number;
  maxSlices?: number;
  /** par2 `-m`: caps its memory, which otherwise defaults to half the machine's per process. */
  memoryMiB?: number;
  /** Bytes Blaine's own creator may use for this file (default defaultParityMemory()). */
  memoryBytes?: number;
  /** `par2`: make the set with par2cmdline even where Blaine's own creator is available. */
  creator?: 'native' | 'par2';
  /** Puts the finished set in place (default node:fs; engines pass their file-system layer). */
  fs?: ParityFs;
  /**
   * The set as the copy read the file (openParityFeeder); used when it was fed every byte of a
   * file of the size found now, else the set is made from the file on the disk.
   */
  feeder?: Par2Feeder;
}

/** The shape of relPath's set for a file of `size` bytes with Blaine's own creator. */
function setShape(relPath: string, size: number, pct: number, maxSlices: number | undefined, memory: number): SetShape {
  const name = safeParityName(relPath);
  const plan = planSlices(size, pct, maxSlices, Buffer.byteLength(name));
  return { sliceSize: plan.blockSize, recoverySlices: plan.recoveryBlocks, size, name, memory };
}

/**
 * The set from the bytes the copy fed, when they are the whole file as it is now (the same size,
 * so the same shape; a file written to since would have failed its copy); else, or when the feed
 * failed, from the file on the disk.
 */
async function fromFeederOrFile(feeder: Par2Feeder | undefined, dataPath: string, shape: SetShape, index: string, recovery: string, signal: AbortSignal | undefined): Promise<number> {
  if (feeder) {
    const f = feeder.shape;
    const same = f.size === shape.size && f.sliceSize === shape.sliceSize && f.recoverySlices === shape.recoverySlices && f.name === shape.name;
    const onAbort = (): void => feeder.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (same && (await feeder.complete())) return await feeder.finish(index, recovery);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      feeder.close();
    }
    throwIfAborted(signal, shape.name);
  }
  return createFromFile(dataPath, shape, index, recovery, signal);
}

/**
 * A creator for relPath's set to be fed by the copy of its `size` bytes (CopyOptions.tap), or
 * null where the set is made from the disk afterwards: par2cmdline or another command makes
 * parity, or the set does not fit `memoryBytes` in one pass.
 */
export function openParityFeeder(
  relPath: string,
  size: number,
  opts: Pick<CreateOptions, 'pct' | 'maxSlices' | 'memoryBytes' | 'cfg' | 'creator'>,
  onClose?: () => void,
): Par2Feeder | null {
  if (size <= 0 || !usesNativeCreator(opts)) return null;
  const shape = setShape(checkRelPath(relPath), size, opts.pct, opts.maxSlices, opts.memoryBytes ?? defaultParityMemory());
  try {
    return new Par2Feeder(new Par2Stream(shape), onClose);
  } catch (e) {
    // Too big for the budget in one pass: made from the disk, in column bands.
    if (e instanceof RangeError) return null;
    throw e;
  }
}

/**
 * The name a parity set records for relPath. par2cmdline 0.8.1 crashes on one-character names,
 * expands `*`/`?` in names and reads `\` as `/`, so those are changed; a byte that is not UTF-8
 * becomes `_` too, since par2cmdline is given names as command-line strings, which Node passes as
 * UTF-8 (repairs stage the file under the recorded name, so it need not be the file's own);
 * all other names are kept.
 */
export function safeParityName(relPath: string): string {
  // A name too long to take a suffix is recorded shortened, as its parity files are named: par2
  // repairs by renaming the damaged file to `NAME.1`, which a 255-byte name cannot become.
  let name = parityStemRel(relPath).replace(/[*?\\]|[\uDC80-\uDCFF]/gu, '_');
  if (name.length < 2) name = `_/${name}`;
  return name;
}

/** A set createParity made: the name it records, its files' bytes, and the blocks they take on the disk. */
export interface MadeParity {
  parityName: string;
  bytes: number;
  diskBytes: number;
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
): Promise<MadeParity> {
  const root = path.resolve(diskRoot);
  const rel = checkRelPath(relPath);
  const cfg = opts.cfg ?? DEFAULT_PAR2;
  const dataPath = path.join(root, rel);
  let st: Stats;
  try {
    st = fs.lstatSync(dataPath);
  } catch (e) {
    throw fsError(e, `cannot make parity for ${rel}`);
  }
  if (!st.isFile()) throw new ParityError(`cannot make parity for ${rel}: it is not a regular file`, 'EINVAL');
  if (st.size === 0) {
    removeParity(root, rel, opts.fs);
    return { parityName: rel, bytes: 0, diskBytes: 0 };
  }
  const recorded = safeParityName(rel);
  const plan = planSlices(st.size, opts.pct, opts.maxSlices, Buffer.byteLength(recorded));
  throwIfAborted(opts.signal, rel);

  if (usesNativeCreator(opts)) return createNative(root, rel, st.size, recorded, plan.single, opts);
  const scratch = makeScratch(root, rel);
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
    const made = { index, recovery: path.join(scratch, recovery[0]!), single: plan.single };
    const bytes = (plan.single ? 0 : fs.statSync(made.index).size) + fs.statSync(made.recovery).size;
    throwIfAborted(opts.signal, rel);
    try {
      installParity(root, rel, made, opts.fs);
    } catch (e) {
      throw fsError(e, `cannot put the parity for ${rel} in place`);
    }
    return { parityName: recorded, bytes, diskBytes: allocated(root, rel) };
  } finally {
    removeScratch(scratch);
  }
}

/**
 * The set by Blaine's own creator. Its two files are written straight into `.blaine/tmp` under
 * temporary names (fsx/temp.ts) and renamed into place by installParity, as par2cmdline's are
 * from its scratch directory: no directory of its own per set (making and removing one cost a
 * backup of many files 5% of its CPU time on ext4). The order of the steps is the same, and a
 * crash leaves only temporary names in `.blaine/tmp`, which the next run's cleanup removes.
 */
async function createNative(root: string, rel: string, size: number, recorded: string, single: boolean, opts: CreateOptions): Promise<MadeParity> {
  const tmp = scratchDir(root);
  // Two system calls when it exists (mkdir, then stat on EEXIST): no inode made.
  try {
    fs.mkdirSync(tmp, { recursive: true });
  } catch (e) {
    throw fsError(e, `cannot make parity for ${rel}`);
  }
  const index = path.join(tmp, tempName('p.par2'));
  const recovery = path.join(tmp, tempName('p.vol+.par2'));
  let installed = false;
  try {
    const shape = setShape(rel, size, opts.pct, opts.maxSlices, opts.memoryBytes ?? defaultParityMemory());
    let bytes: number;
    try {
      bytes = await fromFeederOrFile(opts.feeder, path.join(root, rel), shape, index, recovery, opts.signal);
    } catch (e) {
      throwIfAborted(opts.signal, rel);
      if (isCode(e, 'EIO')) throw new ParityError(`cannot make parity for ${rel}: the file changed while its parity was made`, 'EPAR2', { cause: e });
      throw fsError(e, `cannot make parity for ${rel}`);
    }
    throwIfAborted(opts.signal, rel);
    // A small file's set is its recovery file alone (it carries the description too).
    if (single) bytes = fs.statSync(recovery).size;
    try {
      installParity(root, rel, { index, recovery, single }, opts.fs);
      installed = true;
    } catch (e) {
      throw fsError(e, `cannot put the parity for ${rel} in place`);
    }
    return { parityName: recorded, bytes, diskBytes: allocated(root, rel) };
  } finally {
    // What was not renamed into place: a single set's index, or after a failure or an abort
    // whichever of the two was written (a look-up each, which on gocryptfs is a FUSE request).
    if (!installed || single) fs.rmSync(index, { force: true });
    if (!installed) fs.rmSync(recovery, { force: true });
  }
}

/** Bytes the file system allocated for relPath's parity files (blocks, not sizes). */
function allocated(root: string, rel: string): number {
  return parityFiles(root, rel).reduce((n, f) => n + (fs.lstatSync(f, { throwIfNoEntry: false })?.blocks ?? 0) * 512, 0);
}

/**
 * Blaine's own creator makes the set unless par2cmdline is asked for (opts.creator), another
 * creator command is configured, or the addon is missing (the command says so: parity is then
 * several times slower).
 */
function usesNativeCreator(opts: Pick<CreateOptions, 'creator' | 'cfg'>): boolean {
  const cmd = opts.cfg?.command;
  if (cmd && !(cmd.length === 1 && cmd[0] === 'par2')) return false;
  return nativeCreatorAvailable(opts.creator);
}

/** The disk's root, the file's checked relative path and its parity files on the disk. */
function parityOnDisk(diskRoot: string, relPath: string): { root: string; rel: string; files: string[] } {
  const root = path.resolve(diskRoot);
  const rel = checkRelPath(relPath);
  return { root, rel, files: parityFiles(root, rel) };
}

/** Checks `<disk>/<relPath>` against its parity, which was made for the name `parityName`. */
export async function verifyParity(
  diskRoot: string,
  relPath: string,
  parityName: string,
  opts: RunOptions = {},
): Promise<ParityCheck> {
  const { root, rel, files } = parityOnDisk(diskRoot, relPath);
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
  const { root, rel, files } = parityOnDisk(diskRoot, relPath);
  const dataPath = path.join(root, rel);
  const out = path.resolve(outPath);
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
