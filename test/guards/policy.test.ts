import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkManifestAgainstPolicy,
  DEFAULT_HOST_POLICY,
  effectiveLimits,
  HostPolicyError,
  loadHostPolicy,
  parseHostPolicy,
  type HostPolicy,
} from '../../src/policy.js';
import type { SkillManifest } from '../../src/types.js';

function manifest(over: {
  allow?: string[];
  fs?: { read?: boolean; write?: boolean; paths?: string[] };
  timeout_ms?: number;
  memory_mb?: number;
}): SkillManifest {
  return {
    id: 'example.test',
    name: 'Test',
    version: '1.0.0',
    description: 'test',
    component: 'dist/skill.wasm',
    commands: { run: {} },
    requires: {
      permissions: {
        ...(over.allow ? { net: { allow_domains: over.allow } } : {}),
        ...(over.fs ? { fs: { read: over.fs.read ?? true, write: over.fs.write ?? false, paths: over.fs.paths ?? [] } } : {}),
      },
      limits: { timeout_ms: over.timeout_ms, memory_mb: over.memory_mb },
    },
  };
}

describe('DEFAULT_HOST_POLICY', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_HOST_POLICY).toMatchObject({
      allowPrivateNetworks: false,
      defaultTimeoutMs: 5000,
      maxTimeoutMs: 60000,
      defaultMemoryMb: 64,
      maxMemoryMb: 512,
    });
  });
});

describe('checkManifestAgainstPolicy', () => {
  it('a plain manifest fits the default policy', () => {
    expect(checkManifestAgainstPolicy(manifest({ allow: ['api.github.com', '*.example.com'], fs: { paths: ['/tmp'] } }), {})).toEqual([]);
  });

  it('names the denied entry and the deny rule', () => {
    const m = manifest({ allow: ['api.github.com', '*.internal.corp'] });
    expect(checkManifestAgainstPolicy(m, { deniedDomains: ['*.internal.corp'], allowPrivateNetworks: true })).toEqual([
      'requires.permissions.net.allow_domains[1] "*.internal.corp" is denied by the host policy (deniedDomains "*.internal.corp")',
    ]);
  });

  it('a wildcard entry that could reach a denied host is refused, not narrowed', () => {
    const out = checkManifestAgainstPolicy(manifest({ allow: ['*.example.com'] }), { deniedDomains: ['admin.example.com'] });
    expect(out).toHaveLength(1);
    expect(out[0]).toContain('allow_domains[0] "*.example.com" is denied');
  });

  it('deny wildcards cover the apex', () => {
    const out = checkManifestAgainstPolicy(manifest({ allow: ['corp.example'] }), { deniedDomains: ['*.corp.example'] });
    expect(out[0]).toContain('deniedDomains "*.corp.example"');
  });

  it('allowedDomains must cover every entry (scheme and port included)', () => {
    const policy: HostPolicy = { allowedDomains: ['*.github.com', 'api.example.com'] };
    const out = checkManifestAgainstPolicy(
      manifest({ allow: ['api.github.com', 'api.example.com', 'http://api.example.com', 'https://api.example.com:8443', 'evil.com'] }),
      policy,
    );
    expect(out).toHaveLength(3);
    expect(out[0]).toMatch(/allow_domains\[2\] "http:\/\/api.example.com" is not covered by the host policy's allowedDomains/);
    expect(out[1]).toMatch(/allow_domains\[3\]/);
    expect(out[2]).toMatch(/allow_domains\[4\] "evil.com"/);
  });

  it('private-only entries need allowPrivateNetworks; metadata never', () => {
    const m = manifest({ allow: ['localhost', '10.0.0.1', 'svc.internal', 'metadata.google.internal', '169.254.169.254', 'api.github.com'] });
    const out = checkManifestAgainstPolicy(m, {});
    expect(out).toHaveLength(5);
    expect(out[0]).toContain('"localhost" can only reach a private network');
    expect(out[3]).toContain('cloud metadata');
    const priv = checkManifestAgainstPolicy(m, { allowPrivateNetworks: true });
    expect(priv).toHaveLength(2);
    expect(priv.every((s) => s.includes('cloud metadata'))).toBe(true);
  });

  it('invalid entries are reported, not thrown', () => {
    const out = checkManifestAgainstPolicy(manifest({ allow: ['ftp://x.com'] }), {});
    expect(out[0]).toMatch(/allow_domains\[0\] "ftp:\/\/x.com" is invalid: .*scheme/);
  });

  it('an invalid host policy list is reported', () => {
    const out = checkManifestAgainstPolicy(manifest({}), { deniedDomains: ['bad/path'] });
    expect(out[0]).toMatch(/host policy deniedDomains\[0\] is invalid/);
  });

  it('fs roots against deniedPaths (both directions) and allowedRoots', () => {
    const m = manifest({ fs: { paths: ['/srv/skills/a', '/etc/app', '/', '/home/u', '/srv/other', '/srv/skills/../../etc'] } });
    const out = checkManifestAgainstPolicy(m, { allowedRoots: ['/srv/skills', '/home'], deniedPaths: ['/etc', '/home/u/.ssh'] });
    expect(out).toEqual([
      'requires.permissions.fs.paths[1] "/etc/app" is denied by the host policy (deniedPaths "/etc"); it also is not inside any of the host policy\'s allowedRoots ("/srv/skills", "/home")',
      'requires.permissions.fs.paths[2] "/" contains "/etc", which the host policy denies (deniedPaths); it also contains "/home/u/.ssh", which the host policy denies (deniedPaths); it also is not inside any of the host policy\'s allowedRoots ("/srv/skills", "/home")',
      'requires.permissions.fs.paths[3] "/home/u" contains "/home/u/.ssh", which the host policy denies (deniedPaths)',
      'requires.permissions.fs.paths[4] "/srv/other" is not inside any of the host policy\'s allowedRoots ("/srv/skills", "/home")',
      'requires.permissions.fs.paths[5] "/srv/skills/../../etc" is denied by the host policy (deniedPaths "/etc"); it also is not inside any of the host policy\'s allowedRoots ("/srv/skills", "/home")',
    ]);
  });

  it('default deniedPaths refuse kernel and config trees', () => {
    const out = checkManifestAgainstPolicy(manifest({ fs: { paths: ['/proc', '/'] } }), {});
    expect(out).toHaveLength(2);
    expect(out[0]).toContain('"/proc" is denied');
  });

  it('relative fs roots are invalid', () => {
    expect(checkManifestAgainstPolicy(manifest({ fs: { paths: ['tmp'] } }), {})[0]).toMatch(/paths\[0\] "tmp" is invalid/);
  });

  it('fs write needs allowFsWrite', () => {
    const out = checkManifestAgainstPolicy(manifest({ fs: { write: true, paths: ['/tmp'] } }), { allowFsWrite: false });
    expect(out).toEqual(['requires.permissions.fs.write true is not allowed by the host policy (allowFsWrite is false)']);
  });

  it('limits above the maxima are refused, not capped', () => {
    const out = checkManifestAgainstPolicy(manifest({ timeout_ms: 120_000, memory_mb: 1024 }), {});
    expect(out).toEqual([
      "requires.limits.timeout_ms 120000 exceeds the host policy's maxTimeoutMs 60000",
      "requires.limits.memory_mb 1024 exceeds the host policy's maxMemoryMb 512",
    ]);
  });
});

describe('effectiveLimits', () => {
  it.each([
    [{}, {}, { timeoutMs: 5000, memoryMb: 64 }],
    [{ timeout_ms: 1000, memory_mb: 32 }, {}, { timeoutMs: 1000, memoryMb: 32 }],
    [{}, { defaultTimeoutMs: 2000, defaultMemoryMb: 128 }, { timeoutMs: 2000, memoryMb: 128 }],
    [{}, { maxTimeoutMs: 1000, maxMemoryMb: 16 }, { timeoutMs: 1000, memoryMb: 16 }],
    [{ timeout_ms: 90_000 }, {}, { timeoutMs: 60_000, memoryMb: 64 }],
  ] as const)('%j with %j -> %j', (limits, policy, want) => {
    expect(effectiveLimits(manifest(limits), policy)).toEqual(want);
  });
});

describe('loadHostPolicy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agentos-policy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('reads YAML', () => {
    const p = file('p.yaml', 'allowPrivateNetworks: true\ndeniedDomains: ["*.internal"]\nmaxTimeoutMs: 10000\n');
    expect(loadHostPolicy(p)).toEqual({ allowPrivateNetworks: true, deniedDomains: ['*.internal'], maxTimeoutMs: 10000 });
  });

  it('reads JSON', () => {
    const p = file('p.json', '{"allowedRoots": ["/srv"], "allowFsWrite": false}');
    expect(loadHostPolicy(p)).toEqual({ allowedRoots: ['/srv'], allowFsWrite: false });
  });

  it('an empty file is the default policy', () => {
    expect(loadHostPolicy(file('empty.yaml', ''))).toEqual({});
  });

  it.each([
    ['unknown.yaml', 'allowPrivateNetwork: true\n', /unknown key "allowPrivateNetwork"/],
    ['type.yaml', 'maxTimeoutMs: fast\n', /maxTimeoutMs: .*expected number/],
    ['neg.yaml', 'maxMemoryMb: -5\n', /maxMemoryMb: /],
    ['entry.yaml', 'deniedDomains: [ok.com, "ftp://x"]\n', /deniedDomains\[1\]: .*scheme "ftp:"/],
    ['path.yaml', 'deniedPaths: [relative]\n', /deniedPaths\[0\]: .*not absolute/],
    ['order.yaml', 'defaultTimeoutMs: 90000\n', /defaultTimeoutMs: 90000 is above maxTimeoutMs 60000/],
    ['list.yaml', '- a\n- b\n', /expected a mapping/],
    ['bad.json', '{"a":', /not valid JSON/],
    ['bad.yaml', 'a: [\n', /not valid YAML/],
  ])('%s is refused with a message naming the key', (name, text, re) => {
    const p = file(name, text);
    expect(() => loadHostPolicy(p)).toThrow(HostPolicyError);
    expect(() => loadHostPolicy(p)).toThrow(re);
    expect(() => loadHostPolicy(p)).toThrow(p);
  });

  it('a missing file is a clear error', () => {
    expect(() => loadHostPolicy(join(dir, 'nope.yaml'))).toThrow(/cannot read the host policy file \(ENOENT\)/);
  });

  it('parseHostPolicy validates objects from code', () => {
    expect(() => parseHostPolicy({ allowedDomains: ['*'] })).toThrow(/allowedDomains\[0\]/);
    expect(() => parseHostPolicy({ allowedDomains: ['*.internal'] })).toThrow(/too broad/);
    expect(parseHostPolicy({ deniedDomains: ['*.internal'] })).toEqual({ deniedDomains: ['*.internal'] });
  });
});
