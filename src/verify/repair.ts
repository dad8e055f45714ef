import path from 'node:path';
import type { CatalogEntry } from '../catalog/entry.js';
import { parityPacketsIntact } from '../parity/packets.js';
import { ParityError, repairTo, verifyParity } from '../parity/par2.js';
import { linkParity, pruneParityDirs } from '../parity/paths.js';
import { copyWithSha256, makeSymlink, setTimes, sha256File } from '../fsx/copy.js';
import { isRoot } from '../fsx/fsx.js';
import { diskTempDir } from '../archive/layout.js';
import { pruneEmptyDirs } from '../fsx/tree.js';
import { quarantineDir } from '../archive/layout.js';
import { diskRelative } from '../fsx/paths.js';
import type { ProblemKind, Item, Group } from './types.js';
import { errMessage, lstatOrNull, writeInPlace, setKey, applyMeta } from './disk-ops.js';
import { VerifyChecks } from './check.js';

/** The repairs `--fix` makes: damaged content from parity, lost names, metadata, strays, parity. */
export abstract class VerifyRepairs extends VerifyChecks {
  // ---- content damage ----

  protected paritySources(items: Item[], like: CatalogEntry): Item[] {
    const seen = new Set<string>();
    const out: Item[] = [];
    for (const it of items) {
      if (it.e.parityName === null || it.e.sha256 !== like.sha256 || it.e.size !== like.size || !this.hasRecovery(it)) continue;
      const key = setKey(it.parity, this.fs);
      if (key === null || seen.has(key)) continue;
      seen.add(key);
      out.push(it);
    }
    return out;
  }

  /** Classifies (and with fix, repairs) every inode whose content is damaged. */
  protected async judgeDamagedContent(): Promise<void> {
    for (const g of this.groups.values()) {
      if (this.stopped()) return;
      if (this.judgedGroups.has(g)) continue;
      const bad = g.items.filter((i) => i.state === 'bad');
      if (bad.length === 0) continue;
      this.judgedGroups.add(g);
      const like = bad[0]!.e;
      const consistent = bad.every((i) => i.e.sha256 === like.sha256 && i.e.size === like.size);
      let why = 'it has no parity';
      let repairable = false;
      let unknown: string | null = null;
      if (!consistent) {
        why = 'names hardlinked on the disk have different contents in the catalog';
      } else {
        for (const src of this.paritySources(g.items, like)) {
          const r = this.o.fix ? await this.repairGroup(g, src, like) : await this.askPar2(src);
          if (r === true) {
            repairable = true;
            break;
          }
          if (typeof r === 'object') {
            unknown = r.unknown;
            break;
          }
          why = r;
          if (this.stopped()) return;
        }
      }
      for (const item of bad) {
        for (const p of item.problems) {
          if (p.kind !== 'checksum' && p.kind !== 'size') continue;
          if (unknown !== null) {
            p.detail = `${p.detail}; ${unknown}`;
          } else if (!repairable) {
            p.kind = 'unrepairable';
            p.detail = `${p.detail}, and ${why}`;
          } else if (this.o.fix) {
            p.repaired = true;
          }
        }
      }
    }
  }

  /** Whether par2 could repair the file, without repairing it: true, why not, or why that is not known. */
  protected async askPar2(src: Item): Promise<true | string | { unknown: string }> {
    try {
      const r = await verifyParity(this.o.root, src.rel, src.e.parityName!, { cfg: this.o.par2, signal: this.o.signal });
      if (r.state === 'repairable') return true;
      if (r.state === 'ok') return 'its parity matches the bytes on the disk, not the catalogued SHA-256';
      if (r.state === 'missing') return 'its parity is unusable';
      return 'the damage is beyond what its parity can repair';
    } catch (e) {
      if (e instanceof ParityError && (e.code === 'ENOPAR2' || e.code === 'ABORTED')) {
        return { unknown: `whether its parity can repair it is not known (${errMessage(e)})` };
      }
      return `par2 could not check it (${errMessage(e)})`;
    }
  }

  /** Repairs the group's inode from src's parity set: true, or why not. */
  protected async repairGroup(g: Group, src: Item, like: CatalogEntry): Promise<true | string> {
    const tmp = this.newTemp();
    try {
      let ok: boolean;
      try {
        ok = await repairTo(this.o.root, src.rel, src.e.parityName!, tmp, { cfg: this.o.par2, signal: this.o.signal });
      } catch (e) {
        return `par2 could not repair it (${errMessage(e)})`;
      }
      if (!ok) return 'the damage is beyond what its parity can repair';
      const got = await sha256File(tmp, { fs: this.fs });
      if (got.sha256 !== like.sha256 || got.bytes !== like.size) return 'its parity gives back other bytes than the catalogued SHA-256';
      const target = g.items[0]!;
      // One name: the catalog's mtime is the file's. Several: the inode's own mtime stands.
      const times =
        g.items.length === 1
          ? { sec: target.e.mtimeSec, nsec: target.e.mtimeNsec }
          : { sec: target.st!.mtimeSec, nsec: target.st!.mtimeNsec };
      try {
        const step = { op: 'repair', path: target.e.path, mtimeSec: times.sec, mtimeNsec: times.nsec } as const;
        await this.journalled(step, () => writeInPlace(target.full, tmp, like.size, times, this.fs));
      } catch (e) {
        return `the repaired bytes could not be written (${errMessage(e)})`;
      }
      this.wroteData = true;
      for (const item of g.items) {
        if (item.e.sha256 !== like.sha256 || item.e.size !== like.size) continue;
        item.state = 'good';
        this.markVerified(item);
        if (g.items.length === 1) this.repaired(item, 'mtime');
      }
      this.o.detail(`repaired ${g.items.map((i) => i.e.path).join(', ')} from parity`);
      return true;
    } finally {
      this.fs.rmSync(tmp, { force: true });
    }
  }

  // ---- missing names ----

  protected contentIndex: Map<string, Item[]> | null = null;

  protected twinsOf(item: Item): Item[] {
    if (!this.contentIndex) {
      this.contentIndex = new Map();
      for (const it of this.items) {
        if (!it.group || it.e.sha256 === null) continue;
        const k = `${it.e.size}:${it.e.sha256}`;
        const list = this.contentIndex.get(k) ?? [];
        list.push(it);
        this.contentIndex.set(k, list);
      }
    }
    return this.contentIndex.get(`${item.e.size}:${item.e.sha256}`) ?? [];
  }

  protected async fixMissing(): Promise<void> {
    for (const item of this.items) {
      if (this.stopped()) return;
      const missing = this.has(item, 'missing');
      const target = this.has(item, 'target');
      if (!missing && !target) continue;
      if (item.st && !(item.e.kind === 'symlink' && item.st.type === 'symlink')) {
        // Something uncatalogued in the way (a directory, a file where a symlink belongs) is not
        // Blaine's to remove: it is reported, and left.
        if (missing) missing.detail += '; not replaced';
        continue;
      }
      try {
        const how = item.e.kind === 'symlink' ? await this.journalled({ op: 'name', path: item.e.path }, () => this.remakeSymlink(item)) : await this.giveBack(item);
        if (how === null) continue;
        this.repaired(item, 'missing', 'target', 'mtime');
        this.o.detail(`${item.e.path}: ${how}`);
      } catch (e) {
        const p = missing ?? target!;
        p.detail += ` (could not be fixed: ${errMessage(e)})`;
      }
    }
  }

  protected remakeSymlink(item: Item): string {
    makeSymlink(item.e.linkTarget ?? '', item.full, item.e, this.fs);
    this.wroteData = true;
    return 'symlink made again from the catalog';
  }

  /** Gives a lost file back from the disk's own content; null (and the reason in its problem) when it cannot. */
  protected async giveBack(item: Item): Promise<string | null> {
    const { e } = item;
    const p = this.has(item, 'missing')!;
    if (e.size === 0) {
      this.fs.mkdirSync(path.dirname(item.full), { recursive: true });
      this.fs.writeFileSync(item.full, '');
      applyMeta(item.full, e, this.fs);
      this.markGood(item);
      return 'empty file made again';
    }
    if (e.sha256 !== null) {
      for (const twin of this.twinsOf(item)) {
        if (twin === item || !twin.group) continue;
        if (!(await this.hashGroup(twin.group))) return null;
        if (twin.state !== 'good') continue;
        this.placeLink(twin.full, item.full);
        item.group = twin.group;
        twin.group.items.push(item);
        this.markGood(item);
        return `hardlinked again to ${twin.e.path}, which holds the same content`;
      }
    }
    if (e.parityName !== null && this.hasRecovery(item)) {
      const tmp = this.newTemp();
      try {
        const ok = await repairTo(this.o.root, item.rel, e.parityName, tmp, { cfg: this.o.par2, signal: this.o.signal }).catch(() => false);
        if (ok) {
          const got = await sha256File(tmp, { fs: this.fs });
          if (got.sha256 === e.sha256 && got.bytes === e.size) {
            applyMeta(tmp, e, this.fs);
            this.fs.mkdirSync(path.dirname(item.full), { recursive: true });
            this.fs.renameSync(tmp, item.full);
            this.wroteData = true;
            this.markGood(item);
            return 'rebuilt from its parity';
          }
        }
      } finally {
        this.fs.rmSync(tmp, { force: true });
      }
    }
    p.detail += ', and the disk holds nothing to rebuild it from (the next backup copies it again if its source still exists)';
    return null;
  }

  protected placeLink(from: string, to: string): void {
    this.fs.mkdirSync(path.dirname(to), { recursive: true });
    const tmp = this.newTemp();
    this.fs.linkSync(from, tmp);
    this.fs.renameSync(tmp, to);
    this.wroteData = true;
  }

  /** A name given back: its content is what the catalog says. */
  protected markGood(item: Item): void {
    item.state = 'good';
    item.st = lstatOrNull(item.full, this.fs);
    this.markVerified(item);
  }

  // ---- metadata, strays, parity ----

  protected async fixMetadata(): Promise<void> {
    for (const item of this.items) {
      const wrong = [this.has(item, 'mode'), this.has(item, 'owner')].filter((p) => p !== undefined && !p.repaired);
      if (wrong.length > 0 && item.state === 'bad') {
        for (const p of wrong) p!.detail += "; left as it is while the file's content is damaged";
      } else if (wrong.length > 0) {
        const e = item.e;
        try {
          if ((item.group?.items.length ?? 1) > 1) {
            // Stored as one inode with names of other metadata (as Blaine once did): chmod would
            // change them too, so this name gets an inode of its own.
            const meta = { mode: e.mode & 0o7777, uid: e.uid, gid: e.gid, mtimeSec: e.mtimeSec, mtimeNsec: e.mtimeNsec };
            await copyWithSha256(item.full, item.full, meta, { tempDir: diskTempDir(this.o.root), fs: this.fs });
          } else {
            if (isRoot) this.fs.chownSync(item.full, e.uid, e.gid);
            this.fs.chmodSync(item.full, e.mode & 0o7777);
          }
          for (const p of wrong) p!.repaired = true;
          this.wroteData = true;
        } catch (err) {
          for (const p of wrong) p!.detail += ` (could not be fixed: ${errMessage(err)})`;
        }
      }
      const p = this.has(item, 'mtime');
      if (!p || p.repaired) continue;
      // A symlink has no content to doubt; a file's mtime is fixed only once its bytes are known good.
      if (item.e.kind === 'file' && item.state !== 'good') {
        p.detail += "; left as it is while the file's content is not known to be good";
        continue;
      }
      try {
        setTimes(item.full, item.e.mtimeSec, item.e.mtimeNsec, this.fs);
        p.repaired = true;
        this.wroteData = true;
      } catch (e) {
        p.detail += ` (could not be fixed: ${errMessage(e)})`;
      }
    }
  }

  /**
   * Each of these is one rename or unlink (after a mkdir): a crash finds it made or not made, and
   * the next verify --fix takes up what is left, so they are not journalled.
   * Orphaned parity is Blaine's own and goes. A file the catalog does not list may be a user's (a
   * disk given to --init --force) or newer archived files after a catalog roll-back: it is moved to
   * .blaine/quarantine, and deleted only with --drop-extra, under the mass-delete guard (SPEC §8).
   */
  protected dropStrays(): void {
    const extras = this.problems.filter((p) => p.kind === 'extra');
    const catalogued = this.items.length;
    const pct = this.o.maxDeletePct ?? 10;
    const guarded = this.o.dropExtra && !this.o.force && extras.length > (catalogued * pct) / 100;
    for (const p of this.problems) {
      if (p.kind !== 'extra' && p.kind !== 'parity-orphan') continue;
      const full = p.kind === 'extra' ? path.join(this.o.root, diskRelative(p.path)) : p.path;
      try {
        if (p.kind === 'extra' && guarded) {
          p.detail += `; not deleted: --drop-extra would delete ${extras.length} files, more than ${pct}% of the ${catalogued} catalogued (pass --force)`;
          continue;
        }
        if (p.kind === 'extra' && !this.o.dropExtra) {
          let into = path.join(quarantineDir(this.o.root), diskRelative(p.path));
          // A name quarantined before keeps its file: the newcomer gets a suffix.
          if (lstatOrNull(into, this.fs)) into += `.${Date.now()}`;
          this.fs.mkdirSync(path.dirname(into), { recursive: true });
          this.fs.renameSync(full, into);
          p.detail += `; moved to ${into}`;
        } else this.fs.rmSync(full, { force: true });
        p.repaired = true;
        this.wroteData = true;
        if (p.kind === 'extra') pruneEmptyDirs(this.o.root, path.dirname(full), this.fs);
        else pruneParityDirs(this.o.root, path.dirname(full), this.fs);
      } catch (e) {
        p.detail += ` (could not be removed: ${errMessage(e)})`;
      }
    }
  }

  protected async rebuildParity(): Promise<void> {
    const kinds: ProblemKind[] = ['parity-missing', 'no-parity', 'parity-damaged'];
    const jobs: Array<Promise<void>> = [];
    const seen = new Set<Group>();
    for (const item of this.items) {
      const g = item.group;
      if (!g || seen.has(g) || !this.has(item, ...kinds)) continue;
      seen.add(g);
      const needing = g.items.filter((i) => this.has(i, ...kinds));
      const unknown = needing.filter((i) => i.state !== 'good');
      for (const i of unknown) {
        for (const p of i.problems) if (kinds.includes(p.kind)) p.detail += "; not rebuilt while the file's content is not known to be good";
      }
      const ready = needing.filter((i) => i.state === 'good');
      if (ready.length > 0) jobs.push(this.rebuildGroup(g, ready));
    }
    await Promise.all(jobs);
    await this.pool?.drain();
  }

  /** Gives `ready` (good names of one inode) parity: linked from a sound set in the group, else made once. */
  protected async rebuildGroup(g: Group, ready: Item[]): Promise<void> {
    const kinds: ProblemKind[] = ['parity-missing', 'no-parity', 'parity-damaged'];
    const like = ready[0]!.e;
    let source: { rel: string; parityName: string } | null = null;
    for (const it of g.items) {
      if (ready.includes(it) || it.state !== 'good' || it.e.sha256 !== like.sha256 || it.e.parityName === null) continue;
      if (!this.parityComplete(it) || !(await parityPacketsIntact(it.parity))) continue;
      source = { rel: it.rel, parityName: it.e.parityName };
      break;
    }
    let todo = ready;
    if (!source) {
      const first = ready[0]!;
      try {
        const pool = (this.pool ??= this.makePool());
        // The row is queued inside the step, so the batch cannot commit between the set and its row.
        const made = await this.journalled({ op: 'parity', path: first.e.path }, async () => {
          const m = await pool.submit(this.o.root, first.rel, first.e.size);
          this.setParity(first, m.parityName);
          return m;
        });
        source = { rel: first.rel, parityName: made.parityName };
        todo = ready.slice(1);
      } catch (e) {
        for (const i of ready) for (const p of i.problems) if (kinds.includes(p.kind)) p.detail += ` (parity could not be made: ${errMessage(e)})`;
        return;
      }
    }
    for (const it of todo) {
      try {
        const from = source;
        await this.journalled({ op: 'parity', path: it.e.path }, () => {
          linkParity(this.o.root, from.rel, it.rel, this.fs);
          this.setParity(it, from.parityName);
        });
      } catch (e) {
        for (const p of it.problems) if (kinds.includes(p.kind)) p.detail += ` (parity could not be linked: ${errMessage(e)})`;
      }
    }
  }
}
