/**
 * Counts worker threads the pool spawns. A suite that wants the count mocks the worker module
 * with this (vi.mock is hoisted, so it must be called in the test file itself):
 *
 *   vi.mock(path, async (orig) => (await import("./spawn-counter.js")).countingWorkerModule(await orig()));
 */
export const spawned = { count: 0 };

export function countingWorkerModule<M extends { SkillWorker: new (...a: any[]) => object }>(mod: M): M {
  class CountingSkillWorker extends mod.SkillWorker {
    constructor(...args: any[]) {
      super(...args);
      spawned.count++;
    }
  }
  return { ...mod, SkillWorker: CountingSkillWorker };
}
