import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { Catalog } from '../catalog/catalog.js';
import type { CatalogEntry } from '../catalog/entry.js';
import { requireDiskCatalog } from '../archive/damage.js';
import { diskCatalogPath } from '../archive/layout.js';
import { openDiskView } from '../archive/session.js';
import { readVolume } from '../archive/volume.js';
import { action, addCommonOptions, dbPath, keyProvider, repeatableOption, type CommonOptions, fileSystem } from './common.js';
import { EXIT, UsageError, UserError } from './exit.js';
import { nameBytesFields, writeText, type Output } from './output.js';
import { formatBytes } from '../fsx/space.js';
import { byPath } from '../fsx/paths.js';
import { labelsOf, resolveVolume } from './volumes.js';

interface ListOptions extends CommonOptions {
  disk?: string[];
  local?: boolean;
  sort: string;
  reverse?: boolean;
  one?: boolean;
}

const SORTS = ['path', 'size', 'mtime', 'disk'] as const;

export function registerList(program: Command): void {
  const cmd = program
    .command('list')
    .summary('list archived files')
    .description(
      'List archived files from the host catalog; with only --dest (no --db), or with --local, from the ' +
        "disk's own catalog. GLOB matches the absolute path; * matches / too.",
    )
    .argument('[glob...]', 'patterns for the stored absolute path')
    .addOption(repeatableOption('--disk <vol>', 'only files on this volume: label, UUID or UUID prefix'))
    .option('--local', "with --dest: read the disk's own catalog")
    .option('--sort <key>', `sort by ${SORTS.join(', ')}`, 'path')
    .option('--reverse', 'reverse the order')
    .option('-1, --one', 'paths only, one per line');
  addCommonOptions(cmd);
  cmd.action(action<ListOptions>(list));
}

function openSource(opts: ListOptions): { cat: Catalog; volumes: string[] } {
  if (opts.dest && (opts.local || opts.db === undefined)) {
    // An encrypted disk is mounted read-only just long enough to copy its catalog.
    const view = openDiskView(opts.dest, { key: keyProvider(opts), readonly: true, fs: fileSystem() });
    try {
      const file = diskCatalogPath(view.root);
      requireDiskCatalog(view.root, view.dest, view.info, undefined, fileSystem());
      if (!fs.existsSync(file)) throw new UserError(`${view.dest} has no disk catalog yet; run a backup onto it first`);
      return { cat: Catalog.openCopy(file), volumes: [view.info.volume] };
    } finally {
      view.close();
    }
  }
  const db = dbPath(opts);
  if (!fs.existsSync(db)) {
    throw new UserError(
      `no host catalog at ${db}; run a backup first, give --db, list a disk's own catalog with --dest DISK --local, or, if it was lost, run \`blaine rebuild-catalog --dest DISK\``,
    );
  }
  const cat = Catalog.open(db, { readonly: true });
  if (opts.dest) return { cat, volumes: [readVolume(path.resolve(opts.dest), fileSystem()).volume] };
  return { cat, volumes: [] };
}

function list(opts: ListOptions, globs: string[], out: Output): number {
  const sort = opts.sort as (typeof SORTS)[number];
  if (!SORTS.includes(sort)) throw new UsageError(`--sort must be one of ${SORTS.join(', ')}`);
  const { cat, volumes } = openSource(opts);
  try {
    const wanted = [...volumes, ...(opts.disk ?? []).map((d) => resolveVolume(cat, d).uuid)];
    const labels = labelsOf(cat);
    const rows = cat.matching(globs, wanted);
    const cmp: Record<typeof sort, (a: CatalogEntry, b: CatalogEntry) => number> = {
      path: byPath,
      size: (a, b) => a.size - b.size || cmp.path(a, b),
      mtime: (a, b) => a.mtimeSec - b.mtimeSec || a.mtimeNsec - b.mtimeNsec || cmp.path(a, b),
      disk: (a, b) => (labels.get(a.volume) ?? '').localeCompare(labels.get(b.volume) ?? '') || cmp.path(a, b),
    };
    rows.sort(cmp[sort]);
    if (opts.reverse) rows.reverse();
    if (opts.json) {
      out.result(
        rows.map((e) => ({
          path: e.path,
          size: e.size,
          mtime: e.mtimeSec + e.mtimeNsec / 1e9,
          sha256: e.sha256,
          // a row migrated from an older catalog whose content was not read since (SPEC §4)
          ...(e.sha256 === null && e.legacySha1 ? { sha1: e.legacySha1 } : {}),
          volume: e.volume,
          label: labels.get(e.volume) ?? null,
          ...nameBytesFields({ path: e.path }),
        })),
      );
      return EXIT.ok;
    }
    for (const e of rows) {
      if (opts.one) {
        writeText(process.stdout, e.path + '\n');
        continue;
      }
      const when = new Date(e.mtimeSec * 1000).toISOString().replace('T', ' ').slice(0, 19);
      const size = e.kind === 'symlink' ? `-> ${e.linkTarget}` : formatBytes(e.size);
      writeText(process.stdout, `${when}  ${size.padStart(9)}  ${(labels.get(e.volume) ?? e.volume.slice(0, 8)).padEnd(12)}  ${e.path}\n`);
    }
    return EXIT.ok;
  } finally {
    cat.close();
  }
}
