/**
 * Blaine's own PAR2 2.0 creator (native/par2create.c, in the addon): the same two files
 * par2cmdline would make for one file, several times faster, off the JS thread (libuv's pool).
 *
 * Two ways in: `Par2Stream` is fed the file's bytes in order, so a copy that already has them
 * in memory needs no second read (it must fit the memory budget in one pass); `createFromFile`
 * reads the file itself, in column bands when the recovery slices do not fit the budget at once.
 * Either writes `<index>` and `<recovery>` as new files; the caller installs them (paths.ts).
 */
import os from 'node:os';
import { errnoName, nativeAddon } from '../fsx/addon.js';
import type { NativeTap } from '../fsx/copy.js';

type Done = (errno: number, bytes: number) => void;

interface ParityAddon {
  par2Kernels(): string[];
  par2SelectKernel(name: string): boolean;
  gfMulAdd(dst: Buffer, src: Buffer, c: number, kernel?: string): void;
  gfMulAdd4(dst: Buffer, srcs: Buffer[], cs: number[], kernel: string): void;
  gfMul(a: number, b: number): number;
  md5(buf: Buffer): Buffer;
  crc32(buf: Buffer, portable?: boolean): number;
  par2Open(slice: number, recovery: number, size: number, name: Buffer, budget: number): object;
  par2Info(h: object): [passes: number, memory: number];
  par2Feed(h: object, buf: Buffer, done: Done): void;
  par2Finish(h: object, indexPath: string, recoveryPath: string, done: Done): void;
  par2FromFile(h: object, dataPath: string, indexPath: string, recoveryPath: string, done: Done): void;
  par2Close(h: object): void;
}

/** The addon's parity functions, or null when the addon was not built (or is an older build). */
export function parityAddon(): ParityAddon | null {
  const a = nativeAddon() as unknown as Partial<ParityAddon> | null;
  return a && typeof a.par2Open === 'function' ? (a as ParityAddon) : null;
}

/**
 * Whether Blaine's own creator makes parity: unless the addon is missing or `par2` asks for
 * par2cmdline (tests and benchmarks compare the two).
 */
export function nativeCreatorAvailable(creator?: 'native' | 'par2'): boolean {
  return creator !== 'par2' && parityAddon() !== null;
}

/** Default `--parity-memory`: a quarter of the machine's memory, at most 1 GiB. */
export function defaultParityMemory(): number {
  return Math.min(1024 ** 3, Math.floor(os.totalmem() / 4));
}

/** An errno from the addon, as Node's fs errors look, for the callers' one-sentence messages. */
export class NativeParityError extends Error {
  readonly code: string;
  readonly errno: number;
  constructor(errno: number, what: string) {
    const code = errnoName(errno);
    super(`${what}: ${code}`);
    this.code = code;
    this.errno = errno;
  }
}

export interface SetShape {
  /** Bytes per slice, a multiple of 4 (planSlices gives multiples of 4 KiB). */
  sliceSize: number;
  recoverySlices: number;
  /** The data file's size; more than 0 (an empty file gets no parity). */
  size: number;
  /** The name recorded in the set (safeParityName). */
  name: string;
  /** Bytes the creator may use for its buffers. */
  memory: number;
}

function open(addon: ParityAddon, s: SetShape): object {
  return addon.par2Open(s.sliceSize, s.recoverySlices, s.size, Buffer.from(s.name, 'utf8'), Math.max(1, Math.floor(s.memory)));
}

function call(what: string, start: (done: Done) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    start((errno, bytes) => (errno === 0 ? resolve(bytes) : reject(new NativeParityError(errno, what))));
  });
}

/** Whether a file of this shape can be made in one pass, i.e. fed to a Par2Stream. */
export function fitsOnePass(s: SetShape): boolean {
  const addon = parityAddon();
  if (!addon) return false;
  const h = open(addon, s);
  try {
    return addon.par2Info(h)[0] === 1;
  } finally {
    addon.par2Close(h);
  }
}

/**
 * A set made from the file's bytes as they go by. `update` every byte in order (each buffer may be
 * reused once its promise resolves; the calls are queued, so the next may be made before the one
 * before it resolves), then `finish`; `close` frees the buffers at any point.
 */
export class Par2Stream {
  private readonly addon: ParityAddon;
  private handle: object | null;
  private fed = 0;
  readonly shape: SetShape;
  /** Bytes of buffers held. */
  readonly memory: number;

  constructor(shape: SetShape) {
    const addon = parityAddon();
    if (!addon) throw new Error('the native PAR2 creator is not built');
    this.addon = addon;
    this.shape = shape;
    this.handle = open(addon, shape);
    const [passes, memory] = addon.par2Info(this.handle);
    this.memory = memory;
    if (passes !== 1) {
      this.close();
      throw new RangeError(`a set of ${shape.recoverySlices} × ${shape.sliceSize}-byte recovery slices does not fit ${shape.memory} bytes`);
    }
  }

  /**
   * The handle, for a native copy to feed on its own thread (Fsx.copyFd) instead of update; the
   * copy then says what it fed (fedNatively). Nothing else may feed the stream meanwhile.
   */
  nativeHandle(): object {
    return this.live();
  }

  /** Bytes a native copy fed through nativeHandle. */
  fedNatively(bytes: number): void {
    this.fed += bytes;
  }

  async update(buf: Buffer): Promise<void> {
    const h = this.live();
    if (this.fed + buf.length > this.shape.size) throw new RangeError(`more than the ${this.shape.size} bytes announced were fed`);
    this.fed += buf.length;
    await call('cannot make parity', (done) => this.addon.par2Feed(h, buf, done));
  }

  /** Writes the two files (which must not exist); resolves to their size in bytes. */
  async finish(indexPath: string, recoveryPath: string): Promise<number> {
    const h = this.live();
    if (this.fed !== this.shape.size) throw new RangeError(`${this.fed} of the ${this.shape.size} bytes announced were fed`);
    try {
      return await call('cannot write parity', (done) => this.addon.par2Finish(h, indexPath, recoveryPath, done));
    } finally {
      this.close();
    }
  }

  close(): void {
    if (this.handle) this.addon.par2Close(this.handle);
    this.handle = null;
  }

  private live(): object {
    if (!this.handle) throw new Error('the parity stream is closed');
    return this.handle;
  }
}

/**
 * Makes the set for `dataPath` reading it once, or once per column band when its recovery slices
 * exceed `shape.memory`. Resolves to the two files' size; rejects with a NativeParityError (EIO
 * when the file's size is not shape.size, i.e. it changed).
 */
export async function createFromFile(dataPath: string, shape: SetShape, indexPath: string, recoveryPath: string, signal?: AbortSignal): Promise<number> {
  const addon = parityAddon();
  if (!addon) throw new Error('the native PAR2 creator is not built');
  const h = open(addon, shape);
  // Closing a busy handle makes the native loop stop at its next read (ECANCELED).
  const onAbort = (): void => addon.par2Close(h);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await call('cannot make parity', (done) => addon.par2FromFile(h, dataPath, indexPath, recoveryPath, done));
  } finally {
    signal?.removeEventListener('abort', onAbort);
    addon.par2Close(h);
  }
}

/**
 * A Par2Stream fed from a copy's read pass (CopyOptions.tap): each chunk is queued behind the ones
 * before it, for the creator's own thread, while the copy reads on into its other buffers, so the
 * copy never waits for the file's serial MD5 unless the stream falls a whole ring behind. Queued,
 * not handed over one at a time when the one before is done: that round trip through the busy JS
 * thread (hashing the copy) left the creator's thread idle between chunks, and the copy of a big
 * file then waited for it. A failed feed is kept, not thrown: the copy goes on, and `complete`
 * says the set must be made otherwise (createFromFile over the copy on the disk).
 */
export class Par2Feeder {
  /** Feeds not yet called back: each chunk's buffer is the creator's until its feed is. */
  private readonly feeding = new Set<Promise<void>>();
  private failure: { error: unknown } | null = null;
  private fed = 0;
  private closed = false;

  /** `onClose`: called once, when the creator is let go of (finished or closed). */
  constructor(
    private readonly stream: Par2Stream,
    private readonly onClose?: () => void,
  ) {}

  get shape(): SetShape {
    return this.stream.shape;
  }

  /** Bytes of buffers the creator holds. */
  get memory(): number {
    return this.stream.memory;
  }

  /** The copy's tap: resolves (never rejects) once the stream is done with `chunk`. */
  readonly take = (chunk: Buffer): Promise<void> => {
    if (this.failure) return Promise.resolve();
    let fed: Promise<void>;
    try {
      this.fed += chunk.length;
      fed = this.stream.update(chunk).catch((error: unknown) => {
        this.failure ??= { error };
      });
    } catch (error) {
      this.failure ??= { error };
      return Promise.resolve();
    }
    const held = fed.finally(() => this.feeding.delete(held));
    this.feeding.add(held);
    return held;
  };

  /**
   * The copy's tap where the copy runs in C (CopyOptions.nativeTap): the creator is fed on the
   * copy's own thread, with no round trip through the JS thread per buffer. Undefined once closed
   * or failed (the copy then has no set to feed).
   */
  get nativeTap(): NativeTap | undefined {
    if (this.failure || this.closed || this.fed !== 0) return undefined;
    const handle = this.stream.nativeHandle();
    return {
      handle,
      fed: (bytes, errno) => {
        this.fed += bytes;
        this.stream.fedNatively(bytes);
        if (errno !== 0) this.failure ??= { error: new NativeParityError(errno, 'cannot make parity') };
      },
    };
  }

  /**
   * Waits for the feeds under way; true when every byte of the set was fed without a failure (a
   * copy that stopped short, or a file whose size changed, was not).
   */
  async complete(): Promise<boolean> {
    await Promise.all(this.feeding);
    return this.failure === null && this.fed === this.stream.shape.size;
  }

  /** Once complete() is true: writes the two files (see Par2Stream.finish) and frees the creator. */
  async finish(indexPath: string, recoveryPath: string): Promise<number> {
    try {
      if (!(await this.complete())) throw new Error('the parity stream was not fed the whole file');
      return await this.stream.finish(indexPath, recoveryPath);
    } finally {
      this.close();
    }
  }

  /** Frees the creator once the feed under way has ended; a later finish rejects. */
  close(): void {
    this.failure ??= { error: new Error('the parity stream was closed') };
    if (this.closed) return;
    this.closed = true;
    // The native side frees the creator once the feeds queued for it have called back.
    this.stream.close();
    this.onClose?.();
  }
}
