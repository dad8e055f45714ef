import path from 'node:path';
import { parityPacketsIntact } from '../parity/packets.js';
import { INDEX_SUFFIX, parityDir, parityStemRel, RECOVERY_SUFFIX } from '../parity/paths.js';
import { mtimeMatches, sha256File } from '../fsx/copy.js';
import { walkFiles } from '../fsx/tree.js';
import { isRoot } from '../fsx/fsx.js';
import { diskRelative } from '../fsx/paths.js';
import { BLAINE_DIR } from '../archive/layout.js';
import type { ProblemKind, Item, Group } from './types.js';
import { errMessage, lstatOrNull, typeName, setKey } from './disk-ops.js';
import { VerifyState } from './state.js';

/** The checks: catalog against disk, then content read by SHA-256 and parity packets, by schedule. */
export abstract class VerifyChecks extends VerifyState {
  // ---- comparing ----

  protected compare(): void {
    const { root } = this.o;
    for (const e of this.o.disk.iterateVolume(this.o.volume)) {
      const r = diskRelative(e.path);
      const full = path.join(root, r);
      const item: Item = { e, rel: r, full, st: lstatOrNull(full, this.fs), group: null, parity: [], state: 'unknown', verifiedNow: false, problems: [] };
      this.items.push(item);
      this.byRel.set(r, item);
    }
    const wantsParity = (it: Item | undefined): it is Item =>
      !!it && it.e.kind === 'file' && it.e.size > 0 && it.e.parityName !== null;
    const hasParity = this.items.some(wantsParity);

    for (const item of this.items) {
      const { e, st } = item;
      if (!st) {
        this.add(item, e.path, 'missing', `${e.kind === 'symlink' ? 'the symlink' : 'the file'} is not on the disk`);
        continue;
      }
      if (e.kind === 'symlink') {
        if (st.type !== 'symlink') {
          this.add(item, e.path, 'missing', `the disk has ${typeName(st)} where the symlink should be`);
          continue;
        }
        const target = this.fs.readlinkSync(item.full);
        if (target !== e.linkTarget) this.add(item, e.path, 'target', `the symlink points to ${target}, not ${e.linkTarget}`);
        if (!mtimeMatches(st.mtimeSec, st.mtimeNsec, e.mtimeSec, e.mtimeNsec)) this.add(item, e.path, 'mtime', 'the symlink has another mtime');
        continue;
      }
      if (st.type !== 'file') {
        this.add(item, e.path, 'missing', `the disk has ${typeName(st)} where the file should be`);
        continue;
      }
      const key = st.inode;
      let g = this.groups.get(key);
      if (!g) {
        g = { key, items: [], hashed: false };
        this.groups.set(key, g);
      }
      g.items.push(item);
      item.group = g;
      // Names stored as one inode share mode and owner (SPEC §3), so each name's own must match.
      if (st.mode !== (e.mode & 0o7777)) {
        this.add(item, e.path, 'mode', `the file's mode is ${st.mode.toString(8)}, the catalog says ${(e.mode & 0o7777).toString(8)}`);
      }
      if (isRoot && (st.uid !== e.uid || st.gid !== e.gid)) {
        this.add(item, e.path, 'owner', `the file belongs to ${st.uid}:${st.gid}, the catalog says ${e.uid}:${e.gid}`);
      }
      if (st.size !== e.size) {
        item.state = 'bad';
        this.add(item, e.path, 'size', `the file has ${st.size} bytes, the catalog says ${e.size}`);
      }
    }
    // Only now is it known which inodes hold more than one catalogued name.
    for (const item of this.items) {
      if (!item.group || item.group.items.length > 1 || !item.st) continue;
      const st = item.st;
      if (!mtimeMatches(st.mtimeSec, st.mtimeNsec, item.e.mtimeSec, item.e.mtimeNsec)) {
        const when = new Date(st.mtimeSec * 1000).toISOString();
        this.add(item, item.e.path, 'mtime', `the file's mtime is ${when}, not the catalogued ${new Date(item.e.mtimeSec * 1000).toISOString()}`);
      }
    }

    // Extra files: one walk of the disk, the archive's own folder and what was there before it left out.
    const foreign = new Set(this.o.foreign ?? []);
    walkFiles(
      root,
      '',
      (r) => r === BLAINE_DIR || r === 'lost+found' || foreign.has(r),
      (r, full) => {
        if (!this.byRel.has(r)) this.add(null, `/${r}`, 'extra', `${full} is on the disk but not in its catalog`);
      },
      this.fs,
    );

    // Parity: one walk of the parity tree; each file belongs to the data file it is named after
    // (a shortened stem for a name too long to take a suffix).
    // `x.vol+.par2` is both x's recovery file and the index of a file named `x.vol+`: whichever
    // is catalogued owns it.
    const byStem = new Map<string, Item>();
    for (const it of this.items) if (wantsParity(it)) byStem.set(parityStemRel(it.rel), it);
    const pdir = parityDir(root);
    walkFiles(pdir, '', () => false, (pr, full) => {
      const owners: Item[] = [];
      for (const suffix of [INDEX_SUFFIX, RECOVERY_SUFFIX]) {
        if (!pr.endsWith(suffix)) continue;
        const it = byStem.get(pr.slice(0, -suffix.length));
        if (wantsParity(it) && !owners.includes(it)) owners.push(it);
      }
      if (owners.length === 0) this.orphans.push(full);
      for (const it of owners) it.parity.push(full);
    }, this.fs);
    for (const full of this.orphans) {
      this.add(null, full, 'parity-orphan', 'the parity file belongs to no catalogued file with parity');
    }
    for (const item of this.items) {
      const { e } = item;
      if (e.kind !== 'file' || e.size === 0) continue;
      if (e.parityName === null) {
        if (hasParity) this.add(item, e.path, 'no-parity', 'the file has no parity');
        continue;
      }
      if (item.parity.length === 0) this.add(item, e.path, 'parity-missing', 'the parity files are not on the disk');
      else if (!this.parityComplete(item)) {
        const lost = this.hasRecovery(item) ? 'index' : 'recovery file';
        this.add(item, e.path, 'parity-damaged', `the parity set is incomplete: its ${lost} is not on the disk`);
      }
    }
  }

  // ---- reading content ----

  /** Reads a group's inode once and judges each name on it; false when interrupted. */
  protected async hashGroup(g: Group): Promise<boolean> {
    if (g.hashed) return true;
    const first = g.items[0]!;
    let res: { sha256: string; bytes: number; sha1?: string } | null = null;
    let why = '';
    // A row migrated from an older catalog has only its SHA-1 until its content is read: now.
    const migrated = g.items.some((i) => i.e.sha256 === null && i.e.legacySha1);
    try {
      res = await sha256File(first.full, { signal: this.o.signal, fs: this.fs, sha1: migrated });
    } catch (e) {
      if (this.o.signal.aborted) {
        this.interrupted = true;
        return false;
      }
      why = errMessage(e);
    }
    g.hashed = true;
    for (const item of g.items) {
      const legacy = item.e.sha256 === null ? item.e.legacySha1 : null;
      if (item.e.sha256 === null && !legacy) continue;
      this.checked.add(item);
      const same = res !== null && res.bytes === item.e.size && (legacy ? res.sha1 === legacy : res.sha256 === item.e.sha256);
      if (same && legacy && !this.linkedBySha1().has(item.e.path)) this.recordContentHash(item, res!.sha256);
      if (same) {
        item.state = 'good';
        this.markVerified(item);
      } else if (item.state !== 'bad') {
        item.state = 'bad';
        this.add(item, item.e.path, 'checksum', res ? `the file's ${legacy ? 'SHA-1' : 'SHA-256'} differs from the catalog` : `the file cannot be read (${why})`);
      }
    }
    if (res) this.bytesRead += res.bytes;
    if (this.o.checksum) await this.checkParityPackets(g);
    this.maybeFlush();
    return true;
  }

  /** PAR2 packets carry their own MD5s: reading the parity once tells whether it is still whole. */
  protected async checkParityPackets(g: Group): Promise<void> {
    for (const item of g.items) {
      if (item.e.parityName === null || !this.parityComplete(item) || this.has(item, 'parity-damaged')) continue;
      const key = setKey(item.parity, this.fs);
      if (key === null) continue;
      let intact = this.intactCache.get(key);
      if (intact === undefined) {
        intact = await parityPacketsIntact(item.parity);
        this.intactCache.set(key, intact);
      }
      if (!intact) this.add(item, item.e.path, 'parity-damaged', 'the parity files are damaged');
    }
  }

  protected async hashScheduled(): Promise<void> {
    const needed: Group[] = [];
    const due: Group[] = [];
    const fixNeedsContent: ProblemKind[] = ['mtime', 'parity-missing', 'no-parity', 'parity-damaged'];
    const nowSec = Math.floor(this.now() / 1000);
    const cutoff = this.o.olderThanSec === undefined ? Infinity : nowSec - this.o.olderThanSec;
    const lastVerified = (g: Group): number => Math.min(...g.items.map((i) => i.e.verifiedAt ?? -Infinity));
    for (const g of this.groups.values()) {
      if (g.items.every((i) => i.state === 'bad' || (i.e.sha256 === null && !i.e.legacySha1))) continue;
      if (this.o.fix && g.items.some((i) => this.has(i, ...fixNeedsContent))) needed.push(g);
      else if (this.o.checksum && g.items.some((i) => (i.e.verifiedAt ?? -Infinity) < cutoff)) due.push(g);
    }
    due.sort((a, b) => lastVerified(a) - lastVerified(b) || (a.items[0]!.e.path < b.items[0]!.e.path ? -1 : 1));
    const total = needed.length + due.length;
    let done = 0;
    for (const g of needed) {
      if (this.stopped() || !(await this.hashGroup(g))) return;
      this.o.progress?.(++done, total, this.bytesRead);
    }
    for (let i = 0; i < due.length; i++) {
      if (this.stopped()) return;
      if (i > 0 && this.o.maxTimeMs !== undefined && this.now() - this.started >= this.o.maxTimeMs) {
        this.remaining = due.slice(i).reduce((n, g) => n + g.items.length, 0);
        return;
      }
      if (!(await this.hashGroup(due[i]!))) return;
      this.o.progress?.(++done, total, this.bytesRead);
    }
  }
}
