/**
 * Which idle worker the pool hands out (tryTake), on stand-in workers whose state the test sets:
 * which one is picked depends on the reset's timing with real threads, so it is set here instead.
 */
import { describe, expect, it, vi } from 'vitest';

vi.mock('../../src/sandbox/worker-handle.js', () => {
  let next = 1;
  class SkillWorker {
    readonly id = next++;
    alive = true;
    booted = true;
    instanceReady = true;
    freshBy: string | undefined = 'snapshot';
    lastSession: string | undefined;
    lastUsed = Date.now();
    readonly ready = Promise.resolve(1);
    constructor(readonly key: string) {}
    terminate(): Promise<void> {
      this.alive = false;
      return Promise.resolve();
    }
  }
  return { SkillWorker };
});

const { WorkerPool } = await import('../../src/sandbox/pool.js');
type Stub = { id: number; instanceReady: boolean; freshBy: string | undefined };

const spec = { key: 'k', prepared: {} as never, settings: {} as never };

/** A pool with three idle workers of one key, released in the order a, b, c. */
async function threeIdle(): Promise<{ pool: InstanceType<typeof WorkerPool>; a: Stub; b: Stub; c: Stub }> {
  const pool = new WorkerPool({ maxWorkers: 3, maxQueue: 10, idleMs: 0 });
  const [a, b, c] = await Promise.all([pool.acquire(spec), pool.acquire(spec), pool.acquire(spec)]);
  for (const w of [a, b, c]) pool.release(w!);
  return { pool, a: a as unknown as Stub, b: b as unknown as Stub, c: c as unknown as Stub };
}

describe('WorkerPool: which idle worker an invocation gets', () => {
  it('the one released last when it is ready (its thread is still awake)', async () => {
    const { pool, c } = await threeIdle();
    expect(((await pool.acquire(spec)) as unknown as Stub).id).toBe(c.id);
    await pool.close();
  });

  it('the one released last while it resets from a snapshot, even with others ready', async () => {
    const { pool, c } = await threeIdle();
    c.instanceReady = false;
    expect(((await pool.acquire(spec)) as unknown as Stub).id).toBe(c.id);
    await pool.close();
  });

  it('one that re-instantiates is passed over for a ready one, the last released first', async () => {
    const { pool, a, b, c } = await threeIdle();
    for (const w of [a, b, c]) w.freshBy = 'the state cannot be saved';
    c.instanceReady = false;
    expect(((await pool.acquire(spec)) as unknown as Stub).id).toBe(b.id);
    b.instanceReady = false;
    expect(((await pool.acquire(spec)) as unknown as Stub).id).toBe(a.id);
    await pool.close();
  });

  it('none ready and none resetting from a snapshot: the one idle longest', async () => {
    const { pool, a, b, c } = await threeIdle();
    for (const w of [a, b, c]) {
      w.freshBy = 'the state cannot be saved';
      w.instanceReady = false;
    }
    expect(((await pool.acquire(spec)) as unknown as Stub).id).toBe(a.id);
    await pool.close();
  });

  it('a session goes back to the worker that ran it before anything else', async () => {
    const { pool, a } = await threeIdle();
    (a as unknown as { lastSession: string }).lastSession = 'lane-1';
    expect(((await pool.acquire({ ...spec, session: 'lane-1' })) as unknown as Stub).id).toBe(a.id);
    await pool.close();
  });
});
