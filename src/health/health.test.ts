/**
 * Disk health on every visit. smartctl's JSON below is written from smartmontools' documented
 * format (smartctl -j, JSON format version 1): an ATA disk in good health, the same disk with more
 * reallocated sectors at its next visit, an NVMe disk, and a USB bridge smartctl cannot pass
 * commands through. A fake smartctl on PATH gives them to real runs on a real loop-mounted disk;
 * the real smartctl then meets a loop device, which has no SMART.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import test from 'node:test';
import Database from 'better-sqlite3';
import { blaine, isRoot, tempDir, write } from '../../test/helpers.js';
import { findSmartctl, parseSmart } from './smart.js';
import { realFs } from '../fsx/fsx.js';
import { describeHealth, grownCounters, healthWarnings, type HealthNow } from './history.js';

function ata(o: { reallocated: number; pending?: number; hours: number; temp: number; passed?: boolean }): string {
  const attr = (id: number, name: string, raw: number) => ({ id, name, value: 100, worst: 100, thresh: 10, when_failed: '', flags: { value: 51, string: 'PO--CK ' }, raw: { value: raw, string: String(raw) } });
  return JSON.stringify({
    json_format_version: [1, 0],
    smartctl: { version: [7, 3], argv: ['smartctl', '-j', '-a', '/dev/sdb'], exit_status: 0 },
    device: { name: '/dev/sdb', info_name: '/dev/sdb [SAT]', type: 'sat', protocol: 'ATA' },
    model_family: 'Western Digital Red',
    model_name: 'WDC WD80EFAX-68KNBN0',
    serial_number: 'VAGZ1234',
    smart_support: { available: true, enabled: true },
    smart_status: { passed: o.passed ?? true },
    ata_smart_attributes: {
      revision: 16,
      table: [
        attr(1, 'Raw_Read_Error_Rate', 0),
        attr(5, 'Reallocated_Sector_Ct', o.reallocated),
        attr(9, 'Power_On_Hours', o.hours),
        attr(194, 'Temperature_Celsius', o.temp),
        attr(197, 'Current_Pending_Sector', o.pending ?? 0),
        attr(198, 'Offline_Uncorrectable', 0),
      ],
    },
    power_on_time: { hours: o.hours },
    power_cycle_count: 211,
    temperature: { current: o.temp },
  });
}

const NVME = JSON.stringify({
  json_format_version: [1, 0],
  smartctl: { version: [7, 3], exit_status: 0 },
  device: { name: '/dev/nvme0', type: 'nvme', protocol: 'NVMe' },
  model_name: 'Samsung SSD 980 1TB',
  serial_number: 'S64ANS0T',
  smart_support: { available: true, enabled: true },
  smart_status: { passed: true, nvme: { value: 0 } },
  nvme_smart_health_information_log: { critical_warning: 0, temperature: 41, available_spare: 100, percentage_used: 2, power_on_hours: 5120, media_errors: 3, num_err_log_entries: 12 },
  temperature: { current: 41 },
  power_on_time: { hours: 5120 },
});

const USB_BRIDGE = JSON.stringify({
  json_format_version: [1, 0],
  smartctl: {
    version: [7, 3],
    argv: ['smartctl', '-j', '-a', '/dev/sdc'],
    messages: [
      { string: '/dev/sdc: Unknown USB bridge [0x152d:0x0578 (0x508)]', severity: 'error' },
      { string: 'Please specify device type with the -d option.', severity: 'information' },
    ],
    exit_status: 1,
  },
});

test('smartctl JSON read: ATA counters, NVMe media errors, and a USB bridge without SMART in one line', () => {
  const a = parseSmart(ata({ reallocated: 8, hours: 23456, temp: 34 }), '/dev/sdb');
  assert.deepEqual(a, { device: '/dev/sdb', model: 'WDC WD80EFAX-68KNBN0', serial: 'VAGZ1234', powerOnHours: 23456, reallocated: 8, pending: 0, uncorrectable: 0, temperature: 34, passed: true });
  const n = parseSmart(NVME, '/dev/nvme0');
  assert.ok(!('none' in n));
  assert.deepEqual([n.powerOnHours, n.uncorrectable, n.reallocated, n.temperature], [5120, 3, null, 41]);
  assert.deepEqual(parseSmart(USB_BRIDGE, '/dev/sdc'), { none: '/dev/sdc: Unknown USB bridge [0x152d:0x0578 (0x508)]' });
  assert.deepEqual(parseSmart(JSON.stringify({ smart_support: { available: false } }), '/dev/sdd'), { none: '/dev/sdd has no SMART' });
  assert.deepEqual(parseSmart('smartctl 6.6', '/dev/sde'), { none: 'smartctl gave no JSON for /dev/sde (smartmontools 7 or newer is needed)' });
});

test('a counter that grew since the last visit is a warning; equal counters are not', () => {
  const at = Date.UTC(2026, 10, 30);
  const visit = (reallocated: number, when: number) => ({ ...(parseSmart(ata({ reallocated, hours: 23456, temp: 34 }), '/dev/sdb') as never as object), copy: 'c', at: when }) as HealthNow['latest'];
  const grown: HealthNow = { latest: visit(24, at + 7 * 86400e3), previous: visit(8, at) };
  assert.deepEqual(grownCounters(grown), [{ name: 'reallocated sectors', from: 8, to: 24 }]);
  assert.equal(describeHealth(grown), '23,456 power-on hours, 34 °C, reallocated sectors 24 (+16), pending sectors 0, uncorrectable sectors 0');
  assert.deepEqual(healthWarnings('C2', grown), [
    'disk "C2" (/dev/sdb, serial VAGZ1234) is wearing out: reallocated sectors 8 → 24 since the last visit (2026-11-30); copy what it holds to another disk and plan to replace it',
  ]);
  const same: HealthNow = { latest: visit(8, at + 86400e3), previous: visit(8, at) };
  assert.deepEqual(healthWarnings('C2', same), []);
  assert.deepEqual(healthWarnings('C2', { latest: visit(0, at), previous: null }), []);
});

/** A folder with a 64 MB ext4 on a loop device mounted at base/disk; unmounted, then removed, when the test ends. */
function withLoopDisk(t: { after: (fn: () => void) => void }): { base: string; disk: string } {
  const base = tempDir('blaine-health-');
  const img = path.join(base, 'disk.img');
  const dir = path.join(base, 'disk');
  fs.mkdirSync(dir);
  execFileSync('truncate', ['-s', '64M', img]);
  execFileSync('mkfs.ext4', ['-q', img]);
  t.after(() => {
    if (spawnSync('findmnt', [dir]).status === 0) execFileSync('umount', [dir]);
    fs.rmSync(base, { recursive: true, force: true });
  });
  execFileSync('mount', ['-o', 'loop', img, dir]);
  return { base, disk: dir };
}

function healthRows(db: string): Record<string, unknown>[] {
  const d = new Database(db, { readonly: true });
  try {
    return d.prepare('SELECT * FROM disk_health ORDER BY at').all() as Record<string, unknown>[];
  } finally {
    d.close();
  }
}

test('every visit records the disk\'s health; disks shows it and the change; a grown counter warns the run, which still succeeds', { skip: isRoot ? false : 'needs root for a loop-mounted disk' }, (t) => {
  const { base, disk } = withLoopDisk(t);
  const lib = path.join(base, 'lib');
  const db = path.join(base, 'catalog.sqlite');
  write(path.join(lib, 'a.jpg'), 'a picture');
  // The fake smartctl: prints the JSON the test put in reading.json, and records the device asked for.
  const bin = path.join(base, 'bin');
  fs.mkdirSync(bin);
  const reading = path.join(base, 'reading.json');
  fs.writeFileSync(path.join(bin, 'smartctl'), `#!/bin/sh\necho "$@" >> '${base}/asked'\ncat '${reading}'\n`, { mode: 0o755 });
  const env = { PATH: `${bin}:${process.env.PATH}`, BLAINE_CONFIG: '', XDG_CONFIG_HOME: path.join(base, 'xdg') };
  const run = (args: string[]) => blaine([...args, '--db', db], { env });

  fs.writeFileSync(reading, ata({ reallocated: 8, hours: 23456, temp: 34 }));
  const first = run(['backup', '--init', '--label', 'C2', '--no-parity', '--dest', disk, lib]);
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /^disk health of "C2" \(\/dev\/loop\d+\): 23,456 power-on hours, 34 °C, reallocated sectors 8, pending sectors 0, uncorrectable sectors 0$/m);
  assert.equal(first.stderr, '');
  assert.match(fs.readFileSync(path.join(base, 'asked'), 'utf8'), /^-j -a \/dev\/loop\d+\n$/);

  fs.writeFileSync(reading, ata({ reallocated: 24, hours: 23620, temp: 36 }));
  const second = run(['verify', '--dest', disk]);
  assert.equal(second.status, 0, 'a wearing disk does not fail the run');
  assert.match(second.stdout, /reallocated sectors 24 \(\+16\)/);
  assert.match(second.stderr, /^warning: disk "C2" \(\/dev\/loop\d+, serial VAGZ1234\) is wearing out: reallocated sectors 8 → 24 since the last visit \(\d{4}-\d\d-\d\d\); copy what it holds to another disk and plan to replace it$/m);
  assert.equal(healthRows(db).length, 2);

  const shown = run(['disks']);
  assert.equal(shown.status, 0, shown.stderr);
  assert.match(shown.stdout, /health \d{4}-\d\d-\d\d \d\d:\d\d \(just now\): 23,620 power-on hours, 36 °C, reallocated sectors 24 \(\+16\)/);
  assert.match(shown.stderr, /wearing out: reallocated sectors 8 → 24/);
  const json = JSON.parse(run(['disks', '--json']).stdout) as { copies: { health: { reallocated: number; grown: unknown[] } }[] }[];
  assert.equal(json[0]!.copies[0]!.health.reallocated, 24);
  assert.deepEqual(json[0]!.copies[0]!.health.grown, [{ name: 'reallocated sectors', from: 8, to: 24 }]);

  // A USB bridge that passes no SMART: one line, nothing recorded, nothing else changes.
  fs.writeFileSync(reading, USB_BRIDGE);
  const usb = run(['verify', '--dest', disk]);
  assert.equal(usb.status, 0, usb.stderr);
  assert.match(usb.stdout, /^disk health of "C2": not recorded \(\/dev\/sdc: Unknown USB bridge \[0x152d:0x0578 \(0x508\)\]\)$/m);
  assert.equal(usb.stderr, '');
  assert.equal(healthRows(db).length, 2);
});

test('the real smartctl on a loop device: one line, no row, the run as before', { skip: !isRoot ? 'needs root for a loop-mounted disk' : findSmartctl(realFs) ? false : 'smartctl is not installed (scripts/setup.sh installs smartmontools)' }, (t) => {
  const { base, disk } = withLoopDisk(t);
  const lib = path.join(base, 'lib');
  const db = path.join(base, 'catalog.sqlite');
  write(path.join(lib, 'a.jpg'), 'a picture');
  const r = blaine(['backup', '--init', '--no-parity', '--label', 'L', '--db', db, '--dest', disk, lib], { env: { BLAINE_CONFIG: '', XDG_CONFIG_HOME: path.join(base, 'xdg') } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('disk health'));
  assert.equal(lines.length, 1, r.stdout);
  assert.match(lines[0]!, /^disk health of "L": not recorded \(\/dev\/loop\d+: .+\)$/);
  assert.equal(healthRows(db).length, 0);
  assert.equal(spawnSync('findmnt', [disk]).status, 0, 'still mounted: nothing else changed');
  assert.match(blaine(['list', '--db', db]).stdout, /a\.jpg/);
});
