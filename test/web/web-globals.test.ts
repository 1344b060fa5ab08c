/**
 * What a skill can count on, in both engines (DESIGN.md; issue 13): each web global behaves as
 * on the web, checked by value through the real host (registry, loader, worker, guards), with
 * the probe fixture built by the real toolchain for QuickJS and StarlingMonkey.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermissionDeniedError, SkillExecutionError } from '../../src/errors.js';
import type { LogLine } from '../../src/sandbox/protocol.js';
import { host, removeTempDirs, type Host } from '../helpers.js';
import { builtFixture, ENGINES } from './support.js';

afterAll(removeTempDirs);

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The upstream: echoes what arrived, as JSON, with a few headers. */
const requests: { url: string; method: string; headers: [string, string][]; body: string }[] = [];
async function upstream(url: string, init: { method: string; headers: [string, string][]; body?: Uint8Array | undefined }): Promise<Response> {
  const body = init.body ? new TextDecoder().decode(init.body) : '';
  requests.push({ url, method: init.method, headers: init.headers, body });
  if (init.method === 'PUT') return new Response(`put:${body}`, { status: 202 });
  if (init.method === 'POST' && !init.headers.some(([k]) => k.toLowerCase() === 'content-type')) {
    return new Response(`bytes:${init.body ? Array.from(init.body).join(',') : ''}`, { status: 200 });
  }
  return new Response(JSON.stringify({ method: init.method, body }), {
    status: 200,
    headers: [
      ['Content-Type', 'application/json'],
      ['X-Echo', 'b'],
      ['x-echo', 'a'],
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
    ],
  });
}

describe.each(ENGINES)('web globals in a skill (%s)', (engine) => {
  let h: Host;
  const id = 'test.web-probe';
  beforeAll(async () => {
    const { dir } = await builtFixture('web-probe', engine);
    h = await host([dir], { fetch: upstream as never, pool: { maxWorkers: 1 } });
  }, 120_000);
  afterAll(() => h?.close());

  const run = async (command: string, args: object = {}) => {
    const logs: LogLine[] = [];
    const result = (await h.invoker.invoke(id, command, args, { onLog: (l) => logs.push(l) })) as any;
    return { result, logs };
  };

  it('Date and performance.now read the host clocks: within a second of the host, whole ms, monotonic', async () => {
    const before = Date.now();
    const { result: r } = await run('clock');
    const after = Date.now();
    expect(r.now).toBeGreaterThanOrEqual(Math.floor(before));
    expect(r.now).toBeLessThanOrEqual(after);
    expect(Math.abs(r.date - Date.now())).toBeLessThan(1000);
    expect(new Date(r.iso).getTime()).toBe(r.date);
    expect(Math.abs(Date.parse(r.string) - Date.now())).toBeLessThan(2000);
    expect(r.parse).toBe(Date.UTC(2020, 0, 2, 3, 4, 5, 678));
    expect(r.utc).toBe(Date.UTC(2020, 0, 2));
    expect(r.fixed).toBe('1970-01-01T00:00:00.000Z');
    expect(r.instance).toBe(true);
    expect(r.subclass).toBe(true);
    // monotonic, coarsened to whole milliseconds, and it advances
    for (let i = 1; i < r.perf.length; i++) expect(r.perf[i]).toBeGreaterThanOrEqual(r.perf[i - 1]);
    for (const p of r.perf) expect(Number.isInteger(p)).toBe(true);
    expect(r.elapsed).toBeGreaterThanOrEqual(3);
    expect(Math.abs(r.timeOrigin + r.perf[0] - r.now)).toBeLessThan(1000);
  });

  it('console.* become the log lines, formatted as browsers do', async () => {
    const { logs } = await run('console');
    expect(logs).toEqual([
      { level: 'info', message: 'plain 1 true null undefined' },
      { level: 'info', message: 'Ada is 36.6 years and 5 days, 1.5%' },
      { level: 'warn', message: "{ a: [ 1, 'two', { b: null } ] } [ 1, [ 2, [ 3 ] ] ]" },
      { level: 'error', message: "Map(1) { 'k' => 1 } Set(1) { 1 } Uint8Array(2) [ 1, 2 ]" },
      { level: 'debug', message: '{ x: 1 } and {"y":2}' },
      { level: 'info', message: "{ name: 'c', self: [Circular] } [Function (anonymous)] 10n Symbol(s)" },
      { level: 'error', message: 'Assertion failed: math broke' },
    ]);
  });

  it('TextEncoder / TextDecoder (utf-8, fatal, ignoreBOM, stream, encodeInto)', async () => {
    const { result: r } = await run('encoding');
    expect(r).toEqual({
      encoding: 'utf-8',
      bytes: Buffer.from('héllo €😀').toString('hex'),
      lone: 'efbfbd',
      decoded: 'héllo €😀',
      bom: 'A',
      keepBom: 2,
      replaced: 'a\ufffdb',
      fatal: 'TypeError',
      label: 'utf-8',
      stream: '€',
      encodeInto: [2, 3, '61c3a900'],
    });
  });

  it('URL / URLSearchParams (WHATWG parsing, relative resolution, IDN, mutation)', async () => {
    const { result: r } = await run('url');
    const u = new URL('../c/d?x=1&y=a%20b#frag', 'https://user:pw@Example.COM:443/a/b/');
    const p = new URLSearchParams('a=1&b=2&a=3&sp=x+y');
    p.append('c', 'é&=');
    p.sort();
    expect(r).toEqual({
      href: u.href,
      parts: [u.protocol, u.username, u.host, u.hostname, u.port, u.pathname, u.search, u.hash, u.origin],
      get: ['1', ['1', '3'], 'x y', false],
      params: p.toString(),
      entries: [
        ['k', 'v'],
        ['n', '1'],
      ],
      mutated: 'https://api.example.com/search?q=a+b',
      idn: 'xn--bcher-kva.example',
      invalid: 'TypeError',
      relativeNoBase: 'TypeError',
      json: '{"u":"https://a.example/x"}',
    });
  });

  it('atob / btoa, with InvalidCharacterError', async () => {
    const { result: r } = await run('base64');
    expect(r).toEqual({ btoa: btoa('hello\u00ff'), atob: atob('aGVsbG//'), spaces: 'hi', badAtob: 'InvalidCharacterError', badBtoa: 'InvalidCharacterError' });
  });

  it('structuredClone copies Date, RegExp, Map, Set, typed arrays, BigInt and cycles; refuses functions', async () => {
    const { result: r } = await run('clone');
    expect(r).toEqual({
      distinct: true,
      cycle: true,
      date: true,
      regexp: true,
      map: '[[1,{"z":[1,2]}]]',
      set: true,
      u8: [1, 2, 3],
      big: true,
      fn: 'DataCloneError',
    });
  });

  it('crypto.getRandomValues / randomUUID / Math.random: valid and different in every invocation', async () => {
    const a = (await run('random')).result;
    const b = (await run('random')).result;
    expect(a.same).toBe(true);
    expect(a.values).toMatch(/^[0-9a-f]{64}$/);
    expect(a.uuid).toMatch(UUID_V4);
    expect(a.values).not.toBe(b.values);
    expect(a.uuid).not.toBe(b.uuid);
    expect(a.math).not.toEqual(b.math);
    for (const m of a.math) expect(m >= 0 && m < 1).toBe(true);
    expect(a.tooBig).toBe('QuotaExceededError');
    expect(a.floats).toBe('TypeError');
  });

  it('fetch() through the net guard: Request init, Response and Headers as on the web', async () => {
    requests.length = 0;
    const { result: r } = await run('fetch', { url: 'https://api.example.com/echo' });
    expect(r).toEqual({
      status: 200,
      ok: true,
      statusText: 'OK',
      url: 'https://api.example.com/echo',
      type: 'application/json',
      has: [true, false],
      headers: [
        ['content-type', 'application/json'],
        ['set-cookie', 'a=1'],
        ['set-cookie', 'b=2'],
        ['x-echo', 'b, a'],
      ],
      entries: 4,
      json: { method: 'POST', body: '{"hi":"there"}' },
      bodyUsed: true,
      reread: 'TypeError',
      second: [202, true, 'put:a=1&b=%C3%A9'],
      third: 'bytes:1,2,3',
      made: [201, true, 'x', 'made', 'application/json'],
      getBody: 'TypeError',
    });
    expect(requests[0]).toMatchObject({ method: 'POST', body: '{"hi":"there"}' });
    expect(requests[0]!.headers).toEqual(expect.arrayContaining([['x-one', '1']]));
    expect(requests[1]!.headers).toEqual(expect.arrayContaining([['content-type', 'application/x-www-form-urlencoded;charset=UTF-8']]));
  });

  it('a fetch the guard refuses rejects with a TypeError carrying the denial; the invocation is a PermissionDeniedError', async () => {
    const logs: LogLine[] = [];
    const caught = await h.invoker.invoke(id, 'fetch-denied', {}, { onLog: (l) => logs.push(l) }).catch((e: unknown) => e);
    // Swallowed or not, a denial decides the outcome (the host's rule).
    expect(caught).toBeInstanceOf(PermissionDeniedError);
    expect(logs).toEqual([{ level: 'info', message: expect.stringMatching(/^caught TypeError denied: fetch GET https:\/\/evil\.example\.net\/steal failed: denied: /) }]);
    await expect(run('fetch-uncaught')).rejects.toBeInstanceOf(PermissionDeniedError);
  });

  it('async handlers run to their end inside the invocation: awaits, microtasks, async generators, combinators', async () => {
    const { result } = await run('async-chain');
    expect(result).toEqual({
      order: ['sync', 'microtask', 'after-await', 'g1', 'g2', 'finally'],
      all: [1, 2, 3],
      settled: ['rejected', 'fulfilled'],
      fin: 5,
      tag: '[object Promise]',
      any: 6,
    });
  });

  it('a rejected handler is the skill error it threw; one that never settles says why', async () => {
    const thrown = await run('async-throw').catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(SkillExecutionError);
    expect((thrown as Error).message).toMatch(/async boom/);
    const never = await run('never-settles').catch((e: unknown) => e);
    expect(never).toBeInstanceOf(SkillExecutionError);
    expect((never as Error).message).toMatch(/never settled/);
    // and the instance still answers
    expect((await run('base64')).result.btoa).toBe(btoa('hello\u00ff'));
  });
});
