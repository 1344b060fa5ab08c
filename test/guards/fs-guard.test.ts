/**
 * The fs guard, table-driven (Go os.Root style: one escape attempt per line), plus properties.
 */
import { posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  checkPathSyntax,
  decideFs,
  isCanonicalPath,
  isWithinRoot,
  isWriteOperation,
  type FsOperation,
  type FsPolicy,
} from '../../src/guards/fs-guard.js';

const RW: FsPolicy = { read: true, write: true, roots: ['/srv/data', '/tmp/a'] };
const RO: FsPolicy = { ...RW, write: false };
const WO: FsPolicy = { ...RW, read: false };
const NONE: FsPolicy = { read: true, write: true, roots: [] };
const SLASH: FsPolicy = { read: true, write: true, roots: ['/'] };
const NESTED: FsPolicy = { read: true, write: true, roots: ['/srv/data', '/srv/data/sub'] };
const BAD_ROOT: FsPolicy = { read: true, write: true, roots: ['/srv/data/', 'relative', '/srv/../etc'] };

const long = (n: number) => 'a'.repeat(n);

// [policy, op, path, expected ('allow' or rule), why]
const CASES: Array<[FsPolicy, FsOperation, string, string, string]> = [
  // inside
  [RW, 'read-file', '/srv/data/x', 'allow', 'file in a root'],
  [RW, 'read-file', '/srv/data/a/b/c', 'allow', 'deep inside'],
  [RW, 'list-dir', '/srv/data', 'allow', 'the root itself'],
  [RW, 'stat', '/srv/data', 'allow', 'stat the root'],
  [RW, 'read-file', '/tmp/a/b', 'allow', 'second root'],
  [RW, 'write-file', '/srv/data/new', 'allow', 'write inside'],
  [RW, 'make-dir', '/srv/data', 'allow', 'make-dir of an existing root is harmless'],
  [RW, 'make-dir', '/srv/data/d', 'allow', 'make-dir inside'],
  [RW, 'remove', '/srv/data/x', 'allow', 'remove inside'],
  [RW, 'read-file', `/srv/data/${long(255)}`, 'allow', '255-byte component is fine'],
  [RW, 'read-file', '/srv/data/ü', 'allow', 'Unicode name'],
  [RW, 'read-file', '/srv/data/%2e%2e/x', 'allow', 'percent signs are literal in paths'],
  [RW, 'read-file', '/srv/data/..\\x', 'allow', '"..\\x" is an ordinary name on POSIX'],
  [RW, 'read-file', '/srv/data/...', 'allow', '"..." is an ordinary name'],
  [RW, 'read-file', '/srv/data/..foo', 'allow', '"..foo" is an ordinary name'],
  [RW, 'read-file', '/srv/data/ ', 'allow', 'a space is an ordinary name'],
  // outside
  [RW, 'read-file', '/srv/database/x', 'fs.outside_roots', 'prefix sibling of a root'],
  [RW, 'read-file', '/srv/dat', 'fs.outside_roots', 'prefix of a root'],
  [RW, 'read-file', '/tmp/ab', 'fs.outside_roots', 'prefix sibling /tmp/ab'],
  [RW, 'read-file', '/tmp/a-b/c', 'fs.outside_roots', 'sibling with a dash'],
  [RW, 'read-file', '/tmp', 'fs.outside_roots', 'parent of a root'],
  [RW, 'list-dir', '/', 'fs.outside_roots', 'filesystem root'],
  [RW, 'read-file', '/etc/passwd', 'fs.outside_roots', 'classic'],
  [RW, 'write-file', '/etc/cron.d/x', 'fs.outside_roots', 'write outside'],
  [RW, 'read-file', '/SRV/DATA/x', 'fs.outside_roots', 'paths are case-sensitive'],
  [RW, 'read-file', '/proc/self/environ', 'fs.outside_roots', 'host secrets'],
  // not canonical (the capability must resolve first)
  [RW, 'read-file', '/srv/data/../../etc/passwd', 'fs.not_canonical', 'traversal'],
  [RW, 'read-file', '/srv/data/..', 'fs.not_canonical', 'trailing ..'],
  [RW, 'read-file', '/srv/data/x/..', 'fs.not_canonical', 'x/.. even if it stays inside'],
  [RW, 'read-file', '/srv/data/./x', 'fs.not_canonical', 'dot component'],
  [RW, 'read-file', '/srv/data//x', 'fs.not_canonical', 'empty component'],
  [RW, 'read-file', '/srv/data/', 'fs.not_canonical', 'trailing slash'],
  [RW, 'read-file', '//srv/data/x', 'fs.not_canonical', 'leading double slash'],
  [RW, 'read-file', '/./srv/data/x', 'fs.not_canonical', 'leading dot'],
  // syntax
  [RW, 'read-file', '', 'fs.empty_path', 'empty'],
  [RW, 'read-file', 'srv/data/x', 'fs.relative_path', 'relative'],
  [RW, 'read-file', './x', 'fs.relative_path', 'dot-relative'],
  [RW, 'read-file', '../etc/passwd', 'fs.relative_path', 'dotdot-relative'],
  [RW, 'read-file', '~/x', 'fs.relative_path', 'tilde is not expanded'],
  [RW, 'read-file', 'C:\\Windows', 'fs.relative_path', 'Windows path'],
  [RW, 'read-file', '\\\\server\\share', 'fs.relative_path', 'UNC path'],
  [RW, 'read-file', '/srv/data/x\0', 'fs.nul_byte', 'NUL at the end'],
  [RW, 'read-file', '/srv/data/x\0/../../etc/passwd', 'fs.nul_byte', 'NUL truncation trick'],
  [RW, 'read-file', `/srv/data/${long(256)}`, 'fs.component_too_long', '256-byte component'],
  [RW, 'read-file', `/srv/data/${'é'.repeat(128)}`, 'fs.component_too_long', '128 two-byte chars = 256 bytes'],
  [RW, 'read-file', `/srv/data/${Array.from({ length: 20 }, () => long(250)).join('/')}`, 'fs.path_too_long', 'over 4096 bytes'],
  // flags
  [RO, 'read-file', '/srv/data/x', 'allow', 'read-only reads'],
  [RO, 'list-dir', '/srv/data', 'allow', 'read-only lists'],
  [RO, 'stat', '/srv/data/x', 'allow', 'read-only stats'],
  [RO, 'write-file', '/srv/data/x', 'fs.write_not_allowed', 'read-only cannot write'],
  [RO, 'remove', '/srv/data/x', 'fs.write_not_allowed', 'remove needs write'],
  [RO, 'make-dir', '/srv/data/d', 'fs.write_not_allowed', 'make-dir needs write'],
  [RO, 'write-file', '/etc/passwd', 'fs.write_not_allowed', 'flag is checked before roots'],
  [WO, 'write-file', '/srv/data/x', 'allow', 'write-only writes'],
  [WO, 'read-file', '/srv/data/x', 'fs.read_not_allowed', 'write-only cannot read'],
  [WO, 'list-dir', '/srv/data', 'fs.read_not_allowed', 'list needs read'],
  [WO, 'stat', '/srv/data/x', 'fs.read_not_allowed', 'stat needs read'],
  // roots
  [NONE, 'read-file', '/srv/data/x', 'fs.no_roots', 'no roots = no filesystem'],
  [NONE, 'write-file', '/tmp/x', 'fs.no_roots', 'no roots = no filesystem'],
  [BAD_ROOT, 'read-file', '/srv/data/x', 'fs.no_roots', 'non-canonical roots are ignored'],
  [RW, 'remove', '/srv/data', 'fs.remove_root', 'a root cannot be removed'],
  [RW, 'remove', '/tmp/a', 'fs.remove_root', 'second root'],
  [NESTED, 'remove', '/srv/data/sub', 'fs.remove_root', 'nested root cannot be removed either'],
  [NESTED, 'remove', '/srv/data/sub/x', 'allow', 'inside the nested root'],
  [SLASH, 'read-file', '/etc/passwd', 'allow', 'root "/" contains everything'],
  [SLASH, 'remove', '/', 'fs.remove_root', 'but "/" itself cannot be removed'],
];

describe('decideFs', () => {
  it('has a big table', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(50);
  });

  it.each(CASES)('%#: %s %j -> %s (%s)', (policy, op, path, expected) => {
    const d = decideFs(policy, op, path);
    expect(d.allow ? 'allow' : d.rule).toBe(expected);
    if (!d.allow) {
      expect(d.kind).toBe(/empty|nul|relative|too_long|canonical/.test(d.rule) ? 'invalid' : 'denied');
      expect(d.reason.length).toBeGreaterThan(10);
    }
  });

  it('names the path as the skill gave it, not the canonical one', () => {
    const d = decideFs(RW, 'read-file', '/etc/shadow', '/srv/data/link');
    expect(!d.allow && d.reason).toContain('/srv/data/link');
    expect(!d.allow && d.reason).not.toContain('/etc/shadow');
  });

  it('returns the root that matched', () => {
    expect(decideFs(RW, 'read-file', '/tmp/a/x')).toEqual({ allow: true, rule: 'fs.allowed', root: '/tmp/a' });
  });
});

describe('checkPathSyntax / isWriteOperation / isWithinRoot', () => {
  it.each([
    ['/ok', null],
    ['/', null],
    ['', 'fs.empty_path'],
    ['rel', 'fs.relative_path'],
    ['/a\0b', 'fs.nul_byte'],
    [`/${long(4095)}`, 'fs.component_too_long'],
    [`/${long(200)}/${long(200)}`, null],
    [`/${Array.from({ length: 17 }, () => long(250)).join('/')}`, 'fs.path_too_long'],
  ])('%j -> %s', (p, rule) => {
    expect(checkPathSyntax(p)?.rule ?? null).toBe(rule);
  });

  it('write operations', () => {
    expect((['write-file', 'remove', 'make-dir'] as const).every(isWriteOperation)).toBe(true);
    expect((['read-file', 'list-dir', 'stat'] as const).some(isWriteOperation)).toBe(false);
  });

  it.each([
    ['/tmp/a', '/tmp/a', true],
    ['/tmp/a', '/tmp/a/b', true],
    ['/tmp/a', '/tmp/ab', false],
    ['/tmp/a', '/tmp', false],
    ['/', '/anything', true],
    ['/tmp/a/', '/tmp/a/b', false],
    ['/tmp/a', '/tmp/a/../b', false],
  ])('isWithinRoot(%j, %j) = %s', (root, p, want) => {
    expect(isWithinRoot(root, p)).toBe(want);
  });
});

describe('decideFs properties', () => {
  const segment = fc.constantFrom('a', 'b', 'ab', 'data', '..', '.', '', 'link', 'sub', '...', 'srv', 'tmp', 'a\0');
  const prefix = fc.constantFrom('/srv/data', '/srv/dat', '/srv/database', '/tmp/a', '/tmp/ab', '/tmp', '/', '', 'srv/data');
  const pathArb = fc.tuple(prefix, fc.array(segment, { maxLength: 8 })).map(([p, segs]) => [p, ...segs].join('/'));
  const opArb = fc.constantFrom<FsOperation>('read-file', 'write-file', 'list-dir', 'stat', 'remove', 'make-dir');

  /** Independent oracle: component-wise prefix comparison. */
  const inside = (root: string, p: string): boolean => {
    const r = root.split('/').filter(Boolean);
    const c = p.split('/').filter(Boolean);
    return r.length <= c.length && r.every((x, i) => c[i] === x);
  };

  it('never allows a path outside the roots, or a non-canonical one', () => {
    fc.assert(
      fc.property(pathArb, opArb, fc.boolean(), fc.boolean(), (p, op, read, write) => {
        const policy = { read, write, roots: RW.roots };
        const d = decideFs(policy, op, p);
        if (!d.allow) return;
        expect(posix.normalize(p)).toBe(p);
        expect(p.split('/').slice(1)).not.toContain('..');
        expect(RW.roots.some((r) => inside(r, p))).toBe(true);
        expect(op === 'write-file' || op === 'remove' || op === 'make-dir' ? write : read).toBe(true);
        if (op === 'remove') expect(RW.roots).not.toContain(p);
      }),
      { numRuns: 5000 },
    );
  });

  it('on canonical paths, allows exactly the paths inside a root (read+write)', () => {
    fc.assert(
      fc.property(pathArb, opArb, (raw, op) => {
        if (!raw.startsWith('/') || raw.includes('\0')) return;
        const p = posix.normalize(raw).replace(/(.)\/$/, '$1');
        expect(isCanonicalPath(p)).toBe(true);
        const d = decideFs(RW, op, p);
        const expected = RW.roots.some((r) => inside(r, p)) && !(op === 'remove' && RW.roots.includes(p));
        expect(d.allow).toBe(expected);
      }),
      { numRuns: 5000 },
    );
  });
});
