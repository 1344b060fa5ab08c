// Paired A/B of two builds of the host in one process (not part of `npm run bench`): blocks of
// back-to-back `invoke` of hello greet, alternating between build A and build B, so both see the
// same load (on a shared 2-vCPU machine, separate runs minutes apart differ by 2x).
//   node bench/ab-paired.mjs <rootA> <rootB> [fresh,reuse]
// A root is a directory holding a built dist/ (e.g. a `git archive <commit>` with node_modules
// linked and `npx tsc -p tsconfig.build.json` run). ROUNDS, BLOCK: env overrides.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SKILLS } from './lib/env.mjs';

const [rootA, rootB, modeList = 'fresh'] = process.argv.slice(2);
if (!rootA || !rootB) throw new Error('usage: node bench/ab-paired.mjs <rootA> <rootB> [fresh,reuse]');
const modes = modeList.split(',');
const BLOCK = Number(process.env.BLOCK ?? 300);
const ROUNDS = Number(process.env.ROUNDS ?? 12);
const homes = [];

async function host(root) {
  const api = await import(pathToFileURL(resolve(root, 'dist/index.js')).href);
  const home = mkdtempSync(join(tmpdir(), 'agentos-ab-'));
  homes.push(home);
  const registry = new api.SkillRegistry({ home });
  const s = await registry.install(SKILLS.hello);
  registry.enable(s.id);
  const loader = new api.SkillLoader(registry);
  await loader.loadEnabledSkills();
  return { api, loader, id: s.id };
}

const builds = { A: await host(rootA), B: await host(rootB) };
const runs = [];
for (const m of modes) {
  for (const [label, b] of Object.entries(builds)) {
    const invoker = new b.api.SkillInvoker(b.loader, { phase: 'execution', reuseInstances: m === 'reuse' });
    runs.push({ key: `${label} ${m}`, invoker, id: b.id, lat: [], perS: [] });
  }
}
const args = { name: 'Ada' };
for (const r of runs) for (let i = 0; i < 200; i++) await r.invoker.invoke(r.id, 'greet', args);
for (let round = 0; round < ROUNDS; round++) {
  for (const r of round % 2 ? runs : [...runs].reverse()) {
    const t0 = performance.now();
    for (let i = 0; i < BLOCK; i++) {
      const a = performance.now();
      await r.invoker.invoke(r.id, 'greet', args);
      r.lat.push((performance.now() - a) * 1000);
    }
    r.perS.push(BLOCK / ((performance.now() - t0) / 1000));
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
for (const r of runs) console.log(`${r.key.padEnd(10)} median ${median(r.lat).toFixed(1)} µs, ${median(r.perS).toFixed(0)}/s (median of ${ROUNDS} blocks of ${BLOCK})`);
for (const r of runs) await r.invoker.close();
for (const h of homes) rmSync(h, { recursive: true, force: true });
