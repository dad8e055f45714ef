import test from 'node:test';
import assert from 'node:assert/strict';
import { ExclusionError, ExclusionFilter, type Rule } from './exclude.js';
import { parseSnapraidConf } from './snapraid-conf.js';

/** 'exclude *.tmp' -> { kind: 'exclude', pattern: '*.tmp' } */
function rules(...lines: string[]): Rule[] {
  return lines.map((l) => {
    const at = l.indexOf(' ');
    const kind = l.slice(0, at);
    assert.ok(kind === 'exclude' || kind === 'include', l);
    return { kind, pattern: l.slice(at + 1) };
  });
}

type Case = [rules: string[], path: string, isDir: boolean, excluded: boolean, why: string];

const FILE = false;
const DIR = true;

const CASES: Case[] = [
  // no rules at all
  [[], 'a/b.txt', FILE, false, 'nothing excludes without rules'],
  [[], 'a', DIR, false, 'nothing prunes without rules'],

  // first match wins, in the order given
  [['include keep.tmp', 'exclude *.tmp'], 'keep.tmp', FILE, false, 'earlier include wins'],
  [['include keep.tmp', 'exclude *.tmp'], 'x/other.tmp', FILE, true, 'only the exclude matches'],
  [['exclude *.tmp', 'include keep.tmp'], 'keep.tmp', FILE, true, 'earlier exclude wins'],
  [['exclude /a/', 'include /a/'], 'a', DIR, true, 'first directory rule wins'],
  [['include /a/', 'exclude /a/'], 'a', DIR, false, 'first directory rule wins the other way'],
  [['include /a/', 'exclude *.tmp'], 'a/x.tmp', FILE, false, 'an include of the directory wins over a later file exclude'],
  [['exclude *.tmp', 'include /a/'], 'a/x.tmp', FILE, true, 'an earlier file exclude wins inside an included directory'],

  // with no match, the last rule decides the default for files
  [['include /movies/'], 'readme.txt', FILE, true, 'last rule include: unmatched top-level file is excluded'],
  [['include /movies/'], 'music/a.mp3', FILE, true, 'last rule include: unmatched nested file is excluded'],
  [['include /movies/'], 'movies/a.mkv', FILE, false, 'file inside the included directory'],
  [['include /movies/'], 'movies/x/y/a.mkv', FILE, false, 'file deep inside the included directory'],
  [['exclude *.tmp', 'include /movies/'], 'music/a.mp3', FILE, true, 'last rule include, earlier exclude does not change it'],
  [['include /movies/', 'exclude *.tmp'], 'music/a.mp3', FILE, false, 'last rule exclude: unmatched file is included'],
  [['exclude *.tmp'], 'a.txt', FILE, false, 'only excludes: unmatched file is included'],

  // directories are never excluded by default: only a matching DIR/ exclude prunes one
  [['include /movies/'], 'music', DIR, false, 'include-only rules still walk other directories'],
  [['include /movies/'], 'movies', DIR, false, 'included directory is walked'],
  [['include *.mkv'], 'anything', DIR, false, 'a file include never prunes a directory'],
  [['exclude *'], 'anything', DIR, false, 'a file exclude never prunes a directory'],
  [['exclude *'], 'anything/x', FILE, true, 'but it does exclude the files'],

  // NAME matches files only, at any depth; NAME/ matches directories and everything inside
  [['exclude cache'], 'cache', FILE, true, 'NAME: file at the top'],
  [['exclude cache'], 'a/b/cache', FILE, true, 'NAME: file at any depth'],
  [['exclude cache'], 'a/cache', DIR, false, 'NAME: never a directory'],
  [['exclude cache'], 'a/cache/x', FILE, false, 'NAME: not the files inside a directory of that name'],
  [['exclude cache'], 'a/cache.db', FILE, false, 'NAME: whole name only'],
  [['exclude cache/'], 'a/cache', DIR, true, 'NAME/: directory at any depth'],
  [['exclude cache/'], 'cache', DIR, true, 'NAME/: directory at the top'],
  [['exclude cache/'], 'a/cache/x/y', FILE, true, 'NAME/: everything inside'],
  [['exclude cache/'], 'a/cache', FILE, false, 'NAME/: never a file'],
  [['exclude cache/'], 'a/cachex/y', FILE, false, 'NAME/: whole component only'],

  // a leading '/' anchors at the data path
  [['exclude /tmp/'], 'tmp', DIR, true, 'anchored directory at the top'],
  [['exclude /tmp/'], 'a/tmp', DIR, false, 'anchored directory is not matched deeper'],
  [['exclude /tmp/'], 'tmp/x', FILE, true, 'anchored directory covers its files'],
  [['exclude /tmp/'], 'a/tmp/x', FILE, false, 'anchored directory does not cover deeper namesakes'],
  [['exclude /notes.txt'], 'notes.txt', FILE, true, 'anchored file at the top'],
  [['exclude /notes.txt'], 'a/notes.txt', FILE, false, 'anchored file only at the top'],
  [['exclude /a/b.txt'], 'a/b.txt', FILE, true, 'anchored path'],
  [['exclude /a/b.txt'], 'x/a/b.txt', FILE, false, 'anchored path only from the top'],

  // an inner '/' matches at any component boundary
  [['exclude b/c'], 'b/c', FILE, true, 'inner slash from the top'],
  [['exclude b/c'], 'a/b/c', FILE, true, 'inner slash after a component'],
  [['exclude b/c'], 'ab/c', FILE, false, 'inner slash only at a component boundary'],
  [['exclude b/c'], 'a/b/c/d', FILE, false, 'a file pattern must reach the end of the path'],
  [['exclude b/c/'], 'x/b/c', DIR, true, 'inner slash directory'],
  [['exclude b/c/'], 'xb/c', DIR, false, 'inner slash directory only at a boundary'],
  [['exclude b/c/'], 'x/b/c/d.txt', FILE, true, 'inner slash directory covers its files'],

  // ?, * and [...] never cross '/'
  [['exclude a?c'], 'abc', FILE, true, '? is one character'],
  [['exclude a?c'], 'a/c', FILE, false, '? does not match /'],
  [['exclude a?c'], 'ac', FILE, false, '? needs a character'],
  [['exclude /a*c'], 'abbbc', FILE, true, '* spans characters'],
  [['exclude /a*c'], 'ac', FILE, true, '* may be empty'],
  [['exclude /a*c'], 'ab/bc', FILE, false, '* does not match /'],
  [['exclude /*.txt'], 'a.txt', FILE, true, '* within the top component'],
  [['exclude /*.txt'], 'd/a.txt', FILE, false, '* does not reach into a subdirectory'],
  [['exclude *.txt'], 'd/e/a.txt', FILE, true, 'an unanchored * pattern still matches the last component'],
  [['exclude /a[bx]c'], 'axc', FILE, true, 'class member'],
  [['exclude /a[bx]c'], 'ayc', FILE, false, 'not a class member'],
  [['exclude /a[!bx]c'], 'ayc', FILE, true, 'negated class with !'],
  [['exclude /a[^bx]c'], 'abc', FILE, false, 'negated class with ^'],
  [['exclude /a[0-9]c'], 'a7c', FILE, true, 'class range'],
  [['exclude /a[!x]c'], 'a/c', FILE, false, 'even a negated class does not match /'],
  [['exclude /a[/]c'], 'a/c', FILE, false, 'a class holding / still does not match /'],
  [['exclude *.JPG'], 'a.jpg', FILE, false, 'matching is case-sensitive'],

  // ** crosses '/' when it touches a slash
  [['exclude /photos/**/*.jpg'], 'photos/a.jpg', FILE, true, '/**/ may stand for no directory'],
  [['exclude /photos/**/*.jpg'], 'photos/2020/x/a.jpg', FILE, true, '/**/ spans directories'],
  [['exclude /photos/**/*.jpg'], 'other/photos/a.jpg', FILE, false, 'still anchored'],
  [['exclude **/x.log'], 'x.log', FILE, true, 'leading **/ may stand for nothing'],
  [['exclude /**.jpg'], 'a/b/c.jpg', FILE, true, 'anchored leading ** crosses directories'],
  [['exclude /a/**'], 'a/b/c', FILE, true, 'trailing /** spans everything below'],
  [['exclude /a/**'], 'a', FILE, false, 'trailing /** needs the slash'],
  [['exclude /a**b.txt'], 'axxb.txt', FILE, true, '** away from a slash spans characters'],
  [['exclude /a**b.txt'], 'a/x/b.txt', FILE, false, '** away from a slash acts like * and does not cross'],
  [['exclude /a/**/'], 'a/b', DIR, true, 'directories below a'],
  [['exclude /a/**/'], 'a', DIR, false, 'not a itself'],
  [['exclude /a/**/'], 'a/f', FILE, true, 'SnapRAID: a trailing ** in a DIR/ rule also covers files directly in a'],

  // escapes, and byte-wise matching
  [['exclude /foo\\*bar'], 'foo*bar', FILE, true, 'escaped * is literal'],
  [['exclude /foo\\*bar'], 'fooXbar', FILE, false, 'escaped * is not a wildcard'],
  [['exclude /a\\[1\\]'], 'a[1]', FILE, true, 'escaped brackets are literal'],
  [['exclude /caf?'], 'café', FILE, false, 'SnapRAID: ? is one byte, é is two'],
  [['exclude /caf??'], 'café', FILE, true, 'two ? cover the two bytes of é'],
  [['exclude /café/'], 'café', DIR, true, 'non-ASCII literal directory'],
];

for (const [ruleLines, path, isDir, excluded, why] of CASES) {
  test(`${why}: [${ruleLines.join(', ')}] ${isDir ? 'dir' : 'file'} ${path} -> ${excluded ? 'excluded' : 'kept'}`, () => {
    const f = new ExclusionFilter(rules(...ruleLines));
    assert.equal(isDir ? f.excludesDir(path) : f.excludesFile(path), excluded);
  });
}

test('--exclude-regex tests the relative path with an unanchored search', () => {
  const f = new ExclusionFilter([], ['^tmp/', '\\.bak$']);
  assert.equal(f.empty, false);
  assert.equal(f.excludesFile('tmp/x'), true);
  assert.equal(f.excludesFile('a/tmp/x'), false);
  assert.equal(f.excludesFile('a/b/c.bak'), true);
  assert.equal(f.excludesFile('a/b/c.bakx'), false);
});

test('--exclude-regex never prunes a directory', () => {
  const f = new ExclusionFilter([], ['^tmp$']);
  assert.equal(f.excludesDir('tmp'), false);
  assert.equal(f.excludesFile('tmp/x'), false);
  assert.equal(f.excludesFile('tmp'), true);
});

test('--exclude-regex excludes even what an include rule keeps', () => {
  const f = new ExclusionFilter(rules('include *.bak'), ['\\.bak$']);
  assert.equal(f.excludesFile('a.bak'), true);
});

test('empty is true only without rules and regexes', () => {
  assert.equal(new ExclusionFilter([]).empty, true);
  assert.equal(new ExclusionFilter([], []).empty, true);
  assert.equal(new ExclusionFilter(rules('exclude x')).empty, false);
});

for (const bad of ['', '/', '/**/', 'a//b', 'a/./b', 'a/../b', '.', '..', 'a/.', '[abc', 'a/[b-z', 'foo\\\\[bar']) {
  test(`invalid pattern ${JSON.stringify(bad)} is refused with one sentence`, () => {
    assert.throws(
      () => new ExclusionFilter([{ kind: 'exclude', pattern: bad }]),
      (e: unknown) => e instanceof ExclusionError && /^Invalid exclude pattern ".*": [^\n]+\.$/.test(e.message),
    );
  });
}

for (const good of ['...', '.hidden', 'a/...', '/.../', 'foo\\[bar', '[]', '**', '**/', '/**', 'a b/']) {
  test(`pattern ${JSON.stringify(good)} is accepted`, () => {
    assert.doesNotThrow(() => new ExclusionFilter([{ kind: 'include', pattern: good }]));
  });
}

test('an invalid regex is refused with one sentence', () => {
  assert.throws(
    () => new ExclusionFilter([], ['(']),
    (e: unknown) => e instanceof ExclusionError && /^Invalid --exclude-regex "\(": [^\n]+\.$/.test(e.message),
  );
});

test('parseSnapraidConf keeps exclude/include lines in order and ignores the rest', () => {
  const conf = [
    '# Example configuration for snapraid',
    'parity /mnt/diskp/snapraid.parity',
    'content /var/snapraid/snapraid.content',
    'data d1 /mnt/disk1/',
    'disk d2 /mnt/disk2/',
    '',
    '   ',
    'nohidden',
    '#exclude /commented-out/',
    '  # exclude /also-commented/',
    'exclude *.unrecoverable',
    '\texclude\t/lost+found/  ',
    'exclude /My Documents/',
    'include /movies/\r',
    'excluded /not-a-rule/',
    'include /mu#sic/ ',
    'autosave 500',
  ].join('\n');
  assert.deepEqual(parseSnapraidConf(conf), [
    { kind: 'exclude', pattern: '*.unrecoverable' },
    { kind: 'exclude', pattern: '/lost+found/' },
    { kind: 'exclude', pattern: '/My Documents/' },
    { kind: 'include', pattern: '/movies/' },
    { kind: 'include', pattern: '/mu#sic/' },
  ]);
});

test('parseSnapraidConf: CRLF files and a missing final newline', () => {
  assert.deepEqual(parseSnapraidConf('exclude a\r\ninclude /b/'), [
    { kind: 'exclude', pattern: 'a' },
    { kind: 'include', pattern: '/b/' },
  ]);
  assert.deepEqual(parseSnapraidConf(''), []);
});

test('parseSnapraidConf refuses an empty or invalid rule and names the line', () => {
  assert.throws(() => parseSnapraidConf('parity /p\nexclude   \n'), (e: unknown) => e instanceof ExclusionError && /line 2\b/.test(e.message));
  assert.throws(() => parseSnapraidConf('# x\n\nexclude a//b\n'), (e: unknown) => e instanceof ExclusionError && /line 3\b/.test(e.message) && /\.$/.test(e.message));
});

test('rules parsed from a SnapRAID config drive the filter', () => {
  const f = new ExclusionFilter(parseSnapraidConf('exclude *.tmp\nexclude tmp/\ninclude /movies/\n'));
  assert.equal(f.excludesFile('movies/a.mkv'), false);
  assert.equal(f.excludesFile('movies/a.tmp'), true);
  assert.equal(f.excludesDir('movies/tmp'), true);
  assert.equal(f.excludesDir('music'), false);
  assert.equal(f.excludesFile('music/a.mp3'), true);
});
