import fs from 'node:fs';
import type { Command } from 'commander';
import { Catalog } from '../catalog/catalog.js';
import { acquireLock } from '../archive/lock.js';
import { describeForget, findTarget, forget, type ForgetReport } from '../forget/forget.js';
import { formatBytes } from '../fsx/space.js';
import { action, addCommonOptions, dbPath, type CommonOptions } from './common.js';
import { EXIT, UserError } from './exit.js';
import type { Output } from './output.js';
import { resolveVolume } from './volumes.js';

interface ForgetOptions extends CommonOptions {
  copy?: string;
  dryRun?: boolean;
}

/** Paths listed in the summary; -v and --json list them all. */
const SHOWN = 20;

export function registerForgetDisk(program: Command): void {
  const cmd = program
    .command('forget-disk')
    .summary('drop a lost disk from the host catalog')
    .description(
      'Drop a lost volume (all its copies) from the host catalog, with its deferred actions, and list the ' +
        'files no other volume holds: they are no longer archived, and the next backup that sees them in a ' +
        'data path archives them again. With --copy (or when VOL is a copy\'s label), only that copy of a ' +
        'mirrored volume is forgotten and the volume stays archived on its other copy.',
    )
    .argument('<vol>', "volume label, UUID or UUID prefix; or a mirror copy's label")
    .option('--copy <copy>', 'forget only this copy of the volume (its label or UUID)')
    .option('--dry-run', 'say what would be forgotten and change nothing');
  addCommonOptions(cmd, { dest: 'none' });
  cmd.action(action<ForgetOptions>(forgetDisk));
}

function forgetDisk(opts: ForgetOptions, args: string[], out: Output): number {
  const db = dbPath(opts);
  if (!fs.existsSync(db)) throw new UserError(`no host catalog at ${db}; nothing to forget (give --db?)`);
  const release = opts.dryRun ? () => {} : acquireLock(`${db}.lock`, `the host catalog ${db}`);
  try {
    const host = opts.dryRun ? Catalog.openCopy(db) : Catalog.open(db);
    try {
      const target = findTarget(host, args[0]!, opts.copy, (n) => resolveVolume(host, n));
      const r = opts.dryRun ? describeForget(host, target) : forget(host, target);
      report(r, opts, out);
      return EXIT.ok;
    } finally {
      host.close();
    }
  } finally {
    release();
  }
}

function report(r: ForgetReport, opts: ForgetOptions, out: Output): void {
  if (opts.json) {
    out.result({
      volume: r.volume,
      label: r.label,
      copy: r.copy,
      dryRun: !!opts.dryRun,
      files: r.files,
      bytes: r.bytes,
      pending: r.pending,
      notArchived: r.notArchived.map((e) => ({
        path: e.path, kind: e.kind, size: e.size, sha256: e.sha256, ...(e.sha256 === null && e.legacySha1 ? { sha1: e.legacySha1 } : {}),
      })),
      remaining: r.remaining,
    });
    return;
  }
  const verb = opts.dryRun ? 'would forget' : 'forgot';
  if (r.copy) {
    const on = r.remaining.map((c) => `"${c.label}"`).join(', ');
    out.summary(`${verb} copy "${r.copy.label}" of volume "${r.label}"; the volume stays archived on ${on}`);
    for (const c of r.remaining.filter((x) => x.behind)) {
      out.summary(`"${c.label}" is behind: what only "${r.copy.label}" held is archived onto it again from the data paths by the next backup onto it`);
    }
    return;
  }
  out.summary(
    `${verb} volume "${r.label}": ${r.files.toLocaleString('en')} file(s), ${formatBytes(r.bytes)}, ${r.pending} deferred action(s)`,
  );
  if (r.notArchived.length === 0) {
    out.summary('every file it held is archived on another volume');
    return;
  }
  out.summary(`${r.notArchived.length.toLocaleString('en')} file(s) it held are on no other volume; the next backup that sees them in a data path archives them again:`);
  r.notArchived.forEach((e, i) => (i < SHOWN ? out.summary(`  ${e.path}`) : out.detail(`  ${e.path}`)));
  if (r.notArchived.length > SHOWN) out.summary(`  … and ${r.notArchived.length - SHOWN} more (-v or --json lists them all)`);
}
