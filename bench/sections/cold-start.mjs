// Cold start: a fresh `node` process to the first QuickJS result, warm and cold transpile cache,
// and what importing the host and its dependencies costs on its own.
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { childScript, coldRuns, spawnWall } from '../lib/child.mjs';
import { CACHE, GREET_JSON, ROOT, SKILLS } from '../lib/env.mjs';
import { makeStore } from '../lib/hosts.mjs';
import { round, summarizeMs } from '../lib/stats.mjs';

export const name = 'cold_start';

/**
 * The real CLI, `agentos-skills invoke example.hello greet` on the warm store, against a bare
 * `node -e 0`: spawn to exit, one of each per round (interleaved, so load swings hit both).
 */
async function cliInvoke(home, rounds) {
  const cli = [join(ROOT, 'dist/cli/main.js'), 'invoke', 'example.hello', 'greet', '--args', GREET_JSON];
  const env = { AGENTOS_HOME: home };
  await spawnWall(cli, { env }); // untimed: fills what a first run fills
  const bare = [];
  const runs = [];
  for (let i = 0; i < rounds; i++) {
    bare.push(await spawnWall(['-e', '0']));
    runs.push(await spawnWall(cli, { env }));
  }
  const exit = summarizeMs(runs.map((r) => r.exitMs));
  const nodeBare = summarizeMs(bare.map((r) => r.exitMs));
  return {
    what: 'spawn to exit of `node dist/cli/main.js invoke example.hello greet` (warm caches) and of `node -e 0`, interleaved, parent wall',
    rounds,
    node_e_0: nodeBare,
    cli_exit: exit,
    cli_first_output: summarizeMs(runs.map((r) => r.firstMs)),
    cli_output_to_exit: summarizeMs(runs.map((r) => r.exitMs - r.firstMs)),
    ratio_to_node_e_0: round(exit.median_ms / nodeBare.median_ms, 2),
  };
}

export async function run(ctx) {
  const store = await makeStore([SKILLS.hello]);
  store.cacheDir = store.registry.cacheDir;
  store.registry.close();
  const out = {
    what: 'fresh `node` process: import dist/index.js, new SkillRegistry, loader.load, new SkillInvoker, first invoke of hello greet (QuickJS). in_child = performance.now() at the result (0 = process start, performance.timeOrigin); parent_wall = spawn to the result line / to exit',
    warm_cache: await coldRuns(store, 'example.hello', 'greet', GREET_JSON, { n: 5, cold: false }),
    cold_cache: await coldRuns(store, 'example.hello', 'greet', GREET_JSON, { n: 3, cold: true }),
    cli_invoke: await cliInvoke(store.home, 12),
  };
  // What the imports cost on their own (each in a fresh process, dependencies included), and
  // the host bundled into one file by esbuild (native and wasm-carrying packages left external):
  // how much of the import is module loading rather than evaluation.
  const bundleDir = CACHE;
  await mkdir(bundleDir, { recursive: true });
  const esbuild = await import('esbuild');
  let bundled = true;
  await esbuild.build({
    entryPoints: [join(ROOT, 'dist/index.js')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: join(bundleDir, 'host-bundle.mjs'),
    external: ['better-sqlite3', '@bytecodealliance/*', 'componentize-qjs', 'esbuild'],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: 'error',
  }).catch((e) => {
    bundled = false;
    out.bundle_error = String(e.message ?? e);
  });
  out.import_ms = {};
  const specs = ['../../dist/index.js', ...(bundled ? ['../../node_modules/.cache/agentos-bench/host-bundle.mjs'] : []), '../../dist/registry.js', '../../dist/loader.js', '../../dist/invoker.js', '@bytecodealliance/jco', 'undici', 'zod', 'esbuild', 'better-sqlite3'];
  for (const spec of specs) {
    const samples = [];
    // Three runs for the host entry points, one for single dependencies (context only).
    const n = spec.startsWith('../../') ? 3 : 1;
    for (let i = 0; i < n; i++) {
      const p = await new Promise((resolve, reject) => {
        const c = spawn(process.execPath, [childScript('import-child.mjs'), spec], { stdio: ['ignore', 'pipe', 'inherit'] });
        let o = '';
        c.stdout.on('data', (d) => (o += d));
        c.on('exit', (code) => (code === 0 ? resolve(Number(o)) : reject(new Error(`import ${spec} failed`))));
      });
      samples.push(p);
    }
    out.import_ms[spec.replace('../../', '').replace('node_modules/.cache/agentos-bench/host-bundle.mjs', 'dist/index.js bundled (esbuild)')] = summarizeMs(samples).median_ms;
  }
  return out;
}
