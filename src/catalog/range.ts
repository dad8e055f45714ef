/**
 * Every path below `dir` sorts in [dir + '/', dir + '0') in byte order ('0' follows '/'): loading
 * what lies under a folder is a range of the primary key, and a scan's chunks tile that range.
 */
export function pathRange(dir: string): [string, string] {
  const d = dir === '/' ? '' : dir.replace(/\/+$/, '');
  return [d + '/', d + '0'];
}
