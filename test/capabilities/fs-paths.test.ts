/**
 * Path resolution (src/capabilities/fs-paths.ts) on a real tree with real symlinks: for each
 * path, the canonical candidate the fs guard decides on and what resolution found there. One row
 * a case. `R` is the root, `O` a directory beside it; both are realpath'd temp dirs.
 *
 * Layout:
 *   B/outside/secret.txt
 *   B/root/file.txt, B/root/sub/inner.txt
 *   B/root/abs-out -> B/outside/secret.txt      B/root/rel-out -> ../outside/secret.txt
 *   B/root/dir-out -> B/outside                 B/root/up -> ..
 *   B/root/in-link -> file.txt                  B/root/sub-link -> sub      B/root/dot-link -> sub/.
 *   B/root/dangling-in -> nope.txt              B/root/dangling-out -> B/outside/created.txt
 *   B/root/dchain -> dangling-out               B/root/dangling-dir -> newdir
 *   B/root/loop -> loop                         B/root/loop-a -> loop-b -> loop-a
 *   B/root/hops0 -> hops1 -> ... -> hops41 (missing): 41 links from hops0, 40 from hops1
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalRoots, MAX_LINK_HOPS, resolveFor, type RootOptions, type Status } from '../../src/capabilities/fs-paths.js';

let BASE = '';
let R = '';
let O = '';

beforeAll(() => {
  BASE = realpathSync(mkdtempSync(join(tmpdir(), 'agentos-fs-paths-')));
  R = `${BASE}/root`;
  O = `${BASE}/outside`;
  mkdirSync(`${R}/sub`, { recursive: true });
  mkdirSync(O);
  writeFileSync(`${R}/file.txt`, 'hello');
  writeFileSync(`${R}/sub/inner.txt`, 'inner');
  writeFileSync(`${O}/secret.txt`, 'secret');
  const links: Array<[string, string]> = [
    ['abs-out', `${O}/secret.txt`],
    ['rel-out', '../outside/secret.txt'],
    ['dir-out', O],
    ['up', '..'],
    ['in-link', 'file.txt'],
    ['sub-link', 'sub'],
    ['dot-link', 'sub/.'],
    ['dangling-in', 'nope.txt'],
    ['dangling-out', `${O}/created.txt`],
    ['dchain', 'dangling-out'],
    ['dangling-dir', 'newdir'],
    ['loop', 'loop'],
    ['loop-a', 'loop-b'],
    ['loop-b', 'loop-a'],
  ];
  for (let i = 0; i <= MAX_LINK_HOPS; i++) links.push([`hops${i}`, `hops${i + 1}`]);
  for (const [name, target] of links) symlinkSync(target, `${R}/${name}`);
});
afterAll(() => {
  if (BASE) rmSync(BASE, { recursive: true, force: true });
});

/** `R…` / `O…` / `B…` written short in the table, expanded here (plain concatenation, no normalising). */
const expand = (p: string): string => (p.startsWith('R') ? R + p.slice(1) : p.startsWith('O') ? O + p.slice(1) : p.startsWith('B') ? BASE + p.slice(1) : p);
const longName = 'n'.repeat(256);
const deep = (n: number): string => Array.from({ length: n }, () => 'd').join('/');

const F = true; // follow the final component (read-file, write-file, list-dir, make-dir)
const L = false; // lstat semantics (stat, remove)

// [path, follow, candidate, status, missing, `..` after a missing component, errno]
const CASES: Array<[string, boolean, string, Status, number, boolean, string?]> = [
  // plain paths and lexical forms
  ['R', F, 'R', 'exists', 0, false],
  ['R/', F, 'R', 'exists', 0, false],
  ['/', F, '/', 'exists', 0, false],
  ['/..', F, '/', 'exists', 0, false],
  ['R/file.txt', F, 'R/file.txt', 'exists', 0, false],
  ['R/./sub/../file.txt', F, 'R/file.txt', 'exists', 0, false],
  ['R//sub///inner.txt', F, 'R/sub/inner.txt', 'exists', 0, false],
  // missing parts: the deepest existing ancestor, then the rest lexically
  ['R/new.txt', F, 'R/new.txt', 'missing', 1, false],
  ['R/a/b/c', F, 'R/a/b/c', 'missing', 3, false],
  ['R//sub///new', F, 'R/sub/new', 'missing', 1, false],
  ['R/new/', F, 'R/new', 'missing', 1, false],
  ['R/a/../file.txt', F, 'R/file.txt', 'missing', 2, true],
  ['R/a/../../outside/secret.txt', F, 'O/secret.txt', 'missing', 3, true],
  // symlinks resolve as the kernel would, inside or out
  ['R/in-link', F, 'R/file.txt', 'exists', 0, false],
  ['R/abs-out', F, 'O/secret.txt', 'exists', 0, false],
  ['R/rel-out', F, 'O/secret.txt', 'exists', 0, false],
  ['R/dir-out/secret.txt', F, 'O/secret.txt', 'exists', 0, false],
  ['R/dir-out/new', F, 'O/new', 'missing', 1, false],
  ['R/up/outside/secret.txt', F, 'O/secret.txt', 'exists', 0, false],
  ['R/dot-link', F, 'R/sub', 'exists', 0, false],
  ['R/sub-link/../file.txt', F, 'R/file.txt', 'exists', 0, false],
  ['R/dir-out/../root/file.txt', F, 'R/file.txt', 'exists', 0, false],
  // dangling links: decided on where they would lead
  ['R/dangling-in', F, 'R/nope.txt', 'dangling', 1, false],
  ['R/dangling-out', F, 'O/created.txt', 'dangling', 1, false],
  ['R/dchain', F, 'O/created.txt', 'dangling', 1, false],
  ['R/dangling-dir/x', F, 'R/newdir/x', 'dangling', 2, false],
  [`R/hops${MAX_LINK_HOPS - 1}`, F, `R/hops${MAX_LINK_HOPS + 1}`, 'dangling', 1, false],
  ['R/hops1', F, `R/hops${MAX_LINK_HOPS + 1}`, 'dangling', 1, false],
  ['R/hops0', F, 'R/hops0', 'error', 1, false, 'ELOOP'],
  // loops and other errors: the errno, never a guess
  ['R/loop', F, 'R/loop', 'error', 1, false, 'ELOOP'],
  ['R/loop-a/x', F, 'R/loop-a/x', 'error', 2, false, 'ELOOP'],
  ['R/file.txt/x', F, 'R/file.txt/x', 'error', 1, false, 'ENOTDIR'],
  ['R/a\0b', F, 'R/a\0b', 'error', 1, false, 'ERR_INVALID_ARG_VALUE'],
  // long paths
  [`R/${longName}`, F, `R/${longName}`, 'error', 1, false, 'ENAMETOOLONG'],
  [`R/${deep(1500)}`, F, `R/${deep(1500)}`, 'missing', 1500, false],
  [`R/${deep(2100)}`, F, `R/${deep(2100)}`, 'missing', 2100, false], // over PATH_MAX: checkPathSyntax refuses it first
  // lstat semantics: the final component is not followed...
  ['R/in-link', L, 'R/in-link', 'exists', 0, false],
  ['R/abs-out', L, 'R/abs-out', 'exists', 0, false],
  ['R/dangling-out', L, 'R/dangling-out', 'exists', 0, false],
  ['R/loop', L, 'R/loop', 'exists', 0, false],
  ['R/dir-out/secret.txt', L, 'O/secret.txt', 'exists', 0, false],
  ['R/new/x', L, 'R/new/x', 'missing', 2, false],
  // ...unless a trailing slash or a final `.` / `..` says follow
  ['R/sub-link/', L, 'R/sub', 'exists', 0, false],
  ['R/sub-link/.', L, 'R/sub', 'exists', 0, false],
  ['R/sub/..', L, 'R', 'exists', 0, false],
  ['R/up/root/..', L, 'B', 'exists', 0, false],
];

describe('resolveFor: the candidate the guard decides on', () => {
  const short = (p: string): string => (p.length > 60 ? `${p.slice(0, 30)}... (${p.length} chars)` : JSON.stringify(p));
  const title = ([given, follow, candidate, status]: (typeof CASES)[number]): string =>
    `${short(given)} (${follow ? 'follow' : 'lstat'}) -> ${short(candidate)} ${status}`;
  it.each(CASES.map((c) => [title(c), ...c] as const))('%s', (_title, given, follow, candidate, status, missing, dotdot, code) => {
    const r = resolveFor(expand(given), follow);
    expect({ candidate: r.candidate, status: r.status, missing: r.missing, dotdot: r.dotdotAfterMissing, code: r.code }).toEqual({
      candidate: expand(candidate),
      status,
      missing,
      dotdot,
      code,
    });
  });
});

// [roots, options, usable, unusable notes (substring of each, in order)]
const ROOTS: Array<[string[], RootOptions, string[], string[]]> = [
  [['R'], {}, ['R'], []],
  [['R', 'R/', 'R/sub/..'], {}, ['R'], []],
  [['R/sub-link'], {}, ['R/sub'], []],
  [['R/missing'], {}, [], ['does not exist']],
  [['R/dangling-in'], {}, [], ['does not exist']],
  [['R/loop'], {}, [], ['cannot be resolved']],
  [['relative'], {}, [], ['not a valid absolute path']],
  [['R/a\0b'], {}, [], ['not a valid absolute path']],
  [['R/sub-link'], { protectedPaths: ['R/sub'] }, [], ['inside a directory the host keeps for itself']],
  [['R/sub-link'], { protectedPaths: ['R/dot-link'] }, [], ['inside a directory the host keeps for itself']],
  [['R/dir-out'], { deniedPaths: ['O'] }, [], ['resolves to a path the host policy does not allow']],
  [['R/dir-out'], { allowedRoots: ['R'] }, [], ['resolves to a path the host policy does not allow']],
  [['R/sub-link', 'R/missing'], { allowedRoots: ['R'] }, ['R/sub'], ['does not exist']],
];

describe('canonicalRoots: which roots are usable', () => {
  it.each(ROOTS)('%j %j -> %j %j', (roots, opts, usable, unusable) => {
    const ex = (l: string[] | undefined) => l?.map(expand);
    const rs = canonicalRoots(roots.map(expand), { allowedRoots: ex(opts.allowedRoots), deniedPaths: ex(opts.deniedPaths), protectedPaths: ex(opts.protectedPaths as string[]) });
    expect(rs.usable).toEqual(usable.map(expand));
    expect(rs.unusable).toHaveLength(unusable.length);
    unusable.forEach((note, i) => expect(rs.unusable[i]).toContain(note));
  });
});

// [canonical path, inside root R with R/sub protected]
const CONTAINS: Array<[string, boolean]> = [
  ['R', true],
  ['R/file.txt', true],
  ['R/subway', true],
  ['R/sub', false],
  ['R/sub/inner.txt', false],
  ['O/secret.txt', false],
  ['B', false],
  ['R/../outside', false],
  ['R/', false],
];

describe('FsRoots.contains: canonical containment, protected directories carved out', () => {
  it.each(CONTAINS)('%s -> %s', (p, want) => {
    const rs = canonicalRoots([R], { protectedPaths: [`${R}/sub`] });
    expect(rs.contains(expand(p))).toBe(want);
  });
});
