#!/usr/bin/env node
// Bundles the CLI's own modules (tsc's dist/cli/main.js and everything of dist/ it imports) into a
// few files in dist/cli-bundle/, and makes dist/cli/main.js (the bin) a one-line entry into them.
// Run after tsc (`npm run build` does both).
//
// Why: Node 20 loads ES modules one file at a time (resolve, read, compile, link), and the CLI's
// `invoke` imports ~110 of ours; as ~25 chunks that is ~40 ms less per process (BENCHMARKS.md).
// Code splitting keeps every dynamic import() lazy (`--version` still loads no SQLite, zod or
// ajv). Packages stay external (resolved in node_modules as before) except the CLI's own two,
// commander and picocolors: pure JS, used by every command, ~8 CommonJS files (another ~25 ms). The library entry
// points (dist/index.js, dist/mcp/server.js) and the worker (dist/sandbox/worker-thread.js, a
// file the worker thread loads by URL) are not bundled: they stay tsc's files.
//
// `import.meta.url` is rewritten to the URL the module had in dist/, so every path computed
// from it (the package root the fs guard protects, package.json, the worker script) is the same
// as unbundled.
import { chmodSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const outdir = path.join(dist, 'cli-bundle');
const bin = path.join(dist, 'cli/main.js');
const MARK = '// agentos-skills: bundled entry (scripts/bundle-cli.mjs)';

if (!existsSync(bin)) throw new Error(`${bin} is missing: run tsc first (npm run build)`);
const entryText = readFileSync(bin, 'utf8');
if (entryText.includes(MARK)) throw new Error(`${bin} is already the bundle's entry: run tsc first (npm run build)`);

/** Bundled into the CLI; every other dependency is loaded from node_modules. */
const BUNDLED_PACKAGES = ['commander', 'picocolors'];
const external = Object.keys(JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).dependencies).filter((d) => !BUNDLED_PACKAGES.includes(d));

const META_URL = /\bimport\.meta\.url\b/g;
const metaUrl = {
  name: 'original-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.js$/ }, async (args) => {
      let text = await readFile(args.path, 'utf8');
      if (args.path.startsWith(dist + path.sep)) {
        // Chunks live one level below dist/, so '../<path in dist>' is where the module was.
        const rel = path.relative(dist, args.path).split(path.sep).join('/');
        text = text.replace(META_URL, `new URL(${JSON.stringify(`../${rel}`)}, import.meta.url).href`);
      }
      return { contents: text, loader: 'js', resolveDir: path.dirname(args.path) };
    });
  },
};

rmSync(outdir, { recursive: true, force: true });
await esbuild.build({
  entryPoints: { main: bin },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir,
  chunkNames: 'chunk-[hash]',
  external,
  plugins: [metaUrl],
  // commander is CommonJS: its require() of Node builtins needs a require in the ES module output.
  banner: { js: "import { createRequire as __agentosCreateRequire } from 'node:module'; const require = __agentosCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
const mode = statSync(bin).mode;
writeFileSync(bin, `#!/usr/bin/env node\n${MARK}\nimport '../cli-bundle/main.js';\n`);
chmodSync(bin, mode);
