/**
 * Sessions: a caller's invocations may share a warm instance; nobody else's ever do. The hostile
 * fixture's `state` command returns a module-level counter incremented per call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { host, removeTempDirs, SKILLS, type Host } from '../helpers.js';

afterAll(removeTempDirs);

describe('sessions', () => {
  let h: Host;
  beforeAll(async () => {
    // one worker, so every invocation lands on the same thread and instance lifecycle
    h = await host([SKILLS.hostile], { pool: { maxWorkers: 1 } });
  });
  afterAll(() => h.close());

  const count = async (session?: string) =>
    ((await h.invoker.invoke('test.hostile', 'state', {}, { session })) as { calls: number }).calls;

  it('without a session every invocation starts from a fresh instance', async () => {
    expect([await count(), await count(), await count()]).toEqual([1, 1, 1]);
  });

  it("one session's calls share the instance; another session never sees that state", async () => {
    expect([await count('a'), await count('a'), await count('a')]).toEqual([1, 2, 3]);
    expect(await count('b')).toBe(1);
    expect(await count('a')).toBe(1); // b ran in between: a's state is gone, not handed back
    expect(await count()).toBe(1);
  });

  it('an idle session instance is replaced in the background', async () => {
    expect([await count('c'), await count('c')]).toEqual([1, 2]);
    await new Promise((r) => setTimeout(r, 200));
    expect(await count('c')).toBe(1);
  });

  it('a trap ends the session state too', async () => {
    expect([await count('d'), await count('d')]).toEqual([1, 2]);
    await h.invoker.invoke('test.hostile', 'trap', {}, { session: 'd' }).catch(() => undefined);
    expect(await count('d')).toBe(1);
  });
});
