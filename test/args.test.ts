import { describe, expect, it } from 'vitest';
import { prepareArgs, schemaProblems, validateArgs } from '../src/args.js';
import type { JsonSchema } from '../src/types.js';

const greet: JsonSchema = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1 },
    times: { type: 'integer', minimum: 1, maximum: 3 },
    tags: { type: 'array', items: { type: 'string' } },
    mode: { enum: ['loud', 'quiet'] },
    'a/b': { type: 'string' },
  },
};

describe('validateArgs: valid args', () => {
  it.each<[string, unknown]>([
    ['minimal', { name: 'Ada' }],
    ['all fields', { name: 'Ada', times: 2, tags: ['x'], mode: 'loud' }],
    ['key with slash', { name: 'Ada', 'a/b': 'x' }],
  ])('%s', (_, args) => {
    expect(validateArgs(greet, args)).toEqual([]);
  });

  it('undefined args are {} (valid without a schema, invalid with required keys)', () => {
    expect(validateArgs(undefined, undefined)).toEqual([]);
    expect(validateArgs(greet, undefined)).toEqual([{ path: '/name', message: 'is required' }]);
  });

  it('no schema accepts any plain JSON object', () => {
    expect(validateArgs(undefined, { any: [1, { deep: null }], s: 'x' })).toEqual([]);
  });

  it('null-prototype objects are plain', () => {
    const o = Object.create(null) as Record<string, unknown>;
    o['name'] = 'Ada';
    expect(validateArgs(greet, o)).toEqual([]);
  });
});

describe('validateArgs: schema violations carry JSON pointers', () => {
  it.each<[string, unknown, { path: string; message: RegExp }[]]>([
    ['missing required', {}, [{ path: '/name', message: /is required/ }]],
    ['wrong type', { name: 5 }, [{ path: '/name', message: /must be string/ }]],
    ['too small', { name: '' }, [{ path: '/name', message: /fewer than 1/ }]],
    ['integer bounds', { name: 'a', times: 9 }, [{ path: '/times', message: /<= 3/ }]],
    ['not integer', { name: 'a', times: 1.5 }, [{ path: '/times', message: /integer/ }]],
    ['array item', { name: 'a', tags: ['ok', 3] }, [{ path: '/tags/1', message: /string/ }]],
    ['enum', { name: 'a', mode: 'x' }, [{ path: '/mode', message: /allowed values.*"loud"/ }]],
    ['additional property', { name: 'a', extra: 1 }, [{ path: '/extra', message: /not an allowed property/ }]],
    ['escaped pointer', { name: 'a', 'a/b': 1 }, [{ path: '/a~1b', message: /string/ }]],
  ])('%s', (_, args, expected) => {
    const problems = validateArgs(greet, args);
    expect(problems).toHaveLength(expected.length);
    expected.forEach((e, i) => {
      expect(problems[i]!.path).toBe(e.path);
      expect(problems[i]!.message).toMatch(e.message);
    });
  });

  it('reports every problem (allErrors)', () => {
    const problems = validateArgs(greet, { times: 0, mode: 'x' });
    expect(problems.map((p) => p.path).sort()).toEqual(['/mode', '/name', '/times']);
  });
});

describe('validateArgs: args must be a plain JSON object', () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic['self'] = cyclic;
  class Point {
    x = 1;
  }
  it.each<[string, unknown, string, RegExp]>([
    ['null', null, '', /plain JSON object, found null/],
    ['array', [1, 2], '', /found an array/],
    ['string', 'x', '', /found string/],
    ['number', 3, '', /found number/],
    ['class instance', new Point(), '', /found a Point/],
    ['Date', new Date(), '', /found a Date/],
    ['function value', { f: () => 1 }, '/f', /functions/],
    ['BigInt', { n: 10n }, '/n', /BigInt/],
    ['symbol', { s: Symbol('x') }, '/s', /symbols/],
    ['undefined value', { u: undefined }, '/u', /undefined/],
    ['NaN', { n: Number.NaN }, '/n', /finite/],
    ['Infinity', { n: Infinity }, '/n', /finite/],
    ['cycle', cyclic, '/self', /circular/],
    ['nested Map', { m: new Map() }, '/m', /Map is not a plain object/],
  ])('%s', (_, args, path, message) => {
    const problems = validateArgs(undefined, args);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]!.path).toBe(path);
    expect(problems[0]!.message).toMatch(message);
  });

  it('shared (non-cyclic) references are fine', () => {
    const shared = { x: 1 };
    expect(validateArgs(undefined, { a: shared, b: shared })).toEqual([]);
  });

  it('depth limit', () => {
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 10; i++) {
      const next = {};
      deep['d'] = next;
      deep = next;
    }
    expect(validateArgs(undefined, root, { maxDepth: 5 })[0]!.message).toMatch(/deeper than 5/);
    expect(validateArgs(undefined, root, { maxDepth: 20 })).toEqual([]);
  });

  it('size limit is reported as tooLarge', () => {
    const r = prepareArgs(undefined, { s: 'x'.repeat(100) }, { maxBytes: 50 });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.tooLarge).toEqual({ max: 50, size: 108 });
    expect(r.problems[0]!.message).toMatch(/108 bytes.*50-byte limit/);
    expect(prepareArgs(undefined, { s: 'é' }, { maxBytes: 10 }).ok).toBe(true); // {"s":"é"} is 10 bytes in UTF-8
    expect(prepareArgs(undefined, { s: 'é' }, { maxBytes: 9 }).ok).toBe(false);
  });

  it('prepareArgs returns the object and its JSON', () => {
    const r = prepareArgs(greet, { name: 'Ada' });
    expect(r).toEqual({ ok: true, args: { name: 'Ada' }, json: '{"name":"Ada"}' });
  });
});

describe('schema compilation', () => {
  it('caches per schema object', () => {
    const schema: JsonSchema = { type: 'object', properties: { a: { type: 'number' } } };
    expect(validateArgs(schema, { a: 'x' })).toHaveLength(1);
    // Mutating the object does not change the cached validator: compiled once per object.
    (schema['properties'] as Record<string, unknown>)['a'] = { type: 'string' };
    expect(validateArgs(schema, { a: 'x' })).toHaveLength(1);
    expect(validateArgs({ ...schema }, { a: 'x' })).toEqual([]);
  });

  it('two schemas with the same $id do not collide', () => {
    const a: JsonSchema = { $id: 'https://example.com/args', type: 'object', required: ['a'] };
    const b: JsonSchema = { $id: 'https://example.com/args', type: 'object', required: ['b'] };
    expect(validateArgs(a, { a: 1 })).toEqual([]);
    expect(validateArgs(b, { a: 1 })).toEqual([{ path: '/b', message: 'is required' }]);
    expect(schemaProblems({ ...a })).toEqual([]);
  });

  it.each<[string, JsonSchema, RegExp]>([
    ['bad type name', { type: 'object', properties: { a: { type: 'strin' } } }, /\/properties\/a\/type must be equal to one of the allowed values/],
    ['unknown keyword (typo)', { type: 'object', propertys: {} }, /unknown keyword: "propertys"/],
    ['required not a list', { type: 'object', required: 'a' }, /\/required must be array/],
    ['unresolvable $ref', { type: 'object', properties: { a: { $ref: 'http://example.com/x' } } }, /can't resolve reference/],
    ['bad regex', { type: 'object', properties: { a: { type: 'string', pattern: '(' } } }, /pattern|regular expression/i],
  ])('schemaProblems: %s', (_, schema, message) => {
    const problems = schemaProblems(schema);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).toMatch(message);
  });

  it('schemaProblems accepts formats and annotations', () => {
    expect(
      schemaProblems({
        type: 'object',
        title: 'x',
        description: 'y',
        examples: [{}],
        properties: { e: { type: 'string', format: 'email' }, d: { type: 'string', default: 'z' } },
      }),
    ).toEqual([]);
  });

  it('does not apply defaults or coerce types', () => {
    const schema: JsonSchema = { type: 'object', properties: { n: { type: 'number', default: 3 } } };
    const args = { n: '3' } as Record<string, unknown>;
    expect(validateArgs(schema, args)).toHaveLength(1);
    const empty: Record<string, unknown> = {};
    expect(validateArgs(schema, empty)).toEqual([]);
    expect(empty).toEqual({});
  });
});
