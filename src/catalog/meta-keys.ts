/**
 * The keys of the catalogs' `meta` table, all in one place (the catalog package owns
 * every key). The generation protocol's own keys are in generation.ts, the change history's in
 * changes.ts.
 */

/** Host catalog: its identity (a UUID made on the first write). */
export const HOST_ID = 'host-id';
/** Host catalog: its revision, raised by every run that changes files or queues actions. */
export const REVISION = 'revision';
/** Disk catalog: which host catalog revision ("id:revision") the disk's host snapshot holds. */
export const SNAPSHOT_OF = 'host-snapshot-of';
/** Disk catalog: volume.json's settings as JSON (a spare for a damaged volume.json). */
export const DISK_SETTINGS = 'disk-settings';
/** Disk catalog: the journal batch whose catalog rows were committed last (archive/journal.ts). */
export const JOURNAL_COMMITTED = 'journal-committed';
/** Disk catalog: the volume's migrated rows were checked for links made by SHA-1 alone, and none is left. */
export const sha1LinksChecked = (volume: string) => `sha1-links-checked:${volume}`;
