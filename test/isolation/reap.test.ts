/** Idle workers are ended after `pool.idleMs`; a later invocation starts a new one. */
import { afterAll, expect, it } from 'vitest';
import { host, removeTempDirs, SKILLS } from '../helpers.js';

afterAll(removeTempDirs);

it('reaps idle workers and starts a new one when needed', async () => {
  const h = await host([SKILLS.hello], { pool: { idleMs: 300 } });
  try {
    await h.invoker.invoke('example.hello', 'greet', { name: 'A' });
    expect(h.invoker.poolStats.workers).toBe(1);
    const deadline = Date.now() + 10_000;
    while (h.invoker.poolStats.workers > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(h.invoker.poolStats.workers).toBe(0);
    await expect(h.invoker.invoke('example.hello', 'greet', { name: 'B' })).resolves.toEqual({ greeting: 'Hello, B!' });
    expect(h.invoker.poolStats.workers).toBe(1);
  } finally {
    await h.close();
  }
});
