// Where the time goes: a warm invoke loop in a fresh process, its CPU split per thread, and
// --cpu-prof profiles summarised (lib/profile.mjs).
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { child, childScript } from '../lib/child.mjs';
import { GREET_JSON, SKILLS } from '../lib/env.mjs';
import { makeStore, tempDir } from '../lib/hosts.mjs';
import { summarizeProfile } from '../lib/profile.mjs';
import { BUDGET_MS, round } from '../lib/stats.mjs';

export const name = 'profile';

export async function run(ctx) {
  const store = await makeStore([SKILLS.hello]);
  store.registry.close();
  const out = { what: 'one caller invoking greet back to back for a few seconds, pool maxWorkers 1' };
  const secs = String(Math.max(1, Math.round((BUDGET_MS * 1.5) / 1000)));
  for (const mode of ['reuse', 'fresh', 'session']) {
    const plain = (await child([childScript('profile-child.mjs'), store.home, 'example.hello', 'greet', GREET_JSON, secs, mode])).data;
    if (mode === 'session') {
      // CPU split only (the profile of a warm session instance is the reuse one's): saves a run.
      out[mode] = {
        wall_per_invoke_us: round(plain.wall_per_invoke_us, 1),
        process_cpu_per_invoke_us: round(plain.process_cpu_per_invoke_us, 1),
        cpu_split_per_invoke: plain.cpu_split_per_invoke,
        invocations: plain.invocations,
      };
      continue;
    }
    const dir = await tempDir('agentos-bench-prof-');
    const prof = (await child(['--cpu-prof', `--cpu-prof-dir=${dir}`, childScript('profile-child.mjs'), store.home, 'example.hello', 'greet', GREET_JSON, secs, mode])).data;
    const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile')).sort();
    const window = { startUs: prof.windowStartUs, endUs: prof.windowEndUs };
    const threads = {};
    for (const f of files) {
      // CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile: tid 0 is the main thread.
      const tid = f.split('.')[4];
      threads[tid === '0' ? 'main' : `worker_${tid}`] = await summarizeProfile(join(dir, f), { window, top: 15 });
    }
    out[mode] = {
      wall_per_invoke_us: round(plain.wall_per_invoke_us, 1),
      process_cpu_per_invoke_us: round(plain.process_cpu_per_invoke_us, 1),
      cpu_split_per_invoke: plain.cpu_split_per_invoke,
      invocations: plain.invocations,
      profiled_wall_per_invoke_us: round(prof.wall_per_invoke_us, 1),
      threads,
    };
  }
  return out;
}
