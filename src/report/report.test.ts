import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import test from 'node:test';
import { blaine, isRoot, mountTmpfs, repoRoot, scratchDir, tempDir, unmount, write, expectOk } from '../../test/helpers.js';
import { Catalog } from '../catalog/catalog.js';
import { recordVisit } from '../health/history.js';
import { DAY_MS } from './growth.js';
import { renderShelfHtml } from './html.js';
import { nextSteps } from './next.js';
import { readShelf } from './shelf.js';

/** Debian's chromium, or null when it is not installed. */
function chromiumPath(): string | null {
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (fs.existsSync(p)) return p;
  return null;
}

/** Flags that let headless Chromium run as root in a container, offline, with nothing left behind. */
function headless(base: string, profile: string): string[] {
  return [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    `--user-data-dir=${path.join(base, profile)}`, '--enable-logging=stderr', '--v=0',
  ];
}


test('report --html: a self-contained page that Chromium renders without console errors, showing every volume and copy', (t) => {
  const chromium = chromiumPath();
  if (!chromium) {
    t.skip('chromium is not installed (Debian: apt-get install chromium; scripts/setup.sh installs it)');
    return;
  }
  const base = tempDir('blaine-report-');
  const mounted: string[] = [];
  t.after(() => {
    for (const d of mounted) unmount(d);
    fs.rmSync(base, { recursive: true, force: true });
  });
  const lib = path.join(base, 'lib');
  const db = path.join(base, 'host', 'catalog.sqlite');
  const disks = { a: path.join(base, 'a'), b: path.join(base, 'b'), b2: path.join(base, 'b2'), c: path.join(base, 'c'), d: path.join(base, 'd') };
  // Real small disks as root, so the bars show real sizes; plain folders otherwise (one file system).
  for (const d of Object.values(disks)) {
    if (isRoot) {
      assert.ok(mountTmpfs(d, '20m'), `mount ${d}`);
      mounted.push(d);
    } else fs.mkdirSync(d, { recursive: true });
  }
  for (let i = 0; i < 30; i++) write(path.join(lib, 'photos', `p${i}.jpg`), Buffer.alloc(20_000 + i * 997, i));
  const common = ['--db', db, '--parity', '5', '--reserve', '0'];
  expectOk(blaine(['backup', ...common, '--init', '--label', 'A', '--dest', disks.a, lib]), 'backup A');
  for (let i = 30; i < 40; i++) write(path.join(lib, 'music', `m${i}.flac`), Buffer.alloc(50_000 + i, i));
  expectOk(blaine(['backup', ...common, '--init', '--label', 'B', '--dest', disks.b, lib]), 'backup B');
  expectOk(blaine(['clone', '--db', db, '--dest', disks.b, '--to', disks.b2, '--label', "B'"]), 'clone');
  write(path.join(lib, 'music', 'new.flac'), 'new');
  expectOk(blaine(['backup', ...common, '--dest', disks.b2, lib]), "backup B'");
  fs.renameSync(path.join(lib, 'photos', 'p0.jpg'), path.join(lib, 'photos', 'p0-renamed.jpg'));
  expectOk(blaine(['backup', ...common, '--dest', disks.b2, lib]), "backup B' again");
  expectOk(blaine(['verify', '--db', db, '--dest', disks.a, '--checksum']), 'verify A');
  // A label that must be escaped: the page must show it, not be broken by it.
  const oddLabel = 'C <&> "odd"';
  for (let i = 0; i < 3; i++) write(path.join(lib, 'video', `v${i}.mkv`), Buffer.alloc(30_000, 7 + i));
  expectOk(blaine(['backup', ...common, '--init', '--label', oddLabel, '--dest', disks.c, lib]), 'backup C');
  // A new disk that holds nothing yet (its data path is empty): nothing to scrub on it.
  const emptyLib = path.join(base, 'empty-lib');
  fs.mkdirSync(emptyLib);
  expectOk(blaine(['backup', ...common, '--init', '--label', 'D', '--dest', disks.d, emptyLib]), 'backup D');
  // B' has been read twice by smartctl; its reallocated sectors grew between the visits.
  const volumes = JSON.parse(blaine(['disks', '--db', db, '--json']).stdout) as Array<{ label: string; copies: Array<{ copy: string; label: string }> }>;
  const b2Copy = volumes.flatMap((v) => v.copies).find((c) => c.label === "B'")!.copy;
  const host = Catalog.open(db);
  const reading = (reallocated: number) => ({ device: '/dev/sdc', model: 'WDC WD80EFAX', serial: 'VAGZ1234', powerOnHours: 23456, reallocated, pending: 0, uncorrectable: 0, temperature: 35, passed: true });
  recordVisit(host, b2Copy, reading(8), Date.now() - 9 * DAY_MS);
  recordVisit(host, b2Copy, reading(24), Date.now() - 60_000);
  host.close();

  const page = path.join(base, 'shelf.html');
  const r = blaine(['report', '--db', db, '--html', page]);
  expectOk(r, 'report');
  const html = fs.readFileSync(page, 'utf8');
  assert.doesNotMatch(html, /\b(?:src|href)\s*=|<link|<script|url\(|@import/i, 'the page refers to nothing outside itself');

  const shelf = JSON.parse(blaine(['disks', '--db', db, '--json']).stdout) as Array<{
    volume: string; label: string; pending: number; copies: Array<{ copy: string; label: string }>;
  }>;
  assert.equal(shelf.length, 4);

  const dom = spawnSync(chromium, [...headless(base, 'dom'), '--dump-dom', `file://${page}`], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(dom.status, 0, dom.stderr);
  const consoleLines = dom.stderr.split('\n').filter((l) => /CONSOLE|Uncaught|Refused to|Failed to load/.test(l));
  assert.deepEqual(consoleLines, [], 'no console messages or failed loads');

  // Every volume and every copy has its section and its bar, with the label as text.
  const sections = [...dom.stdout.matchAll(/<section class="volume" data-volume="([^"]+)">([\s\S]*?)<\/section>/g)];
  assert.deepEqual(sections.map((m) => m[1]).sort(), shelf.map((v) => v.volume).sort());
  const text = (s: string) => s.replace(/<[^>]*>/g, ' ').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&');
  for (const v of shelf) {
    const body = sections.find((m) => m[1] === v.volume)![2]!;
    assert.ok(text(body).includes(v.label), `volume ${v.label} is named`);
    const copies = [...body.matchAll(/<div class="copy" data-copy="([^"]+)">([\s\S]*?)<\/svg>/g)];
    assert.deepEqual(copies.map((m) => m[1]).sort(), v.copies.map((c) => c.copy).sort(), `copies of ${v.label}`);
    for (const c of copies) assert.match(c[2]!, /<svg class="bar"[\s\S]*<rect/, 'each copy has its space bar');
    assert.equal(/pending action/.test(text(body)) && !/no pending actions/.test(text(body)), v.pending > 0, `pending of ${v.label}`);
  }
  const byLabel = (l: string) => text(sections.find((m) => m[1] === shelf.find((v) => v.label === l)!.volume)![2]!);
  // B missed what was done on B' since the clone, and says so in a box of its own; B' does not.
  assert.match(byLabel('B'), /B\s+[0-9a-f]{8}[^]*Behind its twin[^]*2 run\(s\)[^]*B'\s+[0-9a-f]{8}/);
  assert.equal((byLabel('B').match(/Behind its twin/g) ?? []).length, 1);
  // A was scrubbed; no disk was made more than 30 days ago, so none is due; D holds nothing.
  assert.match(byLabel('A'), /scrubbed \d{4}-\d\d-\d\d \d\d:\d\d \(just now\)/);
  assert.doesNotMatch(text(dom.stdout), /due for a scrub/);
  assert.match(byLabel('D'), /nothing to scrub yet/);
  assert.match(byLabel('D'), /no files to read yet/);
  assert.doesNotMatch(text(dom.stdout), /–/);
  // Every bar, the twin's included, in words with its total; the overhead named as such.
  for (const v of shelf) {
    const legends = [...sections.find((m) => m[1] === v.volume)![2]!.matchAll(/<div class="legend-line">([\s\S]*?)<\/div>/g)].map((m) => text(m[1]!));
    assert.equal(legends.length, v.copies.length);
    for (const l of legends) assert.match(l.trim(), /^files\s+[\d.]+ [KMGT]?B\s+\+\s+overhead\s+[\d.]+ [KMGT]?B\s+\(parity, catalogs, file system: \d+% of the disk\)\s+\+\s+free\s+[\d.]+ [KMGT]?B\s+= [\d.]+ [KMGT]?B disk/, l);
  }
  // What each disk holds: its folders with file counts and bytes.
  assert.match(byLabel('A'), /What it holds, below\s+[^]*photos\/\s+30\s+[\d.]+ [KM]B/);
  assert.match(byLabel('B'), /music\/\s+1[01]\s+/);
  // Local times, never a raw UTC ISO string.
  assert.doesNotMatch(text(dom.stdout), /\d{4}-\d\d-\d\dT\d\d:\d\d/);
  // The box at the top: B' first (its health), then B (behind); the scrub rule is stated.
  const next = text(/<section class="next">([\s\S]*?)<\/section>/.exec(dom.stdout)?.[1] ?? '');
  assert.match(next, /^\s*What to do next\s+urgent\s+B'\s*: copy what it holds elsewhere and replace it\s+\(disk "B'" \(\/dev\/sdc, serial VAGZ1234\) is wearing out: reallocated sectors 8 → 24/);
  assert.match(next, /soon\s+B\s*: plug it in to catch it up with its twin\s+\(2 run\(s\) behind/);
  assert.match(text(dom.stdout), /The scrub rule: a disk that holds files is due when\s+blaine verify --checksum\s+has not read it for 30 days/);
  assert.match(byLabel('B'), /reallocated sectors 24 \(\+16\)/);
  // The growth chart has a point per backup (six); a clone adds nothing to the archive.
  const chart = /<svg class="growth"[\s\S]*?<\/svg>/.exec(dom.stdout)?.[0] ?? '';
  assert.equal((chart.match(/<circle/g) ?? []).length, 6);

  const artifacts = path.join(repoRoot, 'test-artifacts');
  fs.mkdirSync(artifacts, { recursive: true });
  const shot = path.join(artifacts, 'report.png');
  fs.rmSync(shot, { force: true });
  fs.copyFileSync(page, path.join(artifacts, 'report.html'));
  const s = spawnSync(chromium, [...headless(base, 'shot'), `--screenshot=${shot}`, '--window-size=900,1500', `file://${page}`], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(s.status, 0, s.stderr);
  assert.deepEqual([...fs.readFileSync(shot).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG screenshot');
});

test('the scrub rule: a month on, every disk that holds files is due and says since when; an empty one is not', (t) => {
  const base = scratchDir(t, 'blaine-report-');
  const lib = path.join(base, 'lib');
  const db = path.join(base, 'catalog.sqlite');
  write(path.join(lib, 'photos', '2019', 'a.jpg'), 'a picture');
  fs.mkdirSync(path.join(base, 'empty'));
  for (const [label, data] of [['A', lib], ['E', path.join(base, 'empty')]] as const) {
    fs.mkdirSync(path.join(base, label));
    expectOk(blaine(['backup', '--db', db, '--no-parity', '--reserve', '0', '--init', '--label', label, '--dest', path.join(base, label), data]), label);
  }
  expectOk(blaine(['verify', '--db', db, '--dest', path.join(base, 'A'), '--checksum']), 'scrub A');
  const host = Catalog.open(db, { readonly: true });
  try {
    const now = Date.now();
    assert.deepEqual(nextSteps(readShelf(host, now, 30)), []);
    assert.match(renderShelfHtml(readShelf(host, now, 30)), /Nothing to do: every disk is up to date, scrubbed on time and healthy/);
    const later = readShelf(host, now + 31 * DAY_MS, 30);
    const steps = nextSteps(later);
    assert.deepEqual(steps.map((s) => [s.level, s.disk, s.action]), [['when-convenient', 'A', 'bring it back for a scrub (verify --checksum)']]);
    assert.match(steps[0]!.why, /^last read in full \d{4}-\d\d-\d\d \d\d:\d\d \(1 month ago\); the rule: every 30 days$/);
    assert.equal(later.volumes.find((v) => v.label === 'E')!.copies[0]!.scrubDue, false);
  } finally {
    host.close();
  }
});

test('report: --html is required, and a host catalog must exist', (t) => {
  const base = scratchDir(t, 'blaine-report-');
  const db = path.join(base, 'catalog.sqlite');
  const noHtml = blaine(['report', '--db', db]);
  assert.equal(noHtml.status, 2);
  assert.match(noHtml.stderr, /--html FILE is required/);
  const noDb = blaine(['report', '--db', db, '--html', path.join(base, 'x.html')]);
  assert.equal(noDb.status, 1);
  assert.match(noDb.stderr, /no host catalog/);
  assert.equal(fs.existsSync(path.join(base, 'x.html')), false);
});
