/**
 * Shell completion (bash, zsh) and the man page, made from the commander definitions that also
 * make --help: one source of truth, so they cannot drift apart.
 */
import type { Command, Option } from 'commander';
import { EXAMPLES } from './examples.js';

/** Options whose value is a directory, or a file: completed as such. */
function valueKind(opt: Option): 'dir' | 'file' | 'other' | 'none' {
  if (!opt.required && !opt.optional) return 'none';
  const arg = /<([^>]+)>|\[([^\]]+)\]/.exec(opt.flags);
  const name = arg?.[1] ?? arg?.[2] ?? '';
  if (/^(disk\d*|dir)$/.test(name)) return 'dir';
  if (name === 'file') return 'file';
  return 'other';
}

const visible = (cmd: Command) => cmd.options.filter((o) => !o.hidden);
const commandsOf = (program: Command) => program.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);

function flagsOf(o: Option): string[] {
  return [o.short, o.long].filter((f): f is string => !!f);
}

export function bashCompletion(program: Command): string {
  const names = commandsOf(program).map((c) => c.name());
  const cases = commandsOf(program).map((c) => {
    const opts = visible(c).flatMap(flagsOf).concat('--help');
    const dirs = visible(c).filter((o) => valueKind(o) === 'dir').flatMap(flagsOf);
    const files = visible(c).filter((o) => valueKind(o) === 'file').flatMap(flagsOf);
    const others = visible(c).filter((o) => valueKind(o) === 'other').flatMap(flagsOf);
    return `    ${c.name()}) opts="${opts.join(' ')}"; dirs=" ${dirs.join(' ')} "; files=" ${files.join(' ')} "; values=" ${others.join(' ')} " ;;`;
  });
  return `# bash completion for blaine; made by \`blaine completion bash\` from the command definitions.
_blaine() {
  local cur prev cmd="" i opts="" dirs="" files="" values=""
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local commands="${names.join(' ')}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    case " $commands " in *" \${COMP_WORDS[i]} "*) cmd="\${COMP_WORDS[i]}"; break ;; esac
  done
  if [[ -z $cmd ]]; then
    COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
    return
  fi
  case "$cmd" in
${cases.join('\n')}
  esac
  if [[ $dirs == *" $prev "* ]]; then COMPREPLY=($(compgen -d -- "$cur")); return; fi
  if [[ $files == *" $prev "* ]]; then COMPREPLY=($(compgen -f -- "$cur")); return; fi
  if [[ $values == *" $prev "* ]]; then COMPREPLY=(); return; fi
  if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "$opts" -- "$cur")); return; fi
  COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o filenames -F _blaine blaine
`;
}

/** Text inside a zsh _arguments spec's [description] or a single-quoted word. */
function zshText(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/'/g, `'\\''`).replace(/([[\]:])/g, '\\$1');
}

export function zshCompletion(program: Command): string {
  const described = commandsOf(program).map((c) => `    '${c.name()}:${zshText(c.summary() || c.description())}'`);
  const cases = commandsOf(program).map((c) => {
    const specs = visible(c).flatMap((o) => {
      const kind = valueKind(o);
      const action = kind === 'dir' ? ':dir:_files -/' : kind === 'file' ? ':file:_files' : kind === 'other' ? ':value: ' : '';
      const many = o.flags.includes('repeatable') || o.description.includes('(repeatable)') ? '*' : '';
      return flagsOf(o).map((f) => `'${many}${f}[${zshText(o.description)}]${action}'`);
    });
    const rest = c.registeredArguments.length > 0 ? [`'*:argument:_files'`] : [];
    return `    ${c.name()})\n      _arguments -s \\\n        ${[...specs, ...rest].join(' \\\n        ')}\n      ;;`;
  });
  return `#compdef blaine
# zsh completion for blaine; made by \`blaine completion zsh\` from the command definitions.
_blaine() {
  local -a commands
  commands=(
${described.join('\n')}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  local cmd=$words[2]
  words=(\${words[2,-1]})
  (( CURRENT-- ))
  case $cmd in
${cases.join('\n')}
  esac
}
_blaine "$@"
`;
}

/** roff text: a leading dot or quote would be read as a request; backslashes and dashes escaped. */
function roff(s: string): string {
  return s
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/^([.'])/gm, '\\&$1')
    .replace(/[^\x00-\x7f]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`);
}

export function manPage(program: Command, date: string): string {
  const out: string[] = [];
  out.push(`.TH BLAINE 1 "${date}" "Blaine ${program.version() ?? ''}" "User Commands"`);
  out.push('.SH NAME', `blaine \\- ${roff(program.description())}`);
  out.push('.SH SYNOPSIS', '.B blaine', '.I command', '[\\fIoptions\\fR] [\\fIarguments\\fR]');
  out.push('.SH COMMANDS');
  for (const c of commandsOf(program)) {
    const args = c.registeredArguments.map((a) => (a.required ? `<${a.name()}${a.variadic ? '...' : ''}>` : `[${a.name()}${a.variadic ? '...' : ''}]`));
    out.push('.SS', `.B blaine ${c.name()}${args.length > 0 ? ` ${roff(args.join(' '))}` : ''}`);
    out.push(roff(c.description()));
    for (const o of visible(c)) {
      out.push('.TP', `.B ${roff(o.flags)}`, roff(o.description + (o.defaultValue !== undefined && o.defaultValue !== false ? ` (default: ${String(o.defaultValue)})` : '')));
    }
    const examples = EXAMPLES[c.name()] ?? [];
    if (examples.length > 0) {
      out.push('.PP', 'Examples:');
      for (const [line, what] of examples) out.push('.PP', '.RS', `.B ${roff(line)}`, '.br', roff(what), '.RE');
    }
  }
  out.push(
    '.SH ENVIRONMENT',
    '.TP', '.B BLAINE_CONFIG', roff('the config file, when --config is not given'),
    '.TP', '.B BLAINE_DB', roff('the host catalog, when neither --db nor the config names one'),
    '.TP', '.B BLAINE_KEY', roff('the key of an encrypted disk, when --key-file is not given'),
    '.SH FILES',
    '.TP', '.I ~/.config/blaine/config.toml', roff('the config file ($XDG_CONFIG_HOME), when BLAINE_CONFIG is not set'),
    '.TP', '.I /etc/blaine/config.toml', roff('the config file when neither of the above exists'),
    '.TP', '.I ~/.local/share/blaine/catalog.sqlite', roff('the host catalog by default ($XDG_DATA_HOME)'),
    '.SH SEE ALSO', roff('README.md of the Blaine repository: the user guide, exit statuses, the systemd units.'),
  );
  return `${out.join('\n')}\n`;
}
