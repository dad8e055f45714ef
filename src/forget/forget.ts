/**
 * `forget-disk`: the host catalog lets go of a lost volume (all its copies) or of one lost copy of a
 * mirrored volume. What a lost volume alone held is reported, so the user knows what is no longer
 * archived; those rows are gone, so the next backup that sees such a file in a data path archives
 * it again as new.
 */
import { BlaineError } from '../error.js';
import type { Catalog, CopyRow, VolumeRow } from '../catalog/catalog.js';
import type { CatalogEntry } from '../catalog/entry.js';
import { dropCopy, dropVolume, heldNowhereElse } from '../catalog/forget.js';

/** A forget-disk target that names no copy, or more than one. */
export class ForgetError extends BlaineError {}

export interface ForgetTarget {
  volume: VolumeRow;
  /** null: the whole volume. */
  copy: CopyRow | null;
}

export interface ForgetReport {
  volume: string;
  label: string;
  copy: { copy: string; label: string } | null;
  /** Rows the host catalog dropped (none for one copy: the volume keeps them). */
  files: number;
  bytes: number;
  /** Deferred actions dropped. */
  pending: number;
  /** Files (and symlinks) of the volume no other volume holds: no longer archived anywhere. */
  notArchived: CatalogEntry[];
  /** The copies that still hold the volume; `behind`: one that lacks changes of the forgotten copy. */
  remaining: Array<{ copy: string; label: string; behind: boolean }>;
}

/**
 * Finds what VOL (and --copy) name: a volume by label, UUID or UUID prefix (SPEC §4), or, when no
 * volume is called so, one copy by its label or UUID (the copy of a mirror, e.g. "C'").
 */
export function findTarget(host: Catalog, name: string, copyName: string | undefined, resolveVolume: (n: string) => VolumeRow): ForgetTarget {
  const copies = host.copies();
  const copyNamed = (list: CopyRow[], n: string) => {
    const exact = list.filter((c) => c.copy === n || c.label === n);
    const hits = exact.length > 0 ? exact : list.filter((c) => c.copy.startsWith(n.toLowerCase()));
    if (hits.length > 1) throw new ForgetError(`"${n}" names ${hits.length} copies; use the copy's UUID (\`blaine disks --json\`)`);
    return hits[0];
  };
  let volume: VolumeRow;
  try {
    volume = resolveVolume(name);
  } catch (err) {
    if (copyName !== undefined) throw err;
    const copy = copyNamed(copies, name);
    const owner = copy && host.volume(copy.volume);
    if (!copy || !owner) throw err;
    return { volume: owner, copy };
  }
  if (copyName === undefined) return { volume, copy: null };
  const copy = copyNamed(copies.filter((c) => c.volume === volume.uuid), copyName);
  if (!copy) throw new ForgetError(`volume "${volume.label}" has no copy called "${copyName}"`);
  return { volume, copy };
}

/** What forgetting `t` would drop and lose; changes nothing. */
export function describeForget(host: Catalog, t: ForgetTarget): ForgetReport {
  const others = host.copies().filter((c) => c.volume === t.volume.uuid && c.copy !== t.copy?.copy);
  if (t.copy && others.length === 0) {
    throw new ForgetError(
      `"${t.copy.label}" is the only copy of volume "${t.volume.label}"; to forget it, forget the volume: blaine forget-disk ${t.volume.uuid}`,
    );
  }
  const whole = t.copy === null;
  const stats = host.volumeStats(t.volume.uuid);
  return {
    volume: t.volume.uuid,
    label: t.volume.label,
    copy: t.copy && { copy: t.copy.copy, label: t.copy.label },
    files: whole ? stats.files : 0,
    bytes: whole ? stats.bytes : 0,
    pending: whole ? host.deferred(t.volume.uuid).length : 0,
    notArchived: whole ? heldNowhereElse(host, t.volume.uuid) : [],
    remaining: whole ? [] : others.map((c) => ({ copy: c.copy, label: c.label, behind: c.generation < t.volume.generation })),
  };
}

/** Forgets `t` in the host catalog (one transaction) and returns what was dropped. */
export function forget(host: Catalog, t: ForgetTarget): ForgetReport {
  const report = describeForget(host, t);
  if (t.copy) dropCopy(host, t.copy.copy);
  else dropVolume(host, t.volume.uuid);
  return report;
}
