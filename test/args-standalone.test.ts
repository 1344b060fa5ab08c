/**
 * Cached args validators (ajv's standalone code, written and verified by the loader): the same
 * verdicts and messages as validators compiled by ajv, a fresh process that validates from the
 * cache never loads ajv, and a changed cache file is audited and never evaluated.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { prepareArgs, primeValidators, standaloneValidators } from '../src/args.js';
import { SkillLoader, SkillRegistry } from '../src/index.js';
import type { JsonSchema } from '../src/types.js';
import { copySkill, removeTempDirs, ROOT, SKILLS, tempDir } from './helpers.js';

afterAll(removeTempDirs);
const registries: SkillRegistry[] = [];
afterEach(() => {
  for (const r of registries.splice(0)) r.close();
});

/** Three copies of `schema`: compiled by ajv, primed from standalone code, and the one the code was made from. */
function pair(schema: JsonSchema) {
  const compiled = structuredClone(schema);
  const primed = structuredClone(schema);
  const code = standaloneValidators({ c: structuredClone(schema) });
  expect(Object.keys(code)).toEqual(['c']);
  expect(primeValidators({ c: primed }, code)).toBe(1);
  return { compiled, primed };
}

const CASES: [string, JsonSchema, unknown[]][] = [
  [
    'hello greet',
    { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 200 } }, additionalProperties: false },
    [{ name: 'Ada' }, {}, { name: '' }, { name: 'x'.repeat(201) }, { name: 1 }, { name: 'Ada', extra: true, 'a/b~c': 1 }, { name: '😀' }],
  ],
  [
    'patterns on RE2 (pattern, patternProperties)',
    {
      type: 'object',
      properties: { id: { type: 'string', pattern: '^[a-z]+-\\d{2,3}$' } },
      patternProperties: { '^x-': { type: 'number' } },
      additionalProperties: false,
    },
    [{ id: 'ab-12' }, { id: 'AB-1' }, { 'x-a': 1 }, { 'x-a': 'one' }, { y: 1 }, { id: 'a-123', 'x-': null }],
  ],
  [
    'enum, const, arrays, uniqueItems, nested, anyOf, integer bounds',
    {
      type: 'object',
      properties: {
        mode: { enum: ['loud', 'quiet'] },
        v: { const: { a: [1, 2] } },
        tags: { type: 'array', items: { type: 'string' }, uniqueItems: true, maxItems: 3 },
        deep: { type: 'object', properties: { n: { type: 'integer', minimum: 1, exclusiveMaximum: 10 } }, required: ['n'] },
        either: { anyOf: [{ type: 'string' }, { type: 'number', multipleOf: 2 }] },
      },
    },
    [
      { mode: 'loud', v: { a: [1, 2] }, tags: ['a', 'b'], deep: { n: 3 }, either: 4 },
      { mode: 'LOUD' },
      { v: { a: [2, 1] } },
      { tags: ['a', 'a'] },
      { tags: ['a', 'b', 'c', 'd', 1] },
      { deep: {} },
      { deep: { n: 10 } },
      { deep: { n: 1.5 } },
      { either: 3 },
      { either: null },
    ],
  ],
];

describe('standalone validators: the same verdicts and messages as compiled ones', () => {
  it.each(CASES)('%s', (_, schema, argsList) => {
    const { compiled, primed } = pair(schema);
    for (const args of argsList) {
      expect(prepareArgs(primed, args)).toEqual(prepareArgs(compiled, args));
    }
    // Not vacuous: the cases include refusals.
    expect(argsList.some((a) => !prepareArgs(primed, a).ok)).toBe(true);
  });

  it('a schema that does not compile is left out; its first use reports it as before', () => {
    const bad: JsonSchema = { type: 'object', properties: { s: { type: 'string', pattern: '(a)\\1' } } };
    expect(standaloneValidators({ bad: structuredClone(bad) })).toEqual({});
    const r = prepareArgs(bad, { s: 'aa' });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problems[0]!.message).toContain("the command's args schema cannot be used");
  });

  it('code that asks for anything but ajv runtime helpers or the regex engine is not used', () => {
    const schema: JsonSchema = { type: 'object', required: ['a'] };
    const code = `module.exports = () => true; require('node:fs');`;
    expect(primeValidators({ c: schema }, { c: code })).toBe(0);
    // Compiled by ajv instead: the real verdict.
    expect(prepareArgs(schema, {}).ok).toBe(false);
  });
});

async function storeWithHello(): Promise<{ home: string; registry: SkillRegistry; cacheDir: string }> {
  const home = await tempDir('agentos-args-cache-');
  const registry = new SkillRegistry({ home });
  registries.push(registry);
  const s = await registry.install(await copySkill(SKILLS.hello));
  registry.enable(s.id);
  return { home, registry, cacheDir: registry.cacheDir };
}

const argsEntry = (cacheDir: string) => readdirSync(cacheDir).filter((n) => n.startsWith('args-'));

describe('the loader caches the validators like the transpiled files', () => {
  it('load writes them once, recorded in the registry; a fresh process validates from them without loading ajv', async () => {
    const { home, registry, cacheDir } = await storeWithHello();
    await new SkillLoader(registry).load('example.hello');
    const entries = argsEntry(cacheDir);
    expect(entries).toHaveLength(1);
    const record = registry.transpileCacheRecord(entries[0]!);
    expect(Object.keys(record ?? {})).toEqual(['validators.json']);

    // A fresh process on the built host (dist/): load, then the args of greet, valid and not.
    const script = `
      import { createRequire } from 'node:module';
      const { SkillRegistry, SkillLoader } = await import(${JSON.stringify(join(ROOT, 'dist/index.js'))});
      const { prepareArgs } = await import(${JSON.stringify(join(ROOT, 'dist/args.js'))});
      const registry = new SkillRegistry({ home: process.argv[1] });
      const skill = await new SkillLoader(registry).load('example.hello');
      const schema = skill.manifest.commands.greet.args;
      const out = [{ name: 'Ada' }, {}, { name: '', x: 1 }].map((a) => prepareArgs(schema, a));
      const ajvPath = createRequire(${JSON.stringify(join(ROOT, 'dist/args.js'))}).resolve('ajv');
      registry.close();
      process.stdout.write(JSON.stringify({ out, ajvLoaded: ajvPath in createRequire(import.meta.url).cache }));
    `;
    const child = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script, home], { encoding: 'utf8' })) as {
      out: unknown[];
      ajvLoaded: boolean;
    };
    expect(child.ajvLoaded).toBe(false);
    const schema = registry.get('example.hello')!.manifest.commands['greet']!.args;
    expect(child.out).toEqual([{ name: 'Ada' }, {}, { name: '', x: 1 }].map((a) => prepareArgs(structuredClone(schema), a)));
  });

  it('a changed cache file is audited, never evaluated, and rewritten from the manifest', async () => {
    const { home, registry, cacheDir } = await storeWithHello();
    await new SkillLoader(registry).load('example.hello');
    const [entry] = argsEntry(cacheDir);
    const file = join(cacheDir, entry!, 'validators.json');
    const planted = JSON.parse(readFileSync(file, 'utf8')) as { key: string; validators: Record<string, string> };
    planted.validators['greet'] = `globalThis.__agentosPlanted = true; module.exports = () => true;`;
    writeFileSync(file, JSON.stringify(planted));

    // A second registry on the same home: its manifest objects are new, so nothing is primed yet.
    const again = new SkillRegistry({ home });
    registries.push(again);
    const skill = await new SkillLoader(again).load('example.hello');
    expect((globalThis as { __agentosPlanted?: boolean }).__agentosPlanted).toBeUndefined();
    const audit = again.auditEvents({ skillId: 'example.hello', type: 'integrity_failure' });
    expect(audit.some((e) => /args validator cache does not match/.test(e.reason ?? ''))).toBe(true);
    // The verdicts are ajv's (the planted validator accepted everything).
    expect(prepareArgs(skill.manifest.commands['greet']!.args, {}).ok).toBe(false);
    // Rewritten, and the record vouches for the new bytes.
    const rewritten = readFileSync(file);
    expect(rewritten.toString('utf8')).not.toContain('__agentosPlanted');
    expect(again.transpileCacheRecord(entry!)?.['validators.json']?.sha256).toBe(createHash('sha256').update(rewritten).digest('hex'));
  });
});
