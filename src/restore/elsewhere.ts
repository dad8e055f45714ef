import type { Catalog } from '../catalog/catalog.js';
import type { Amount } from './restore.js';

/** What is left of a restore on one volume (SPEC §4: `left` / `elsewhere` in --json). */
export interface Elsewhere {
  volume: string;
  label: string;
  files: number;
  bytes: number;
}

/** The amounts left per volume, named by the host catalog's labels, in label order. */
export function leftByVolume(host: Catalog, left: Map<string, Amount>): Elsewhere[] {
  const labels = new Map(host.volumes().map((v) => [v.uuid, v.label]));
  return [...left]
    .map(([volume, a]) => ({ volume, label: labels.get(volume) ?? volume, files: a.files, bytes: a.bytes }))
    .sort((a, b) => a.label.localeCompare(b.label));
}
