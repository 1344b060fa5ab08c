/**
 * install -> list -> info -> enable -> invoke -> disable -> uninstall through the real bin, with
 * the built example skills, human and --json, and every error's exit code.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copySkill, removeTempDirs, SKILLS, tempDir } from '../helpers.js';
import { cli, ESC, requireBuiltCli, requireBuiltSkill } from './run-cli.js';

let home: string;
let hello: string;
const h = () => ['--home', home];

beforeAll(async () => {
  requireBuiltCli();
  requireBuiltSkill(SKILLS.hello);
  requireBuiltSkill(SKILLS.hostile);
  home = await tempDir('agentos-cli-home-');
  hello = await copySkill(SKILLS.hello);
});
afterAll(removeTempDirs);

describe('install, review, enable, invoke', () => {
  it('install shows the permissions, leaves it disabled and names the enable command', async () => {
    const r = await cli(['install', hello, ...h()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Installed example.hello 1.0.0 (disabled)');
    expect(r.stdout).toMatch(/network +none/);
    expect(r.stdout).toMatch(/files +none/);
    expect(r.stdout).toMatch(/limits +timeout 2000 ms, memory 32 MiB/);
    expect(r.stdout).toContain(`agentos-skills --home ${home} enable example.hello`);
    expect(r.stderr).toContain('installing'); // progress on stderr
    expect(r.stdout + r.stderr).not.toMatch(ESC);
  });

  it('list, human and --json', async () => {
    const r = await cli(['list', ...h()]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID +VERSION +STATUS +COMMANDS +PERMISSIONS$/);
    expect(lines[1]).toMatch(/^example\.hello +1\.0\.0 +disabled +greet, echo +none$/);
    // Aligned: every column starts where its header does.
    expect(lines[1]!.indexOf('1.0.0')).toBe(lines[0]!.indexOf('VERSION'));
    const j = (await cli(['list', '--json', ...h()])).json();
    expect(j.ok).toBe(true);
    expect(j.result).toHaveLength(1);
    expect(j.result[0]).toMatchObject({ id: 'example.hello', version: '1.0.0', enabled: false, commands: ['greet', 'echo'] });
  });

  it('info shows permissions, commands with their args, component and usage', async () => {
    const r = await cli(['info', 'example.hello', ...h()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^example\.hello 1\.0\.0 +disabled/);
    expect(r.stdout).toContain('args: name (string, required)');
    expect(r.stdout).toMatch(/sha256 +[0-9a-f]{64}/);
    expect(r.stdout).toMatch(/agentos:skill\/log@0\.1\.[01]/);
    expect(r.stdout).toMatch(/invocations +0/);
    const j = (await cli(['info', 'example.hello', '--json', ...h()])).json();
    expect(j.result.component.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(j.result.commands.find((c: { name: string }) => c.name === 'greet').args.required).toEqual(['name']);
    expect(j.result.usage).toMatchObject({ skillId: 'example.hello', invocations: expect.any(Number) });
    expect(j.result.permissions).toMatchObject({ domains: [], fsRoots: [], effectiveLimits: { timeoutMs: 2000, memoryMb: 32 } });
  });

  it('invoke of a disabled skill: exit 11 with the enable hint', async () => {
    const r = await cli(['invoke', 'example.hello', 'greet', '--args', '{"name":"Ada"}', ...h()]);
    expect(r.code).toBe(11);
    expect(r.stderr).toContain("skill 'example.hello' is disabled");
    expect(r.stderr).toContain('enable example.hello');
  });

  it('enable off a terminal without --yes: exit 2, says to pass --yes, still disabled', async () => {
    const r = await cli(['enable', 'example.hello', ...h()]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('will be allowed to');
    expect(r.stderr).toContain('pass --yes');
    const j = await cli(['enable', 'example.hello', '--json', ...h()]);
    expect(j.code).toBe(2);
    expect(j.json().error).toMatchObject({ code: 'USAGE' });
    expect(j.json().error.message).toContain('--yes');
    expect((await cli(['list', '--json', ...h()])).json().result[0].enabled).toBe(false);
  });

  it('enable --yes shows the permissions again and enables', async () => {
    const r = await cli(['enable', 'example.hello', '--yes', ...h()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/limits +timeout 2000 ms/);
    expect(r.stdout).toContain('Enabled example.hello 1.0.0');
    const again = await cli(['enable', 'example.hello', '--yes', '--json', ...h()]);
    expect(again.json()).toMatchObject({ ok: true, result: { enabled: true, changed: false } });
  });

  it('invoke prints the result JSON (human and --json)', async () => {
    const r = await cli(['invoke', 'example.hello', 'greet', '--args', '{"name":"Ada"}', ...h()]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ greeting: 'Hello, Ada!' });
    const j = await cli(['invoke', 'example.hello', 'echo', '--args', '{"a":[1,2],"b":null}', '--json', ...h()]);
    expect(j.code).toBe(0);
    expect(j.json()).toEqual({ ok: true, result: { a: [1, 2], b: null } });
    const noArgs = await cli(['invoke', 'example.hello', 'echo', '--json', ...h()]);
    expect(noArgs.json()).toEqual({ ok: true, result: {} });
  });
});

describe('invoke errors and their exit codes', () => {
  beforeAll(async () => {
    const hostile = await copySkill(SKILLS.hostile);
    expect((await cli(['install', hostile, ...h()])).code).toBe(0);
    expect((await cli(['enable', 'test.hostile', '--yes', ...h()])).code).toBe(0);
  });

  it('bad --args JSON: exit 2 naming the position, with a caret', async () => {
    const r = await cli(['invoke', 'example.hello', 'greet', '--args', '{"name": Ada}', ...h()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--args is not valid JSON');
    expect(r.stderr).toContain('at position 9, line 1 column 10');
    expect(r.stderr).toContain('  {"name": Ada}\n           ^');
    const j = await cli(['invoke', 'example.hello', 'greet', '--args', '{"name":"Ada",}', '--json', ...h()]);
    expect(j.code).toBe(2);
    expect(j.json().error).toMatchObject({ code: 'USAGE', option: '--args', position: 14 });
  });

  it('--args that is not an object: exit 2', async () => {
    for (const bad of ['[1,2]', 'null', '"Ada"', '42']) {
      const r = await cli(['invoke', 'example.hello', 'greet', '--args', bad, '--json', ...h()]);
      expect(r.code).toBe(2);
      expect(r.json().error.message).toContain('must be a JSON object');
    }
  });

  it.each([
    ['planning phase', 10, 'PHASE_VIOLATION', ['example.hello', 'greet', '--args', '{"name":"Ada"}', '--phase', 'planning']],
    ['not installed', 11, 'SKILL_NOT_ENABLED', ['no.such.skill', 'greet']],
    ['unknown command', 13, 'COMMAND_NOT_FOUND', ['example.hello', 'shout']],
    ['args against the schema', 14, 'INVALID_ARGUMENTS', ['example.hello', 'greet', '--args', '{"name":""}']],
    ['permission denied', 12, 'PERMISSION_DENIED', ['test.hostile', 'deny-escape']],
    ['guest throws', 18, 'EXECUTION_ERROR', ['test.hostile', 'throw', '--args', '{"message":"boom"}']],
    ['deadline', 16, 'TIMEOUT', ['test.hostile', 'spin', '--timeout', '300']],
    ['result too large', 17, 'RESOURCE_LIMIT', ['test.hostile', 'huge', '--args', '{"size":2000000}']],
  ] as const)('%s: exit %i, %s', async (_name, exit, code, args) => {
    const r = await cli(['invoke', ...args, '--json', ...h()]);
    expect(r.code).toBe(exit);
    const j = r.json();
    expect(j.ok).toBe(false);
    expect(j.error.code).toBe(code);
    expect(j.error.message).toEqual(expect.any(String));
    expect(j.error.skillId).toBe(args[0]);
  });

  it('human error output: message and details on stderr, nothing on stdout', async () => {
    const r = await cli(['invoke', 'example.hello', 'greet', '--args', '{"name":"","x":1}', ...h()]);
    expect(r.code).toBe(14);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: invalid arguments for example\.hello\.greet:/);
    expect(r.stderr).toContain('info example.hello');
  });

  it("the skill's log lines go to stderr, the result alone to stdout", async () => {
    const r = await cli(['invoke', 'test.hostile', 'flood', '--args', '{"lines":3}', ...h()]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ logged: 3 });
    expect(r.stderr).toContain('[test.hostile] info  flood line 0');
    expect(r.stderr).toContain('flood line 2');
  });

  it('refused invocations are in the audit trail', async () => {
    const j = (await cli(['audit', '--json', '--skill', 'test.hostile', ...h()])).json();
    const types = j.result.map((e: { type: string }) => e.type);
    expect(types).toEqual(expect.arrayContaining(['permission_denied', 'limit_exceeded', 'execution_error']));
    const phase = (await cli(['audit', '--json', '--type', 'phase_violation', ...h()])).json();
    expect(phase.result.length).toBeGreaterThan(0);
  });
});

describe('disable, uninstall', () => {
  it('disable: invoke then exits 11; disable again says so', async () => {
    const r = await cli(['disable', 'example.hello', ...h()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Disabled example.hello');
    expect((await cli(['invoke', 'example.hello', 'greet', '--args', '{"name":"A"}', ...h()])).code).toBe(11);
    const again = await cli(['disable', 'example.hello', '--json', ...h()]);
    expect(again.json()).toMatchObject({ ok: true, result: { enabled: false, changed: false } });
  });

  it('uninstall removes it; a second uninstall or info is exit 11', async () => {
    const r = await cli(['uninstall', 'example.hello', ...h()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Uninstalled example.hello 1.0.0');
    const [again, info] = await Promise.all([cli(['uninstall', 'example.hello', '--json', ...h()]), cli(['info', 'example.hello', '--json', ...h()])]);
    expect(again.code).toBe(11);
    expect(info.code).toBe(11);
    expect(info.json().error).toMatchObject({ code: 'SKILL_NOT_ENABLED', state: 'not_installed', skillId: 'example.hello' });
  });
});

describe('re-install and refused installs', () => {
  let home2: string;
  const h2 = () => ['--home', home2];
  beforeAll(async () => {
    home2 = await tempDir('agentos-cli-home-');
  });

  it('a re-install asking for more prints exactly what was added and leaves the skill disabled', async () => {
    const v1 = await copySkill(SKILLS.hello);
    expect((await cli(['install', v1, ...h2()])).code).toBe(0);
    expect((await cli(['enable', 'example.hello', '--yes', ...h2()])).code).toBe(0);
    const v2 = await copySkill(SKILLS.hello, (m) => {
      m.version = '1.1.0';
      m.requires.permissions = { net: { allow_domains: ['api.example.com'] }, fs: { read: true, write: true, paths: ['/tmp/agentos-cli-test'] } };
    });
    const r = await cli(['install', v2, ...h2()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Re-installed example.hello 1.0.0 -> 1.1.0 (disabled)');
    expect(r.stdout).toContain('This version asks for more than 1.0.0 did:');
    expect(r.stdout).toContain('  + net: new domain api.example.com');
    expect(r.stdout).toContain('  + fs: new root /tmp/agentos-cli-test (read+write)');
    const list = (await cli(['list', '--json', ...h2()])).json();
    expect(list.result[0]).toMatchObject({ version: '1.1.0', enabled: false });

    // The same again under --json: the additions relative to 1.1.0 are none; re-enable, then a
    // 1.2.0 that adds one more domain reports only that one.
    expect((await cli(['enable', 'example.hello', '--yes', ...h2()])).code).toBe(0);
    const v3 = await copySkill(v2, (m) => {
      m.version = '1.2.0';
      m.requires.permissions.net.allow_domains.push('*.example.org');
    });
    const j = (await cli(['install', v3, '--json', ...h2()])).json();
    expect(j.result).toMatchObject({ version: '1.2.0', previousVersion: '1.1.0', enabled: false, addedPermissions: ['net: new domain *.example.org'] });
  });

  it('a re-install asking for nothing new keeps it enabled', async () => {
    expect((await cli(['enable', 'example.hello', '--yes', ...h2()])).code).toBe(0);
    const same = await copySkill(SKILLS.hello, (m) => {
      m.version = '1.3.0';
      m.requires.permissions = { net: { allow_domains: ['api.example.com', '*.example.org'] }, fs: { read: true, write: true, paths: ['/tmp/agentos-cli-test'] } };
    });
    const r = await cli(['install', same, ...h2()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('(enabled)');
    expect(r.stdout).toContain('stays enabled');
  });

  it('a broken manifest is refused (exit 19, every issue listed) and the installed version is untouched', async () => {
    const before = (await cli(['info', 'example.hello', '--json', ...h2()])).json().result;
    const broken = await copySkill(SKILLS.hello);
    await writeFile(
      join(broken, 'skill.yaml'),
      'id: example.hello\nname: Hello\nversion: 2.0\ndescription: x\ncomponent: dist/skill.wasm\ncommands:\n  greet: {}\nrequires:\n  permissions:\n    net:\n      allow_domain: [evil.example]\n',
    );
    const r = await cli(['install', broken, ...h2()]);
    expect(r.code).toBe(19);
    expect(r.stderr).toContain(`invalid manifest ${join(broken, 'skill.yaml')}`);
    expect(r.stderr).toContain('version: expected a semver version');
    expect(r.stderr).toContain("did you mean 'allow_domains'");
    const j = await cli(['install', broken, '--json', ...h2()]);
    expect(j.code).toBe(19);
    expect(j.json().error).toMatchObject({ code: 'MANIFEST_INVALID', file: join(broken, 'skill.yaml') });
    expect(j.json().error.issues.length).toBe(2);

    const after = (await cli(['info', 'example.hello', '--json', ...h2()])).json().result;
    expect(after).toEqual(before);
    const inv = await cli(['invoke', 'example.hello', 'greet', '--args', '{"name":"still here"}', '--json', ...h2()]);
    expect(inv.json()).toEqual({ ok: true, result: { greeting: 'Hello, still here!' } });
  });

  it('no component built: exit 15; not a component: exit 20', async () => {
    const unbuilt = await copySkill(SKILLS.hello, (m) => {
      m.id = 'test.unbuilt';
      m.component = 'dist/missing.wasm';
    });
    const r = await cli(['install', unbuilt, '--json', ...h2()]);
    expect(r.code).toBe(15);
    expect(r.json().error.code).toBe('MODULE_NOT_FOUND');
    const garbage = await copySkill(SKILLS.hello, (m) => {
      m.id = 'test.garbage';
    });
    await writeFile(join(garbage, 'dist/skill.wasm'), 'not wasm at all');
    const g = await cli(['install', garbage, '--json', ...h2()]);
    expect(g.code).toBe(20);
    expect(g.json().error.code).toBe('INTEGRITY_FAILURE');
    const ids = (await cli(['list', '--json', ...h2()])).json().result.map((s: { id: string }) => s.id);
    expect(ids).toEqual(['example.hello']);
  });
});

describe('host policy', () => {
  it('--policy: install asking for more than the policy allows is exit 22, listing each entry', async () => {
    const dir = await tempDir('agentos-policy-');
    const policy = join(dir, 'policy.yaml');
    await writeFile(policy, 'maxMemoryMb: 16\ndefaultMemoryMb: 16\ndeniedDomains: ["*.example.com"]\n');
    const fetcher = await copySkill(SKILLS.fetch);
    const r = await cli(['install', fetcher, '--policy', policy, '--home', dir]);
    expect(r.code).toBe(22);
    // The message names the policy file in force and how to see it.
    expect(r.stderr).toContain(`asks for more than the host policy (${policy}) allows`);
    expect(r.stderr).toContain('agentos-skills policy');
    expect(r.stderr).toContain('*.example.com');
    expect(r.stderr).toContain('memory_mb 64 exceeds');
    // The same through $AGENTOS_POLICY, as JSON.
    const j = await cli(['install', fetcher, '--json', '--home', dir], { env: { AGENTOS_POLICY: policy } });
    expect(j.code).toBe(22);
    expect(j.json().error).toMatchObject({ code: 'POLICY_VIOLATION', skillId: 'example.fetch' });
    expect(j.json().error.entries).toHaveLength(2);
  });

  it('$AGENTOS_HOME/policy.yaml is the policy by default; --policy and $AGENTOS_POLICY override it; `policy` says which', async () => {
    const home = await tempDir('agentos-policy-home-');
    const homePolicy = join(home, 'policy.yaml');
    await writeFile(homePolicy, 'maxMemoryMb: 16\ndefaultMemoryMb: 16\n');
    const fetcher = await copySkill(SKILLS.fetch);
    const r = await cli(['install', fetcher, '--home', home]);
    expect(r.code).toBe(22);
    expect(r.stderr).toContain(homePolicy);
    expect(r.stderr).toContain('memory_mb 64 exceeds');
    const shown = await cli(['policy', '--json', '--home', home]);
    expect(shown.code).toBe(0);
    expect(shown.json().result.file).toBe(homePolicy);
    // An explicit policy wins over the home's: this one allows 64 MiB.
    const other = join(await tempDir('agentos-policy-'), 'loose.yaml');
    await writeFile(other, 'maxMemoryMb: 128\n');
    expect((await cli(['install', fetcher, '--policy', other, '--home', home])).code).toBe(0);
    const viaEnv = await cli(['policy', '--json', '--home', home], { env: { AGENTOS_POLICY: other } });
    expect(viaEnv.json().result).toMatchObject({ origin: 'env', file: other });
  });

  it('enable re-checks against the policy in force (exit 22, stays disabled)', async () => {
    const dir = await tempDir('agentos-policy-');
    const fetcher = await copySkill(SKILLS.fetch);
    expect((await cli(['install', fetcher, '--home', dir])).code).toBe(0);
    const policy = join(dir, 'policy.json');
    await writeFile(policy, JSON.stringify({ allowedDomains: ['api.github.com'] }));
    const r = await cli(['enable', 'example.fetch', '--yes', '--policy', policy, '--json', '--home', dir]);
    expect(r.code).toBe(22);
    expect((await cli(['list', '--json', '--home', dir])).json().result[0].enabled).toBe(false);
  });

  it('an invalid or missing policy file is exit 23 naming the key', async () => {
    const dir = await tempDir('agentos-policy-');
    const policy = join(dir, 'policy.json');
    await writeFile(policy, JSON.stringify({ maxTimeoutMs: 'soon', allowPrivateNetwork: true }));
    const r = await cli(['list', '--policy', policy, '--home', dir]);
    expect(r.code).toBe(23);
    expect(r.stderr).toContain('maxTimeoutMs');
    expect(r.stderr).toContain('allowPrivateNetwork');
    const missing = await cli(['list', '--policy', join(dir, 'nope.yaml'), '--json', '--home', dir]);
    expect(missing.code).toBe(23);
    expect(missing.json().error.code).toBe('POLICY_INVALID');
  });
});
