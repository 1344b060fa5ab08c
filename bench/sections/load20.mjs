// loadEnabledSkills() with 20 installed skills in a fresh process: 20 copies of one component,
// and 20 distinct components (the variant fixture from the build section, patched 20 ways).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { coldRuns } from '../lib/child.mjs';
import { FIXTURES, GREET_JSON, SKILLS } from '../lib/env.mjs';
import { copySkill, makeStore, tempDir } from '../lib/hosts.mjs';
import { writeVariants } from '../lib/variants.mjs';

export const name = 'load20';

export async function run(ctx) {
  const out = { what: 'loadEnabledSkills() with 20 installed+enabled skills in a fresh process (then the first invoke of one of them)' };
  // 20 copies of hello: one component hash, so one transpile and one compile.
  const copies = [];
  for (let i = 1; i <= 20; i++) copies.push(await copySkill(SKILLS.hello, (m) => void (m.id = `example.hello-${i}`)));
  const same = await makeStore(copies);
  same.cacheDir = same.registry.cacheDir;
  same.registry.close();
  out.same_component = {
    warm_cache: await coldRuns(same, 'example.hello-1', 'greet', GREET_JSON, { n: 2, cold: false, all: true }),
    cold_cache: await coldRuns(same, 'example.hello-1', 'greet', GREET_JSON, { n: 2, cold: true, all: true }),
  };
  // 20 distinct components: the variant fixture patched 20 ways (different bytes, same size).
  const { variantComponent } = ctx.shared;
  if (variantComponent && existsSync(variantComponent)) {
    const root = await tempDir('agentos-bench-variants-');
    const dirs = await writeVariants(join(FIXTURES, 'variant'), variantComponent, root, 20);
    const distinct = await makeStore(dirs, {}, { load: false });
    distinct.cacheDir = distinct.registry.cacheDir;
    distinct.registry.close();
    // The cold run fills the cache for the warm ones.
    const cold = await coldRuns(distinct, 'bench.variant-1', 'greet', GREET_JSON, { n: 1, cold: true, all: true });
    const warm = await coldRuns(distinct, 'bench.variant-1', 'greet', GREET_JSON, { n: 2, cold: false, all: true });
    out.distinct_components = { warm_cache: warm, cold_cache: cold };
  } else {
    out.distinct_components = { skipped: 'the variant fixture was not built (run the build section)' };
  }
  return out;
}
