import { afterAll, it } from 'vitest';
import { host, removeTempDirs, SKILLS } from '../helpers.js';
afterAll(removeTempDirs);
it('probe', async () => {
  const h = await host([SKILLS.hostile, SKILLS.hostileSm]);
  for (const id of ['test.hostile', 'test.hostile-sm']) {
    for (const [cmd, args] of [['spin', {}], ['alloc', {}], ['recurse', {}], ['huge', {}], ['flood', {}], ['throw', { message: 'kaboom' }], ['trap', {}], ['deny-swallow', {}], ['deny-escape', {}], ['state', {}], ['state', {}]] as const) {
      const t0 = performance.now();
      const r = await h.invoker.invoke(id, cmd, args).then((v) => ({ ok: JSON.stringify(v).slice(0, 100) }), (e) => ({ name: e.name, code: e.code, limit: e.limit, trapped: e.trapped, msg: String(e.message).slice(0, 200) }));
      const ok = await h.invoker.invoke(id, 'ok', { a: 1 }).then((v) => JSON.stringify(v), (e) => 'FAIL ' + e.message);
      console.log(id, cmd, Math.round(performance.now() - t0), JSON.stringify(r), 'then ok:', ok);
    }
  }
  console.log(JSON.stringify(h.registry.auditEvents({ limit: 50 }).map((e) => [e.type, e.skillId, e.command, e.operation, (e as any).meta, e.reason?.slice(0, 60)])));
  await h.close();
}, 120000);
