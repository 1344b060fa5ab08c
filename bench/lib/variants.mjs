// Distinct components without 20 builds: the variant fixture's component carries a marker
// string (in the QuickJS snapshot's data); each copy gets a different value of the same length,
// so every copy has its own hash and its own core module bytes (nothing shared by any cache).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify, parse } from 'yaml';

export const MARKER = 'agentos-bench-variant-0000';

export function patchVariant(bytes, n) {
  const from = Buffer.from(MARKER);
  const to = Buffer.from(MARKER.slice(0, -4) + String(n).padStart(4, '0'));
  const out = Buffer.from(bytes);
  let hits = 0;
  for (let i = out.indexOf(from); i >= 0; i = out.indexOf(from, i + 1)) {
    to.copy(out, i);
    hits++;
  }
  if (hits === 0) throw new Error('variant marker not found in the component');
  return { bytes: out, hits, value: to.toString() };
}

/** Writes `count` skill folders (ids bench.variant-N) into `root`; returns their dirs. */
export async function writeVariants(fixtureDir, componentPath, root, count, { distinct = true } = {}) {
  const base = await readFile(componentPath);
  const manifest = parse(await readFile(join(fixtureDir, 'skill.yaml'), 'utf8'));
  const dirs = [];
  for (let i = 1; i <= count; i++) {
    const dir = join(root, `variant-${i}`);
    await mkdir(join(dir, 'dist'), { recursive: true });
    await writeFile(join(dir, 'dist/skill.wasm'), distinct ? patchVariant(base, i).bytes : base);
    await writeFile(join(dir, 'skill.yaml'), stringify({ ...manifest, id: `bench.variant-${i}` }));
    dirs.push(dir);
  }
  return dirs;
}
