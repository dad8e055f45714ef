/** Helpers for the parity tests: throwaway disks and damage. Not part of the library. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tempDir as helperTempDir } from './helpers.js';

/** A fresh directory under the system temp dir, removed when the process exits. */
export function tempDir(prefix = 'blaine-parity-'): string {
  return helperTempDir(prefix);
}

export function removeTemp(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Writes `size` random bytes at `<root>/<rel>` (directories made); returns their SHA-256. */
export function writeRandom(root: string, rel: string, size: number): string {
  const p = path.join(root, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  const data = crypto.randomBytes(size);
  fs.writeFileSync(p, data);
  return sha256(data);
}

export function sha256(data: Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

export function sha256File(p: string): string {
  return sha256(fs.readFileSync(p));
}

/** Inverts `n` bytes at `offset` in place. */
export function flipBytes(p: string, offset: number, n = 4): void {
  const fd = fs.openSync(p, 'r+');
  try {
    const b = Buffer.alloc(n);
    fs.readSync(fd, b, 0, n, offset);
    for (let i = 0; i < n; i++) b[i] = b[i]! ^ 0xff;
    fs.writeSync(fd, b, 0, n, offset);
  } finally {
    fs.closeSync(fd);
  }
}

/** Overwrites `n` bytes at `offset` with random bytes. */
export function overwrite(p: string, offset: number, n: number): void {
  const fd = fs.openSync(p, 'r+');
  try {
    fs.writeSync(fd, crypto.randomBytes(n), 0, n, offset);
  } finally {
    fs.closeSync(fd);
  }
}

/** Every path below `dir`, relative, sorted ('' for a missing dir). */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, pre: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const rel = pre ? `${pre}/${e.name}` : e.name;
      out.push(e.isDirectory() ? `${rel}/` : rel);
      if (e.isDirectory()) walk(path.join(d, e.name), rel);
    }
  };
  walk(dir, '');
  return out.sort();
}

// GF(2^16) as the PAR2 2.0 specification defines it (polynomial 0x1100B, generator 2), written
// independently of native/gf16.c so the tests can hold the addon against it.
const EXP = new Uint16Array(65535 * 2);
const LOG = new Uint16Array(65536);
{
  let x = 1;
  for (let i = 0; i < 65535; i++) {
    EXP[i] = EXP[i + 65535] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x10000) x ^= 0x1100b;
  }
}

/** 2^e, e in 0..65534. */
export function gfExp(e: number): number {
  return EXP[e]!;
}

export function gfMul(a: number, b: number): number {
  return a === 0 || b === 0 ? 0 : EXP[LOG[a]! + LOG[b]!]!;
}

/**
 * A par2 wrapper that logs "PID ARGS" to `log` when it starts (sleepBefore: then sleeps that many
 * seconds); with holdAfter it logs its PID to `made` once par2 has made the set and then holds the
 * job there (the set written into its scratch directory, not installed), so a test can abort a job
 * known to be running.
 */
export function par2Wrapper(dir: string, opts: { sleepBefore?: number; holdAfter?: boolean } = {}): { command: string[]; log: string; made: string } {
  const log = path.join(dir, 'calls.log');
  const made = path.join(dir, 'made.log');
  const script = path.join(dir, 'par2-wrapper.sh');
  const lines = ['#!/bin/sh', `echo "$$ $*" >> '${log}'`];
  if (opts.sleepBefore) lines.push(`sleep ${opts.sleepBefore}`);
  if (opts.holdAfter) lines.push('par2 "$@" || exit $?', `echo "$$" >> '${made}'`, 'exec sleep 600');
  else lines.push('par2 "$@"');
  fs.writeFileSync(script, `${lines.join('\n')}\n`, { mode: 0o755 });
  return { command: [script], log, made };
}

/** The lines of a wrapper's log so far. */
export function calls(log: string): string[] {
  return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : [];
}

/** Resolves once `log` has `n` lines: waits on its directory changing, not on a timer. */
export function untilCalls(log: string, n: number): Promise<void> {
  return new Promise((resolve) => {
    const watcher = fs.watch(path.dirname(log), () => {
      if (calls(log).length < n) return;
      watcher.close();
      resolve();
    });
    if (calls(log).length >= n) {
      watcher.close();
      resolve();
    }
  });
}
