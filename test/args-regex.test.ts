/**
 * Class 9 of issue 10: args-schema regexes are skill-controlled. They run on RE2 (linear time),
 * so a catastrophic-backtracking pattern cannot freeze the host thread, whatever the args size;
 * patterns RE2 cannot express (backreferences, lookaround) are refused at install, naming the
 * key path. The validations run in a child process under a time bound: a frozen thread would
 * show as a kill, not as a hung test run.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareArgs, schemaProblems } from '../src/args.js';
import { ManifestError } from '../src/errors.js';
import { SkillRegistry } from '../src/registry.js';
import { copySkill, removeTempDirs, ROOT, SKILLS, tempDir } from './helpers.js';

afterAll(removeTempDirs);

const EVIL = ['(a+)+$', '(a|a)*$', '(a|aa)+$', '^(a+)+b$', '((a*)*)*$', '(a*a*)*$', '(\\w+\\s?)+$', '^(([a-z])+.)+[A-Z]([a-z])+$', '(x+x+)+y'];
/** Where a pattern can sit in a schema, and the args that make it search `input`. */
const PLACES: { where: string; schema: (p: string) => object; args: (input: string) => object }[] = [
  {
    where: 'properties/*/pattern',
    schema: (p) => ({ type: 'object', properties: { s: { type: 'string', pattern: p } } }),
    args: (input) => ({ s: input }),
  },
  {
    where: 'patternProperties key',
    schema: (p) => ({ type: 'object', patternProperties: { [p]: { type: 'string' } } }),
    args: (input) => ({ [input]: 'x' }),
  },
  {
    where: 'propertyNames/pattern',
    schema: (p) => ({ type: 'object', propertyNames: { pattern: p } }),
    args: (input) => ({ [input]: 1 }),
  },
  {
    where: 'items/pattern (nested in anyOf)',
    schema: (p) => ({ type: 'object', properties: { l: { type: 'array', items: { anyOf: [{ type: 'string', pattern: p }, { type: 'number' }] } } } }),
    args: (input) => ({ l: [input] }),
  },
];
const SIZES = [
  { label: '36 bytes', input: `${'a'.repeat(35)}!` },
  { label: '100 KB', input: `${'a'.repeat(100 * 1024)}!` },
];

interface Outcome {
  id: string;
  ms: number;
  ok: boolean;
}

/** Runs every case through dist/args.js in a child; kills it past `boundMs`. */
function runInChild(cases: { id: string; schema: object; args: object }[], boundMs: number): Promise<{ outcomes: Outcome[]; killed: boolean }> {
  const script = `
    import { prepareArgs } from ${JSON.stringify(join(ROOT, 'dist/args.js'))};
    let data = '';
    process.stdin.on('data', (d) => (data += d));
    process.stdin.on('end', () => {
      prepareArgs({}, {}); // load ajv outside the timings
      for (const c of JSON.parse(data)) {
        const t0 = performance.now();
        const r = prepareArgs(c.schema, c.args);
        process.stdout.write(JSON.stringify({ id: c.id, ms: performance.now() - t0, ok: r.ok }) + '\\n');
      }
    });`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, boundMs);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', () => {
      clearTimeout(timer);
      const outcomes = out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Outcome);
      resolve({ outcomes, killed });
    });
    child.stdin.end(JSON.stringify(cases));
  });
}

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist/args.js'))) throw new Error('dist/ is missing: run npm run build first');
});

describe('catastrophic patterns run in linear time', () => {
  const cases = EVIL.flatMap((p) =>
    PLACES.flatMap((place) => SIZES.map((size) => ({ id: `${place.where} ${p} ${size.label}`, schema: place.schema(p), args: place.args(size.input) }))),
  );

  it(`${cases.length} cases (${EVIL.length} patterns x ${PLACES.length} places x 36 B / 100 KB): each answers, none freezes`, async () => {
    // Under V8's backtracking engine the first 36-byte case alone takes minutes.
    const { outcomes, killed } = await runInChild(cases, 60_000);
    expect(killed).toBe(false);
    expect(outcomes.map((o) => o.id)).toEqual(cases.map((c) => c.id));
    for (const o of outcomes) {
      // Generous: RE2 needs a few ms for 100 KB; a backtracking engine needs longer than the universe.
      expect(o.ms, o.id).toBeLessThan(1000);
    }
    // The answers are right, not just fast.
    const wrong = outcomes.filter((o) => {
      const c = cases.find((x) => x.id === o.id)!;
      // The expected answer, from V8 on a short input of the same shape (the outcome does not
      // depend on the number of a's). A patternProperties key that matches or not: 'x' is a
      // string either way, so those args are always valid.
      const pattern = EVIL.find((p) => c.id.includes(` ${p} `))!;
      const expectOk = c.id.startsWith('patternProperties key') || new RegExp(pattern, 'u').test('aaaa!');
      return o.ok !== expectOk;
    });
    expect(wrong).toEqual([]);
  }, 90_000);
});

describe('ordinary patterns keep their meaning on RE2', () => {
  const TABLE: [string, string, boolean][] = [
    ['^[a-z0-9._-]+$', 'example.hello', true],
    ['^[a-z0-9._-]+$', 'Example', false],
    ['^\\d{3}-\\d{4}$', '555-1234', true],
    ['^\\d{3}-\\d{4}$', '555-12345', false],
    ['^\\u00e9t\\u00e9$', 'été', true],
    ['^\\p{Lu}', 'Été', true],
    ['^\\p{Lu}', 'été', false],
    ['https?:\\/\\/', 'see https://x', true], // unanchored search, as JSON Schema says
    ['^(?:a|b)+$', 'abba', true],
    ['^[^\\s]+$', 'no spaces', false],
  ];
  for (const [pattern, input, ok] of TABLE) {
    it(`${pattern} on ${JSON.stringify(input)} -> ${ok ? 'valid' : 'invalid'}`, () => {
      expect(schemaProblems({ type: 'object', properties: { s: { type: 'string', pattern } } })).toEqual([]);
      expect(prepareArgs({ type: 'object', properties: { s: { type: 'string', pattern } } }, { s: input }).ok).toBe(ok);
    });
  }

  it('patternProperties and propertyNames on RE2', () => {
    const schema = { type: 'object', patternProperties: { '^x-': { type: 'number' } }, propertyNames: { pattern: '^[a-z-]+$' } };
    expect(prepareArgs(schema, { 'x-a': 1, b: 'free' }).ok).toBe(true);
    expect(prepareArgs(schema, { 'x-a': 'not a number' }).ok).toBe(false);
    expect(prepareArgs(schema, { Upper: 1 }).ok).toBe(false);
  });
});

describe('patterns RE2 cannot run are refused at install, naming the key path', () => {
  const REFUSED: { what: string; args: object; pointer: string }[] = [
    { what: 'backreference', args: { type: 'object', properties: { name: { type: 'string', pattern: '^(a+)\\1$' } } }, pointer: '/properties/name/pattern' },
    { what: 'named backreference', args: { type: 'object', properties: { name: { type: 'string', pattern: '(?<x>a)\\k<x>' } } }, pointer: '/properties/name/pattern' },
    { what: 'lookahead', args: { type: 'object', properties: { name: { type: 'string', pattern: '^(?=.*\\d)\\w+$' } } }, pointer: '/properties/name/pattern' },
    { what: 'negative lookahead', args: { type: 'object', properties: { name: { type: 'string', pattern: '^(?!admin)' } } }, pointer: '/properties/name/pattern' },
    { what: 'lookbehind', args: { type: 'object', properties: { name: { type: 'string', pattern: '(?<=a)b' } } }, pointer: '/properties/name/pattern' },
    { what: 'patternProperties key', args: { type: 'object', patternProperties: { '^(x)\\1': {} } }, pointer: '/patternProperties/^(x)\\1' },
    { what: 'propertyNames', args: { type: 'object', propertyNames: { pattern: '^(?!_)' } }, pointer: '/propertyNames/pattern' },
    { what: 'nested in items / anyOf', args: { type: 'object', properties: { l: { type: 'array', items: { anyOf: [{ pattern: '(a)\\1' }] } } } }, pointer: '/properties/l/items/anyOf/0/pattern' },
    { what: 'inside $defs', args: { type: 'object', $defs: { n: { type: 'string', pattern: '(?=a)' } }, properties: { name: { $ref: '#/$defs/n' } } }, pointer: '/$defs/n/pattern' },
    { what: 'too complex a program', args: { type: 'object', properties: { name: { type: 'string', pattern: '(?:abcdefghij){900}' } } }, pointer: '/properties/name/pattern' },
  ];
  for (const c of REFUSED) {
    it(c.what, async () => {
      const dir = await copySkill(SKILLS.hello, (m) => {
        m.commands.greet.args = c.args;
      });
      const registry = new SkillRegistry({ home: await tempDir('agentos-regex-') });
      try {
        const err = await registry.install(dir).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ManifestError);
        const issue = (err as ManifestError).issues.find((i) => i.path.includes('commands.greet.args'));
        expect(issue, (err as Error).message).toBeDefined();
        expect(issue!.message).toContain(c.pointer);
        expect(issue!.message).toMatch(/linear-time regex engine|too complex/);
        expect(registry.list()).toEqual([]);
      } finally {
        registry.close();
      }
    });
  }

  it('a property merely named "pattern", and `pattern` inside enum/default data, are not regexes', () => {
    const schema = {
      type: 'object',
      properties: { pattern: { type: 'string', enum: ['(a)\\1'], default: '(?=x)' } },
      default: { pattern: '(a)\\1' },
    };
    expect(schemaProblems(schema)).toEqual([]);
  });

  it('a schema stored before this check (backreference) fails validation with a typed problem, not a crash', () => {
    const r = prepareArgs({ type: 'object', properties: { s: { type: 'string', pattern: '(a)\\1' } } }, { s: 'aa' });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problems[0]!.message).toContain('cannot be used');
  });
});
