/**
 * What a no-change backup costs beyond its scan. The quick check's digests (native/scan.c hashes
 * each chunk's text, native/quickdigest.c the catalog's text of the same rows): against a real
 * catalog and a real scan, a chunk is settled by its digest only when its text would have been
 * equal, whatever changed (an inode alone, a nanosecond, a mode, a name that is not UTF-8, a row
 * marked to be read again), and a no-change run no longer asks the catalog for any text. The
 * folder rows are read once per catalog.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { scratchDir, writeUnder } from '../../test/helpers.js';
import { Catalog } from '../catalog/catalog.js';
import { tallyStatements } from '../catalog/testing.js';
import { nativeAddon } from '../fsx/addon.js';
import { bytesToName } from '../fsx/name-bytes.js';
import { realFs, type Fsx } from '../fsx/fsx.js';
import { Progress } from '../progress/progress.js';
import { scanRootPacked } from '../scan/scanner.js';
import { QuickCheck, recordsOf, type StoredRows } from './quickcheck.js';
import { runBackup } from './run.js';

const addon = nativeAddon();
const needsAddon = { skip: addon === null && 'the addon is not built (the digests are its own)' };
const CHUNK = 4;

async function backup(lib: string, disk: string, host: string, init: boolean, layer: Fsx = realFs): Promise<{ unchanged: number; added: number }> {
  const outcome = await runBackup(
    {
      disk: { dest: disk, db: host, init, label: 'DIGEST', encrypt: false, key: undefined },
      scan: { roots: [lib], filter: undefined, threads: 2, chunkSize: CHUNK },
      plan: { matchMode: 'inode', clean: false, maxDeletePct: 100, force: false },
      parity: { pct: 0, slices: 256, memory: undefined, jobs: 1, command: undefined },
      reserve: 0,
      dryRun: false,
      started: Date.now(),
      signal: new AbortController().signal,
      fs: layer,
    },
    { event: () => {}, progress: new Progress() },
  );
  assert.equal(outcome.stopped, null);
  return { unchanged: outcome.summary!.unchanged, added: outcome.summary!.added };
}

/** A library of `files` files, `perFolder` to a folder, and where its backup goes. */
async function archived(t: { after: (fn: () => void) => void }, files: number, perFolder = 10) {
  const dir = scratchDir(t, 'blaine-quickdigest-');
  const lib = path.join(dir, 'lib');
  const disk = path.join(dir, 'disk');
  const host = path.join(dir, 'host.sqlite');
  for (let i = 0; i < files; i++) writeUnder(lib, `d${Math.floor(i / perFolder)}/f${String(i).padStart(3, '0')}`, `content ${i}\n`);
  fs.mkdirSync(disk);
  return { lib, disk, host, catalog: path.join(disk, '.blaine', 'catalog.sqlite') };
}

test('a no-change backup settles every chunk by its digest and reads no catalog text', needsAddon, async (t) => {
  const { lib, disk, host } = await archived(t, 59);
  // A name that is not UTF-8: both digests are of its bytes.
  fs.writeFileSync(Buffer.concat([Buffer.from(`${lib}/d2/`), Buffer.from([0xe9, 0x74, 0xe9])]), 'latin-1\n');
  assert.equal((await backup(lib, disk, host, true)).added, 60);
  const tally = tallyStatements();
  let again: { unchanged: number };
  try {
    again = await backup(lib, disk, host, false);
  } finally {
    tally.stop();
  }
  assert.equal(again.unchanged, 60);
  const ran = (re: RegExp) => [...tally.counts()].filter(([sql]) => re.test(sql)).reduce((n, [, c]) => n + c, 0);
  // The text of the rows (SQL format() and group_concat, then a JS string) was built for every chunk.
  assert.equal(ran(/group_concat/), 0, 'no chunk needed the catalog text');
  assert.ok(ran(/blaine_quick_digest/) >= 60 / CHUNK, `${ran(/blaine_quick_digest/)} digests for ${60 / CHUNK} chunks or more`);
});

test('the digest catches every change the text catches: inode, nanosecond, mode, a name not UTF-8, a row to read again', needsAddon, async (t) => {
  const { lib, disk, host, catalog } = await archived(t, 40);
  // Two names that are not UTF-8: one stays as it is, one changes its mode.
  const raw = (name: number[]) => Buffer.concat([Buffer.from(`${lib}/d1/`), Buffer.from(name)]);
  fs.writeFileSync(raw([0xff, 0x61]), 'latin-1 a\n');
  fs.writeFileSync(raw([0xfe, 0x62]), 'latin-1 b\n');
  assert.equal((await backup(lib, disk, host, true)).added, 42);

  const at = (rel: string) => path.join(lib, rel);
  const sameTimes = (p: string | Buffer, st: fs.BigIntStats) => {
    const sec = Number(st.mtimeNs / 1_000_000_000n);
    assert.equal(addon!.setMtime(typeof p === 'string' ? p : bytesToName(p), sec, Number(st.mtimeNs % 1_000_000_000n), false), 0);
  };
  // The same bytes, size, mode and mtime under a new inode.
  const moved = at('d0/f003');
  const before = fs.statSync(moved, { bigint: true });
  fs.writeFileSync(`${moved}.new`, fs.readFileSync(moved));
  fs.chmodSync(`${moved}.new`, Number(before.mode) & 0o7777);
  sameTimes(`${moved}.new`, before);
  fs.renameSync(`${moved}.new`, moved);
  assert.notEqual(fs.statSync(moved, { bigint: true }).ino, before.ino);
  // One nanosecond later, same size.
  const later = fs.statSync(at('d2/f021'), { bigint: true });
  assert.equal(addon!.setMtime(at('d2/f021'), Number(later.mtimeNs / 1_000_000_000n), Number((later.mtimeNs + 1n) % 1_000_000_000n), false), 0);
  // The mode alone.
  const narrowed = fs.statSync(at('d3/f035'), { bigint: true });
  fs.chmodSync(at('d3/f035'), 0o600);
  sameTimes(at('d3/f035'), narrowed);
  const other = fs.statSync(raw([0xfe, 0x62]), { bigint: true });
  fs.chmodSync(raw([0xfe, 0x62]), 0o600);
  sameTimes(raw([0xfe, 0x62]), other);
  // Gone, and new.
  fs.rmSync(at('d2/f025'));
  writeUnder(lib, 'd2/f025b', 'new\n');
  // A row the catalog marks to be read again (its content was found to differ from its SHA-1 twin).
  const cat = Catalog.open(catalog);
  const volume = cat.volumes()[0]!.uuid;
  const recheck = cat.get(volume, at('d0/f007'))!;
  cat.setContentHash(volume, recheck.path, recheck.sha256!, true);

  // The same scan compared twice: by digest first, and by the text alone (the reference).
  const compare = (withDigest: boolean) => {
    const asked = { text: 0, digest: 0 };
    const stored: StoredRows = {
      text: (lo, hi) => (asked.text++, cat.quickText(volume, lo, hi)),
      ...(withDigest ? { digest: (lo: string, hi: string) => (asked.digest++, cat.quickDigest(volume, lo, hi)) } : {}),
    };
    const q = new QuickCheck(stored);
    const scan = scanRootPacked(lib, { chunkSize: CHUNK, onChunk: (chunk) => q.add(lib, chunk) });
    const result = q.resultInParts([{ ...scan, chunks: [] }]);
    const changed = result.scans.flatMap((s) => s.parts.flatMap((p) => [...recordsOf(p)].map((r) => r.path)));
    return { asked, changed: changed.sort(), keep: [...result.keep].sort(), unchanged: result.unchanged };
  };
  const byDigest = compare(true);
  const byText = compare(false);
  // Chunk by chunk: the digests agree exactly where the texts do.
  const agree: [boolean, boolean][] = scanRootPacked(lib, { chunkSize: CHUNK }).chunks.map((c) => {
    const stored = cat.quickDigest(volume, c.lo, c.hi);
    return [stored !== null && Buffer.from(stored).equals(Buffer.from(c.digest!)), cat.quickText(volume, c.lo, c.hi) === c.text];
  });
  cat.close();
  assert.deepEqual(agree.map(([d]) => d), agree.map(([, t]) => t));
  assert.ok(agree.some(([d]) => d) && agree.some(([d]) => !d));
  const expected = [at('d0/f003'), at('d0/f007'), bytesToName(raw([0xfe, 0x62])), at('d2/f021'), at('d2/f025b'), at('d3/f035')].sort();
  assert.deepEqual(byDigest.changed, expected);
  assert.deepEqual(byDigest.keep, [...expected.filter((p) => !p.endsWith('f025b')), at('d2/f025')].sort());
  assert.deepEqual({ changed: byDigest.changed, keep: byDigest.keep, unchanged: byDigest.unchanged }, { changed: byText.changed, keep: byText.keep, unchanged: byText.unchanged });
  assert.ok(byDigest.asked.digest > 0);
  assert.ok(byDigest.changed.every((p) => p !== bytesToName(raw([0xff, 0x61]))));
});

test('a no-change backup reads the folder rows once per catalog and looks at each folder on the disk once', async (t) => {
  // Both plans of the folders (before and after the files) and the folder writer's finish each
  // read every folder row of both catalogs: six reads a run, a tenth of its main thread after the
  // scan; and the folder writer looked at every folder on the disk before and after the files.
  const { lib, disk, host } = await archived(t, 160, 2);
  await backup(lib, disk, host, true);
  let looks = 0;
  const counting: Fsx = {
    ...realFs,
    lstatSync: ((p: string, o?: unknown) => {
      if (typeof p === 'string' && p.startsWith(disk + '/') && /\/d\d+$/.test(p)) looks++;
      return (realFs.lstatSync as (p: string, o?: unknown) => unknown)(p, o);
    }) as never,
  };
  const tally = tallyStatements();
  try {
    assert.equal((await backup(lib, disk, host, false, counting)).unchanged, 160);
  } finally {
    tally.stop();
  }
  const folderReads = [...tally.counts()].filter(([sql]) => /kind = 2 ORDER BY e\.path/.test(sql)).reduce((n, [, c]) => n + c, 0);
  assert.equal(folderReads, 2, 'one read of the folder rows per catalog');
  assert.equal(looks, 80, `${looks} looks at 80 folders`);
});
