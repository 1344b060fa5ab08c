/**
 * Popular pure-JS npm packages bundle and run in a skill, in both engines, with real outputs
 * checked (issue 13): lodash-es, date-fns, uuid, zod, yaml, marked, all in one skill.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { v5 as uuidv5 } from 'uuid';
import { host, removeTempDirs, type Host } from '../helpers.js';
import { BuildError } from '../../src/errors.js';
import { builtFixture } from './support.js';

afterAll(removeTempDirs);

describe.each(['quickjs'] as const)('npm corpus in a skill (%s)', (engine) => {
  let h: Host;
  beforeAll(async () => {
    const { dir } = await builtFixture('web-corpus', engine);
    h = await host([dir], { pool: { maxWorkers: 1 } });
  }, 180_000);
  afterAll(() => h?.close());

  it('lodash-es, date-fns, uuid, zod, yaml and marked compute what they compute in Node', async () => {
    const r = (await h.invoker.invoke('test.web-corpus', 'run', {})) as any;
    expect(r.lodash).toEqual({
      chunk: [[1, 2], [3, 4], [5]],
      groupBy: { 3: ['one', 'two'], 5: ['three'] },
      sortBy: [{ n: 1 }, { n: 3 }],
      uniqueId: 'x_1',
      debounce: 'function',
    });
    expect(r.dateFns).toEqual({ add: '2024-03-01', diff: 60, format: '2024-01-05 Fri', nowYear: new Date().getFullYear() });
    expect(r.uuid).toEqual({ v4: 4, v5: uuidv5('hello', uuidv5.URL) });
    expect(r.zod).toEqual({ ok: { name: 'Ada', age: 36, tags: [] }, issues: ['age', 'name'], async: true });
    expect(r.yaml).toEqual({ parsed: { a: 1, b: ['x', 'y'], c: { d: true } }, text: 'list:\n  - 1\n  - 2\ns: hi\n' });
    expect(r.marked).toBe('<h1>Title</h1>\n<p>Some <em>em</em> and <code>code</code>.</p>\n<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n');
  });
});

// StarlingMonkey (SpiderMonkey) refuses a regular expression in marked 18 that QuickJS accepts;
// the build says so, naming marked's file, instead of failing at run time.
describe('npm corpus in a skill (starlingmonkey)', () => {
  it('the build refuses marked with a message naming its source', async () => {
    const e = await builtFixture('web-corpus', 'starlingmonkey').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BuildError);
    expect((e as Error).message).toMatch(/node_modules\/marked\/src\/rules\.ts:\d+:\d+: SyntaxError: invalid class property name in regular expression/);
  }, 180_000);
});
