/**
 * A worker thread started before its skill is known (sandbox/worker-boot.ts, used by the CLI's
 * `invoke`): the next skill worker takes it, sends it the boot data as its workerData, and it
 * then behaves as a thread started with that data: same script, same limits, fresh state per
 * invocation. Real threads, a real component.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { discardPrestartedThread, hasPrestartedThread, prestartWorkerThread } from '../../src/sandbox/worker-handle.js';
import { host, removeTempDirs, SKILLS } from '../helpers.js';

afterAll(async () => {
  await discardPrestartedThread();
  await removeTempDirs();
});

/** The resource limits of the invoker's live worker threads (through the pool's internals). */
function threadLimits(invoker: object): unknown[] {
  const pool = (invoker as { pool: { all: Set<{ worker: { resourceLimits: unknown } }> } }).pool;
  return [...pool.all].map((w) => w.worker.resourceLimits);
}

describe('a pre-started worker thread', () => {
  it('is taken by the next skill worker and runs the skill, one fresh instance per invocation', async () => {
    const h = await host([SKILLS.hello]);
    try {
      prestartWorkerThread();
      expect(hasPrestartedThread()).toBe(true);
      await expect(h.invoker.invoke('example.hello', 'greet', { name: 'Ada' })).resolves.toEqual({ greeting: 'Hello, Ada!' });
      expect(hasPrestartedThread()).toBe(false);
      expect(h.invoker.poolStats.workers).toBe(1);
      await expect(h.invoker.invoke('example.hello', 'echo', { a: [1] })).resolves.toEqual({ a: [1] });
      expect(h.invoker.freshStateBy('example.hello')).toEqual(['snapshot']);
    } finally {
      await h.close();
    }
  });

  it('has the same limits as a thread started with its skill', async () => {
    const pre = await host([SKILLS.hello]);
    const plain = await host([SKILLS.hello]);
    try {
      prestartWorkerThread();
      await pre.invoker.invoke('example.hello', 'greet', { name: 'Ada' });
      await plain.invoker.invoke('example.hello', 'greet', { name: 'Ada' });
      const [a] = threadLimits(pre.invoker);
      const [b] = threadLimits(plain.invoker);
      expect(a).toMatchObject({ maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 });
      expect(a).toEqual(b);
    } finally {
      await pre.close();
      await plain.close();
    }
  });

  it('is ended by discardPrestartedThread when nothing took it', async () => {
    prestartWorkerThread();
    expect(hasPrestartedThread()).toBe(true);
    await discardPrestartedThread();
    expect(hasPrestartedThread()).toBe(false);
  });
});
