import type { Catalog, VolumeRow } from '../catalog/catalog.js';
import { UserError } from './exit.js';

/** Finds a volume by label, UUID, or unique UUID prefix (SPEC §4). */
export function resolveVolume(cat: Catalog, name: string): VolumeRow {
  const all = cat.volumes();
  const exact = all.filter((v) => v.uuid === name || v.label === name);
  if (exact.length === 1) return exact[0]!;
  if (exact.length > 1) throw new UserError(`"${name}" names ${exact.length} volumes; use the UUID`);
  const prefixed = all.filter((v) => v.uuid.startsWith(name.toLowerCase()));
  if (prefixed.length === 1) return prefixed[0]!;
  if (prefixed.length > 1) throw new UserError(`"${name}" is the start of ${prefixed.length} volume UUIDs; give more of it`);
  throw new UserError(`no volume is called "${name}" in the catalog ${cat.file}`);
}

export function labelsOf(cat: Catalog): Map<string, string> {
  return new Map(cat.volumes().map((v) => [v.uuid, v.label]));
}
