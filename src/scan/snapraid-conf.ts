import { checkRule, ExclusionError, type Rule } from './exclude.js';

/*
 * Line handling follows SnapRAID's own config reader (cmdline/state.c state_config with
 * sgettok/sgetlasttok in cmdline/support.c): leading spaces and tabs are skipped, the directive
 * runs to the next space or tab, and the pattern is the whole rest of the line minus one CR and
 * trailing spaces/tabs. Inner spaces and a '#' after a pattern therefore belong to the pattern;
 * only a line whose first word starts with '#' is a comment.
 */

/** Reads the `exclude`/`include` lines of a SnapRAID config, in order; everything else is ignored. */
export function parseSnapraidConf(text: string): Rule[] {
  const rules: Rule[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    let line = lines[n];
    if (line.endsWith('\r')) line = line.slice(0, -1);
    const m = /^[ \t]*([^ \t]*)[ \t]*(.*)$/s.exec(line) as RegExpExecArray;
    const kind = m[1];
    if (kind !== 'exclude' && kind !== 'include') continue;
    const pattern = m[2].replace(/[ \t]+$/, '');
    if (pattern === '') {
      throw new ExclusionError(`The SnapRAID config has an empty '${kind}' at line ${n + 1}.`);
    }
    const rule: Rule = { kind, pattern };
    try {
      checkRule(rule);
    } catch (e) {
      if (e instanceof ExclusionError) {
        throw new ExclusionError(`${e.message.replace(/\.$/, '')} (SnapRAID config line ${n + 1}).`);
      }
      throw e;
    }
    rules.push(rule);
  }
  return rules;
}
