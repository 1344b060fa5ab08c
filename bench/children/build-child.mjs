// One build-skill run in a fresh process (what `agentos-skills build` costs a developer).
//   node build-child.mjs <skillDir> <engine> <outFile>   -> one JSON line {ms, bytes, wall_ms}
const [dir, engine, outFile] = process.argv.slice(2);
const t = performance.now();
const { buildSkill } = await import(new URL('../../dist/build/build-skill.js', import.meta.url).href);
const steps = {};
const r = await buildSkill(dir, { engine, outFile, onProgress: (p) => p.ms !== undefined && (steps[p.step] = p.ms) });
process.stdout.write(JSON.stringify({ ms: r.ms, bytes: r.bytes, wall_ms: performance.now() - t, steps }) + '\n');
