/**
 * Many small files copied to their temporary names at once: through the layer's native batch copy
 * on a worker thread (native/copyfiles.c; the fault layer counts its steps too), otherwise one by
 * one through the layer's other calls (copyToTemp). The caller puts each copy in place with
 * installTemp, in its own order.
 */
import path from 'node:path';
import { COPY_OUTCOME } from './addon.js';
import { CopyError, errnoError, sourceError, targetError } from './copy-error.js';
import { copyToTemp, type TempCopy } from './copy.js';
import type { Fsx } from './fsx.js';
import { tempName } from './temp.js';
import type { FileMeta } from './meta.js';

export interface BatchCopy {
  src: string;
  dest: string;
  meta: FileMeta;
  /**
   * The copy may be renamed to dest right away, on the copying thread, when it has this many bytes
   * and nothing is at dest: only for a step already journalled (apply/copy-ahead.ts).
   */
  placeSize?: number;
}

/** A batch copy: at its temporary name, or (`placed`) already at its destination. */
export type BatchCopied = TempCopy & { placed: boolean };

/** Each file's copy under a temporary name in tempDir (which must exist) or placed, or why it failed. */
export async function copyBatchToTemp(jobs: BatchCopy[], tempDir: string, fs: Fsx): Promise<Array<BatchCopied | CopyError>> {
  if (!fs.copyFiles) {
    // All started at once: a small file's copy is synchronous, so every call on the layer is made
    // before this returns, in job order, and a fault counted by calls hits the same step every run.
    const started = jobs.map((j) =>
      copyToTemp(j.src, j.dest, j.meta, { tempDir, fs }).then(
        (copy) => ({ ...copy, placed: false }),
        (err: unknown) => {
          if (err instanceof CopyError) return err;
          throw err;
        },
      ),
    );
    return Promise.all(started);
  }
  const tmps = jobs.map((j) => path.join(tempDir, tempName(path.basename(j.dest))));
  const place = (j: BatchCopy) => (j.placeSize === undefined ? undefined : { dest: j.dest, size: j.placeSize });
  const results = await fs.copyFiles(jobs.map((j, i) => ({ src: j.src, tmp: tmps[i]!, meta: j.meta, place: place(j) })));
  return jobs.map((j, i) => {
    const { outcome, errno, bytes, sha256, placed } = results[i]!;
    switch (outcome) {
      case COPY_OUTCOME.done:
        return { tmp: tmps[i]!, bytes, sha256, placed };
      case COPY_OUTCOME.sourceError:
        return sourceError(errnoError(errno, 'read', j.src), j.src);
      case COPY_OUTCOME.notRegular:
        return new CopyError(`Cannot read ${j.src}: it is not a regular file.`, 'SOURCE', j.src);
      default:
        return targetError(errnoError(errno, 'write', j.dest), j.dest);
    }
  });
}

/**
 * One file copied to a temporary name in tempDir (which must exist) with its SHA-256, as copyToTemp
 * does, but where it can through the addon's worker thread: the reads, hashing and writes of a
 * file then run in C on a thread of their own, with no round trip to the main thread per buffer
 * (a restore of media-sized files spent more CPU on those than on the copy itself). A sparse
 * source goes through copyToTemp, which keeps holes. Errors and abort as copyToTemp.
 */
export async function copyFileToTemp(src: string, dest: string, meta: FileMeta, opts: { tempDir: string; fs: Fsx; signal?: AbortSignal }): Promise<TempCopy> {
  const fs = opts.fs;
  opts.signal?.throwIfAborted();
  if (!fs.copyFiles || isSparse(src, fs)) return copyToTemp(src, dest, meta, { tempDir: opts.tempDir, fs, signal: opts.signal });
  const [got] = await copyBatchToTemp([{ src, dest, meta }], opts.tempDir, fs);
  if (got instanceof CopyError) throw got;
  if (opts.signal?.aborted) {
    fs.rmSync(got!.tmp, { force: true });
    opts.signal.throwIfAborted();
  }
  return got!;
}

/** Fewer blocks than bytes (cp --sparse=auto's test); a source that cannot be stat'ed is left to the copy to report. */
function isSparse(file: string, fs: Fsx): boolean {
  try {
    const st = fs.statSync(file);
    return st.blocks * 512 < st.size;
  } catch {
    return true;
  }
}
