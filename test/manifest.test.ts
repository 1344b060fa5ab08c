import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ManifestError } from '../src/errors.js';
import { diffPermissions, loadManifest, parseManifest, permissionSummary } from '../src/manifest.js';
import type { SkillManifest } from '../src/types.js';

const VALID = `
id: example.github
name: GitHub fetcher
version: 1.0.0
description: Fetch data from the GitHub API
entry: src/index.ts
component: dist/skill.wasm
commands:
  fetch:
    description: GET / on an allowed domain
    args:
      type: object
      required: [domain]
      properties: { domain: { type: string } }
requires:
  permissions:
    net:
      allow_domains: [api.github.com, "*.example.com"]
    fs:
      read: true
      write: false
      paths: [/tmp]
  limits:
    timeout_ms: 5000
    memory_mb: 64
`;

/** A valid manifest as an object, to derive broken variants from. */
function base(): Record<string, any> {
  return {
    id: 'example.test',
    name: 'Test',
    version: '1.0.0',
    description: 'd',
    component: 'dist/skill.wasm',
    commands: { run: { description: 'r', args: { type: 'object', properties: { a: { type: 'string' } } } } },
    requires: {
      permissions: { net: { allow_domains: ['api.example.com'] }, fs: { read: true, write: false, paths: ['/tmp'] } },
      limits: { timeout_ms: 1000, memory_mb: 32 },
    },
  };
}

function variant(change: (m: Record<string, any>) => void): string {
  const m = base();
  change(m);
  return stringify(m);
}

function refusal(text: string): ManifestError {
  try {
    parseManifest(text, '/skills/x/skill.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ManifestError);
    return e as ManifestError;
  }
  throw new Error('manifest was accepted');
}

describe('parseManifest: valid manifests', () => {
  it('parses the DESIGN.md example', () => {
    const m = parseManifest(VALID, 'skill.yaml');
    expect(m).toEqual({
      id: 'example.github',
      name: 'GitHub fetcher',
      version: '1.0.0',
      description: 'Fetch data from the GitHub API',
      entry: 'src/index.ts',
      component: 'dist/skill.wasm',
      commands: {
        fetch: {
          description: 'GET / on an allowed domain',
          args: { type: 'object', required: ['domain'], properties: { domain: { type: 'string' } } },
        },
      },
      requires: {
        permissions: {
          net: { allow_domains: ['api.github.com', '*.example.com'] },
          fs: { read: true, write: false, paths: ['/tmp'] },
        },
        limits: { timeout_ms: 5000, memory_mb: 64 },
      },
    } satisfies SkillManifest);
  });

  it('fills defaults: requires, permissions, limits, fs flags', () => {
    const m = parseManifest(
      'id: a\nname: A\nversion: 0.1.0-beta.1+build.5\ndescription: ""\ncomponent: a.wasm\nengine: starlingmonkey\ncommands: { go: {} }\n',
      'skill.yaml',
    );
    expect(m.requires).toEqual({ permissions: {}, limits: {} });
    expect(m.engine).toBe('starlingmonkey');
    const m2 = parseManifest(variant((x) => (x['requires'] = { permissions: { fs: { paths: ['/data'] } } })), 'f');
    expect(m2.requires.permissions.fs).toEqual({ read: false, write: false, paths: ['/data'] });
    expect(m2.requires.limits).toEqual({});
  });

  it('treats an empty `requires:` / `permissions:` as absent', () => {
    const m = parseManifest(variant((x) => (x['requires'] = null)), 'f');
    expect(m.requires).toEqual({ permissions: {}, limits: {} });
    const m2 = parseManifest(variant((x) => (x['requires'] = { permissions: null, limits: null })), 'f');
    expect(m2.requires).toEqual({ permissions: {}, limits: {} });
  });

  it('accepts http:// and port entries, ids with dots/dashes, command names with dashes', () => {
    const m = parseManifest(
      variant((x) => {
        x['id'] = 'my-org.skill_1';
        x['commands'] = { 'get-all': {}, Run_2: {} };
        x['requires'].permissions.net.allow_domains = ['http://legacy.example.com', 'https://api.example.com:8443'];
      }),
      'f',
    );
    expect(Object.keys(m.commands)).toEqual(['get-all', 'Run_2']);
  });
});

describe('parseManifest: malformed manifests name the key', () => {
  // [case, manifest text, key path of the (first) issue, message pattern]
  const cases: [string, string, string, RegExp][] = [
    ['missing id', variant((m) => delete m['id']), 'id', /is required \(expected an id matching/],
    ['id not a string', variant((m) => (m['id'] = 42)), 'id', /expected an id matching .*, found a positive integer \(line 1, column 5\)$/],
    ['bad id (uppercase)', variant((m) => (m['id'] = 'Example.Hello')), 'id', /expected an id matching.*found a string \(13 characters\)/],
    ['bad id (leading dot)', variant((m) => (m['id'] = '.hidden')), 'id', /found a string \(7 characters\)/],
    ['bad id (slash)', variant((m) => (m['id'] = 'a/b')), 'id', /expected an id matching/],
    ['id too long', variant((m) => (m['id'] = 'a'.repeat(129))), 'id', /at most 128/],
    ['missing name', variant((m) => delete m['name']), 'name', /is required/],
    ['bad semver', variant((m) => (m['version'] = '1.0')), 'version', /expected a semver version.*found a string \(3 characters\) \(line \d+, column \d+\)/],
    ['version as number', 'id: a\nname: A\nversion: 1.0\ndescription: d\ncomponent: a.wasm\ncommands: {go: {}}\n', 'version', /expected a semver version such as 1.0.0, found a number \(quote it to make it a string\) \(line 3, column 10\)/],
    ['semver leading zero', variant((m) => (m['version'] = '01.0.0')), 'version', /semver/],
    ['missing component', variant((m) => delete m['component']), 'component', /is required/],
    ['component absolute', variant((m) => (m['component'] = '/etc/skill.wasm')), 'component', /relative to the skill folder, not an absolute path/],
    ['component escaping with ../', variant((m) => (m['component'] = '../other/skill.wasm')), 'component', /inside the skill folder \(no '\.\.' segments\)/],
    ['component escaping mid-path', variant((m) => (m['component'] = 'dist/../../x.wasm')), 'component', /no '\.\.' segments/],
    ['component Windows absolute', variant((m) => (m['component'] = 'C:\\x\\skill.wasm')), 'component', /not an absolute path/],
    ['component empty', variant((m) => (m['component'] = '')), 'component', /non-empty/],
    ['entry escaping', variant((m) => (m['entry'] = '../../src/index.ts')), 'entry', /no '\.\.' segments/],
    ['bad engine', variant((m) => (m['engine'] = 'v8')), 'engine', /expected one of "quickjs", "starlingmonkey", found a string \(2 characters\)/],
    ['unknown top-level key', variant((m) => (m['permissions'] = {})), 'permissions', /unknown key 'permissions'/],
    ['typo allow_domain', variant((m) => (m['requires'].permissions.net = { allow_domain: ['a.com'] })), 'requires.permissions.net.allow_domain', /unknown key 'allow_domain' \(did you mean 'allow_domains'\?\)/],
    ['typo in fs (writable)', variant((m) => (m['requires'].permissions.fs.writable = true)), 'requires.permissions.fs.writable', /unknown key 'writable' \(allowed keys: read, write, paths\)/],
    ['typo in requires (permission)', variant((m) => (m['requires'] = { permission: {} })), 'requires.permission', /did you mean 'permissions'/],
    ['typo in command spec', variant((m) => (m['commands'].run.arguments = {})), 'commands.run.arguments', /unknown key 'arguments'.*allowed keys: description, args/],
    ['allow_domains not an array', variant((m) => (m['requires'].permissions.net.allow_domains = 'api.github.com')), 'requires.permissions.net.allow_domains', /expected a list, found a string \(14 characters\)/],
    ['bad domain entry (scheme)', variant((m) => (m['requires'].permissions.net.allow_domains = ['ok.com', 'ftp://files.example.com'])), 'requires.permissions.net.allow_domains[1]', /ftp/],
    ['bad domain entry (path)', variant((m) => (m['requires'].permissions.net.allow_domains = ['example.com/api'])), 'requires.permissions.net.allow_domains[0]', /path/],
    ['domain entry not a string', variant((m) => (m['requires'].permissions.net.allow_domains = [42])), 'requires.permissions.net.allow_domains[0]', /expected a string, found a positive integer/],
    ['fs.read not boolean', variant((m) => (m['requires'].permissions.fs.read = 'yes')), 'requires.permissions.fs.read', /expected a boolean \(true or false\), found a string \(3 characters\)/],
    ['fs.paths relative', variant((m) => (m['requires'].permissions.fs.paths = ['/ok', 'data'])), 'requires.permissions.fs.paths[1]', /must be an absolute path \(a root the skill may touch\) \(line \d+, column \d+\)$/],
    ['fs.paths with ..', variant((m) => (m['requires'].permissions.fs.paths = ['/tmp/../etc'])), 'requires.permissions.fs.paths[0]', /normalized/],
    ['fs.paths not a list', variant((m) => (m['requires'].permissions.fs.paths = '/tmp')), 'requires.permissions.fs.paths', /expected a list/],
    ['timeout not positive', variant((m) => (m['requires'].limits.timeout_ms = 0)), 'requires.limits.timeout_ms', /positive integer.*found zero/],
    ['memory not integer', variant((m) => (m['requires'].limits.memory_mb = 1.5)), 'requires.limits.memory_mb', /positive integer.*found a fractional number/],
    ['memory too big', variant((m) => (m['requires'].limits.memory_mb = 100000)), 'requires.limits.memory_mb', /at most 4096/],
    ['limit as string', variant((m) => (m['requires'].limits.timeout_ms = '5s')), 'requires.limits.timeout_ms', /expected a positive integer number of milliseconds.*found a string \(2 characters\)/],
    ['commands missing', variant((m) => delete m['commands']), 'commands', /is required \(expected a mapping\)/],
    ['commands empty', variant((m) => (m['commands'] = {})), 'commands', /at least one command/],
    ['commands a list', variant((m) => (m['commands'] = ['run'])), 'commands', /expected a mapping, found a list/],
    ['bad command name', variant((m) => (m['commands'] = { 'run now': {} })), 'commands["run now"]', /command name must match/],
    ['command name with leading dash', variant((m) => (m['commands'] = { '-x': {} })), 'commands.-x', /command name must match/],
    ['bad args schema (type typo)', variant((m) => (m['commands'].run.args = { type: 'object', properties: { a: { type: 'strin' } } })), 'commands.run.args', /invalid JSON Schema: \/properties\/a\/type/],
    ['bad args schema (unknown keyword)', variant((m) => (m['commands'].run.args = { type: 'object', propertys: {} })), 'commands.run.args', /unknown keyword: "propertys"/],
    ['args schema not an object schema', variant((m) => (m['commands'].run.args = { type: 'string' })), 'commands.run.args', /must describe an object.*"string"/],
    ['args schema a list', variant((m) => (m['commands'].run.args = ['a'])), 'commands.run.args', /expected a JSON Schema object \(a mapping\), found a list/],
    ['description not a string', variant((m) => (m['description'] = ['a'])), 'description', /expected a string, found a list/],
    ['permissions a list', variant((m) => (m['requires'].permissions = ['net'])), 'requires.permissions', /expected a mapping, found a list/],
    ['YAML syntax error', 'id: a\nname: [unclosed\nversion: 1.0.0\n', '', /YAML syntax error at line \d+, column \d+/],
    ['YAML bad indentation', 'id: a\nname: b\ncommands:\n  run: {}\n bad: 1\n', '', /YAML syntax error at line 5/],
    ['YAML duplicate key', 'id: a\nid: b\n', '', /YAML syntax error at line 2, column 1: a key appears twice/],
    ['not a mapping (list)', '- a\n- b\n', '', /expected a mapping of manifest keys.*found a list/],
    ['not a mapping (scalar)', 'hello\n', '', /found a string \(5 characters\)$/],
    ['empty document', '', '', /found an empty document/],
  ];

  it.each(cases)('%s', (_, text, keyPath, message) => {
    const err = refusal(text);
    expect(err.code).toBe('MANIFEST_INVALID');
    expect(err.file).toBe('/skills/x/skill.yaml');
    expect(err.message).toContain('/skills/x/skill.yaml');
    const issue = err.issues.find((i) => i.path === keyPath);
    expect(issue, `no issue at '${keyPath}' in ${JSON.stringify(err.issues)}`).toBeDefined();
    expect(issue!.message).toMatch(message);
  });

  it('has at least 20 refusal cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  it('reports every issue at once, each with its path', () => {
    const err = refusal(
      variant((m) => {
        m['id'] = 'BAD';
        m['version'] = 'x';
        m['requires'].permissions.net.allow_domains = ['ok.com', 'bad domain'];
      }),
    );
    expect(err.issues.map((i) => i.path).sort()).toEqual(['id', 'requires.permissions.net.allow_domains[1]', 'version']);
    expect(err.skillId).toBe('BAD');
  });

  it('YAML syntax error names the line of the problem', () => {
    const err = refusal('id: a\nname: b\ncommands:\n  run: {description: "x"\nversion: 1.0.0\n');
    expect(err.issues[0]!.message).toMatch(/line [45]/);
  });
});

describe('loadManifest', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'agentos-manifest-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads skill.yaml, falls back to skill.yml', async () => {
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    await import('node:fs/promises').then(async (fs) => {
      await fs.mkdir(a);
      await fs.mkdir(b);
    });
    await writeFile(path.join(a, 'skill.yaml'), VALID);
    await writeFile(path.join(b, 'skill.yml'), VALID);
    expect((await loadManifest(a)).file).toBe(path.join(a, 'skill.yaml'));
    const r = await loadManifest(b);
    expect(r.file).toBe(path.join(b, 'skill.yml'));
    expect(r.manifest.id).toBe('example.github');
  });

  it('missing manifest -> ManifestError saying so', async () => {
    const err = await loadManifest(path.join(dir, 'nothing-here')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ManifestError);
    expect((err as ManifestError).message).toMatch(/no manifest found in .*nothing-here \(looked for skill.yaml, skill.yml\)/);
  });

  it('invalid manifest -> ManifestError naming the file', async () => {
    const c = path.join(dir, 'c');
    await import('node:fs/promises').then((fs) => fs.mkdir(c));
    await writeFile(path.join(c, 'skill.yaml'), 'id: UPPER\n');
    const err = (await loadManifest(c).catch((e: unknown) => e)) as ManifestError;
    expect(err).toBeInstanceOf(ManifestError);
    expect(err.file).toBe(path.join(c, 'skill.yaml'));
  });
});

describe('permissionSummary / diffPermissions', () => {
  const m = (req: Record<string, any>): SkillManifest => parseManifest(stringify({ ...base(), requires: req }), 'f');

  it('summarizes', () => {
    expect(
      permissionSummary(
        m({
          permissions: { net: { allow_domains: ['b.com', 'a.com', 'b.com'] }, fs: { read: true, paths: ['/x', '/a'] } },
          limits: { timeout_ms: 10 },
        }),
      ),
    ).toEqual({
      domains: ['a.com', 'b.com'],
      rules: [],
      secrets: [],
      fsRoots: [
        { path: '/a', read: true, write: false },
        { path: '/x', read: true, write: false },
      ],
      limits: { timeout_ms: 10 },
    });
    expect(permissionSummary(m({}))).toEqual({ domains: [], rules: [], secrets: [], fsRoots: [], limits: {} });
  });

  const old = {
    permissions: { net: { allow_domains: ['api.example.com'] }, fs: { read: true, paths: ['/data'] } },
    limits: { timeout_ms: 1000, memory_mb: 32 },
  };
  it.each<[string, Record<string, any>, string[]]>([
    ['identical', old, []],
    ['fewer permissions', { permissions: {}, limits: { timeout_ms: 500, memory_mb: 16 } }, []],
    ['domain case only', { ...old, permissions: { ...old.permissions, net: { allow_domains: ['API.example.com'] } } }, []],
    ['new domain', { ...old, permissions: { ...old.permissions, net: { allow_domains: ['api.example.com', 'evil.com'] } } }, ['net: new domain evil.com']],
    ['new wildcard', { ...old, permissions: { ...old.permissions, net: { allow_domains: ['*.example.com'] } } }, ['net: new domain *.example.com']],
    ['new root', { ...old, permissions: { ...old.permissions, fs: { read: true, paths: ['/data', '/home'] } } }, ['fs: new root /home (read)']],
    ['read -> write', { ...old, permissions: { ...old.permissions, fs: { read: true, write: true, paths: ['/data'] } } }, ['fs: write access to /data (was read-only)']],
    ['bigger limits', { ...old, limits: { timeout_ms: 2000, memory_mb: 32 } }, ['limits: timeout_ms 1000 -> 2000']],
    ['limit removed (host default)', { ...old, limits: { timeout_ms: 1000 } }, ['limits: memory_mb 32 -> host default']],
  ])('%s', (_, next, expected) => {
    expect(diffPermissions(m(old), m(next))).toEqual(expected);
  });

  it('from nothing to something lists everything', () => {
    expect(diffPermissions(m({}), m(old))).toEqual([
      'net: new domain api.example.com',
      'fs: new root /data (read)',
      'limits: timeout_ms host default -> 1000',
      'limits: memory_mb host default -> 32',
    ]);
  });
});
