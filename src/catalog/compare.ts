import type { CatalogEntry } from './entry.js';
import { comparePaths } from '../fsx/paths.js';

/** What this file needs of a Catalog: catalog.ts calls in here, so it names no Catalog itself (no import circle). */
interface Catalog {
  get(volume: string, p: string): CatalogEntry | undefined;
  rowTexts(volume: string): IterableIterator<string>;
}

/**
 * The rows in which catalogs `a` and `b` differ for one volume (a row missing on one side
 * counts), read side by side in path order: comparing two catalogs of a million rows costs two
 * reads and holds only the differences.
 */
export function catalogDifferences(a: Catalog, b: Catalog, volume: string): { mine: CatalogEntry[]; theirs: CatalogEntry[] } {
  const mine: CatalogEntry[] = [];
  const theirs: CatalogEntry[] = [];
  // One string a row ("path\0columns…"), compared whole; entries are made only for rows that differ.
  const rowsA = a.rowTexts(volume);
  const rowsB = b.rowTexts(volume);
  const pathOf = (text: string) => text.slice(0, text.indexOf('\0'));
  let x = rowsA.next();
  let y = rowsB.next();
  while (!x.done || !y.done) {
    if (!x.done && !y.done && x.value === y.value) {
      x = rowsA.next();
      y = rowsB.next();
      continue;
    }
    const px = x.done ? '' : pathOf(x.value);
    const py = y.done ? '' : pathOf(y.value);
    const order = x.done ? 1 : y.done ? -1 : comparePaths(px, py);
    if (order <= 0) {
      mine.push(a.get(volume, px)!);
      x = rowsA.next();
    }
    if (order >= 0) {
      theirs.push(b.get(volume, py)!);
      y = rowsB.next();
    }
  }
  return { mine, theirs };
}
