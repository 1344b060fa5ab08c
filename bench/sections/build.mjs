// build-skill of skills/hello per engine in a fresh process, and the variant fixture the load20
// section needs (its path goes to ctx.shared.variantComponent).
import { join } from 'node:path';
import { child, childScript } from '../lib/child.mjs';
import { FIXTURES, SKILLS } from '../lib/env.mjs';
import { tempDir } from '../lib/hosts.mjs';
import { round } from '../lib/stats.mjs';

export const name = 'build';

export async function run(ctx) {
  const out = { what: 'buildSkill(skills/hello, {engine, outFile}) in a fresh process; ms = the build itself, wall = process start to end' };
  const dir = await tempDir('agentos-bench-build-');
  for (const engine of ['quickjs', 'starlingmonkey']) {
    const outFile = join(dir, `hello-${engine}.wasm`);
    const r = await child([childScript('build-child.mjs'), SKILLS.hello, engine, outFile]);
    out[engine] = { ms: round(r.data.ms), wall_ms: round(r.exitMs), bytes: r.data.bytes, steps: r.data.steps };
  }
  // The variant fixture (hello + a patchable marker) for the 20-distinct-components load.
  const variantComponent = join(dir, 'variant.wasm');
  const v = await child([childScript('build-child.mjs'), join(FIXTURES, 'variant'), 'quickjs', variantComponent]);
  ctx.shared.variantComponent = variantComponent;
  out.variant_fixture_quickjs = { ms: round(v.data.ms), bytes: v.data.bytes };
  return out;
}
