/**
 * Randomness inside a skill: keyed by the host's CSPRNG for every fresh instance, never the
 * PRNG state baked into the component at build time. Both engines, fresh instances, sessions,
 * reused instances, and separate processes.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { host, removeTempDirs, ROOT, type Host } from '../helpers.js';
import { ENGINES, roomyCopy } from './support.js';

afterAll(removeTempDirs);

interface Draw {
  math: number[];
  values: string | { error: string; message: string };
  uuid: string;
  floats: number[];
}

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** One draw from a fresh store in a separate Node process. */
async function drawInChild(dir: string, id: string): Promise<Draw> {
  const script = `
    import { mkdtempSync } from 'node:fs';
    import { tmpdir } from 'node:os';
    import { join } from 'node:path';
    const { SkillRegistry, SkillLoader, SkillInvoker } = await import(${JSON.stringify(`${ROOT}/dist/index.js`)});
    const registry = new SkillRegistry({ home: mkdtempSync(join(tmpdir(), 'agentos-rand-')) });
    await registry.install(${JSON.stringify(dir)});
    registry.enable(${JSON.stringify(id)});
    const loader = new SkillLoader(registry);
    await loader.load(${JSON.stringify(id)});
    const invoker = new SkillInvoker(loader, { phase: 'execution' });
    process.stdout.write(JSON.stringify(await invoker.invoke(${JSON.stringify(id)}, 'random', {})));
    await invoker.close();
    registry.close();
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
  return JSON.parse(stdout) as Draw;
}

describe.each(ENGINES)('randomness in a skill ($engine)', (engine) => {
  let h: Host;
  let dir: string;
  beforeAll(async () => {
    dir = await roomyCopy(engine.dir);
    h = await host([dir], { pool: { maxWorkers: 1 } });
  });
  afterAll(() => h.close());

  const draw = async (session?: string) =>
    (await h.invoker.invoke(engine.id, 'random', {}, { session })) as Draw;

  it('every fresh instance draws a different sequence from every generator', async () => {
    const draws: Draw[] = [];
    for (let i = 0; i < 8; i++) draws.push(await draw());
    for (const key of ['values', 'uuid'] as const) {
      expect(new Set(draws.map((d) => JSON.stringify(d[key]))).size).toBe(draws.length);
    }
    expect(new Set(draws.map((d) => d.math[0])).size).toBe(draws.length);
    for (const d of draws) {
      expect(d.uuid).toMatch(UUID_V4);
      expect(d.values).toMatch(/^[0-9a-f]{32}$/);
      expect(new Set(d.math).size).toBe(3);
    }
  });

  it('Math.random stays in [0, 1) and looks uniform', async () => {
    const { floats } = await draw();
    expect(floats.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = floats.reduce((a, b) => a + b, 0) / floats.length;
    expect(mean).toBeGreaterThan(0.4);
    expect(mean).toBeLessThan(0.6);
    // ten equal buckets, none empty or holding a third of the draws
    const buckets = new Array<number>(10).fill(0);
    for (const x of floats) buckets[Math.floor(x * 10)]!++;
    expect(Math.min(...buckets)).toBeGreaterThan(40);
    expect(Math.max(...buckets)).toBeLessThan(330);
  });

  it('a session continues its stream instead of replaying it', async () => {
    const a = await draw('s');
    const b = await draw('s');
    expect(b.math[0]).not.toBe(a.math[0]);
    expect(b.uuid).not.toBe(a.uuid);
  });

  it('getRandomValues refuses more than 65536 bytes as the Web Crypto API does', async () => {
    const d = (await h.invoker.invoke(engine.id, 'random', { bytes: 65537 })) as Draw;
    expect(d.values).toMatchObject({ error: 'QuotaExceededError' });
    const ok = (await h.invoker.invoke(engine.id, 'random', { bytes: 65536 })) as Draw;
    expect(typeof ok.values).toBe('string');
    expect((ok.values as string).length).toBe(65536 * 2);
  });

  it('separate processes do not share a sequence', async () => {
    const a = await drawInChild(dir, engine.id);
    const b = await drawInChild(dir, engine.id);
    expect(a.math[0]).not.toBe(b.math[0]);
    expect(a.values).not.toEqual(b.values);
    expect(a.uuid).not.toBe(b.uuid);
  }, 60_000);
});

describe('randomness with reused instances', () => {
  let h: Host;
  beforeAll(async () => {
    h = await host([await roomyCopy(ENGINES[0].dir)], { pool: { maxWorkers: 1 }, reuseInstances: true });
  });
  afterAll(() => h.close());

  it('a kept instance keeps drawing new values', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5; i++) seen.add(((await h.invoker.invoke('test.hostile', 'random', {})) as Draw).uuid);
    expect(seen.size).toBe(5);
  });
});
