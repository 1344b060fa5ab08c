/**
 * build-skill: a skill folder (skill.yaml + JS/TS source) -> a WebAssembly component.
 *
 * 1. bundle   esbuild bundles `entry` and its imports into one ES module. `agentos:skill/*` stay
 *             imports (normalised to `@0.1.1`), '@agentos/skills/guest' is guest/helpers.js,
 *             Node built-ins and other schemes are refused with file:line:col and the package.
 *             guest/runtime.js is put in front: it exports `invoke`, dispatches to the skill's
 *             `commands` (or its own raw `invoke`) and turns anything thrown into an err string
 *             (format: src/build/guest-failure.ts), so nothing a skill throws traps the instance.
 *             It also installs the web platform's basics (guest/web/*.js); the web globals a
 *             skill mentions (fetch, URL...) are added after it, where the engine lacks them.
 *             async functions are lowered to generators so that their promises settle inside
 *             the invocation (guest/web/jobs.js).
 * 2. compile  QuickJS (componentize-qjs, sync runtime, WASI stubbed: about 1 s, 1.6 MB) or
 *             StarlingMonkey (componentize-js with every WASI feature disabled: 10-20 s, 12 MB).
 * 3. check    the component imports nothing but `agentos:skill/*`.
 * 4. write    to the manifest's `component` path (or `outFile`), atomically.
 *
 * No preview2-shim preopen is needed: componentize-js gets the WIT as text (`witWorld`), and
 * componentize-qjs is a native addon reading the WIT file directly.
 */

import { randomUUID } from 'node:crypto';
import { access, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as esbuild from 'esbuild';
import { BuildError } from '../errors.js';
import { loadManifest } from '../manifest.js';
import type { SkillManifest } from '../types.js';
import { assertSkillImports, componentImports, ForbiddenImportsError } from './inspect-component.js';
import { SERVED_WIT_VERSIONS, SKILL_INTERFACES, WIT_VERSION } from '../wit-version.js';

export type SkillEngine = 'quickjs' | 'starlingmonkey';

export interface BuildProgress {
  step: 'manifest' | 'bundle' | 'compile' | 'check' | 'write';
  detail?: string;
  ms?: number;
}

export interface BuildOptions {
  /** Default: the manifest's `engine`, else 'quickjs'. */
  engine?: SkillEngine;
  /** Default: the manifest's `component`, resolved against the skill folder. */
  outFile?: string;
  onProgress?: (ev: BuildProgress) => void;
}

export interface BuildResult {
  skillId: string;
  engine: SkillEngine;
  componentPath: string;
  bytes: number;
  ms: number;
  /** Interfaces the component imports, e.g. 'agentos:skill/fs@0.1.0'. */
  imports: string[];
}

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const WIT_FILE = path.join(PACKAGE_ROOT, 'wit', 'skill.wit');
const GUEST_RUNTIME = path.join(PACKAGE_ROOT, 'guest', 'runtime.js');
const GUEST_HELPERS = path.join(PACKAGE_ROOT, 'guest', 'helpers.js');
const GUEST_WEB = path.join(PACKAGE_ROOT, 'guest', 'web');
/** Versions of agentos:skill a skill's source may name; all are served as WIT_VERSION. */
const ACCEPTED_VERSIONS = SERVED_WIT_VERSIONS;
const INTERFACES = Object.keys(SKILL_INTERFACES);
const ALL_SM_FEATURES = ['stdio', 'random', 'clocks', 'http', 'fetch-event'] as const;

export async function buildSkill(dir: string, opts: BuildOptions = {}): Promise<BuildResult> {
  const t0 = performance.now();
  const progress = opts.onProgress ?? (() => {});
  const skillDir = path.resolve(dir);

  const { manifest } = await loadManifest(skillDir);
  const engine = opts.engine ?? manifest.engine ?? 'quickjs';
  if (engine !== 'quickjs' && engine !== 'starlingmonkey') {
    throw new BuildError(`unknown engine '${String(engine)}' (expected quickjs or starlingmonkey)`, { skillId: manifest.id });
  }
  const outFile = path.resolve(skillDir, opts.outFile ?? manifest.component);
  const ctx = { skillId: manifest.id };
  progress({ step: 'manifest', detail: `${manifest.id} ${manifest.version} (${engine})` });

  let t = performance.now();
  const { js, map } = await bundle(skillDir, manifest, engine);
  progress({ step: 'bundle', detail: `${kb(js.length)} of JS`, ms: elapsed(t) });

  t = performance.now();
  let component: Uint8Array;
  try {
    component = engine === 'quickjs' ? await compileQuickJs(js) : await compileStarlingMonkey(js);
  } catch (e) {
    throw new BuildError(`${manifest.id}: ${engine} could not compile the skill: ${compilerMessage(e, map, skillDir)}`, {
      ...ctx,
      cause: e,
    });
  }
  progress({ step: 'compile', detail: `${engine}, ${kb(component.length)}`, ms: elapsed(t) });

  t = performance.now();
  let imports: string[];
  try {
    imports = await componentImports(component);
    assertSkillImports(imports, `the component built from ${manifest.entry}`);
  } catch (e) {
    if (e instanceof ForbiddenImportsError) throw new BuildError(`${manifest.id}: ${e.message}`, { ...ctx, cause: e });
    throw new BuildError(`${manifest.id}: cannot read the built component: ${(e as Error).message}`, { ...ctx, cause: e });
  }
  progress({ step: 'check', detail: imports.join(', '), ms: elapsed(t) });

  t = performance.now();
  const tmp = `${outFile}.${randomUUID()}.tmp`;
  try {
    await mkdir(path.dirname(outFile), { recursive: true });
    await writeFile(tmp, component);
    await rename(tmp, outFile);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new BuildError(`${manifest.id}: cannot write ${outFile}: ${(e as Error).message}`, { ...ctx, cause: e });
  }
  progress({ step: 'write', detail: `${outFile} (${kb(component.length)})`, ms: elapsed(t) });

  return { skillId: manifest.id, engine, componentPath: outFile, bytes: component.length, ms: elapsed(t0), imports };
}

// ---------------------------------------------------------------------------------------------
// Bundle

interface Bundle {
  js: string;
  map: SourceMap | undefined;
  /** Absolute paths of every file that went into the bundle (guest runtime included). */
  inputs: string[];
}

/**
 * Web globals installed only when the skill's bundle mentions them, per engine: the module that
 * installs them, and the names that pull it in. StarlingMonkey's own TextEncoder/TextDecoder,
 * URL, URLSearchParams and structuredClone conform and stay; its atob/btoa throw RangeError
 * instead of InvalidCharacterError, so base64.js replaces a pair that fails that probe; its fetch cannot work
 * (the http feature is off) and its Response bodies resolve only after `invoke` has returned, so
 * fetch/Headers/Request/Response are ours in both engines. Console, clock, Promise jobs and
 * randomness are always installed by runtime.js.
 */
const WEB_MODULES: { file: string; names: string[]; engines: SkillEngine[] }[] = [
  { file: 'encoding.js', names: ['TextEncoder', 'TextDecoder'], engines: ['quickjs'] },
  { file: 'url.js', names: ['URL', 'URLSearchParams'], engines: ['quickjs'] },
  { file: 'clone.js', names: ['structuredClone'], engines: ['quickjs'] },
  { file: 'base64.js', names: ['atob', 'btoa'], engines: ['quickjs', 'starlingmonkey'] },
  { file: 'fetch.js', names: ['fetch', 'Headers', 'Request', 'Response'], engines: ['quickjs', 'starlingmonkey'] },
];

/** The guest/web modules a bundle needs: the name appears in it as an identifier or property. */
export function webModulesFor(js: string, engine: SkillEngine): string[] {
  return WEB_MODULES.filter((m) => m.engines.includes(engine) && m.names.some((n) => new RegExp(`(?<![\\w$])${n}(?![\\w$])`).test(js))).map(
    (m) => path.join(GUEST_WEB, m.file),
  );
}

async function bundle(skillDir: string, manifest: SkillManifest, engine: SkillEngine = 'quickjs'): Promise<Bundle> {
  const ctx = { skillId: manifest.id };
  if (!manifest.entry) {
    throw new BuildError(`${manifest.id}: skill.yaml has no 'entry' (the JS/TS source to build)`, ctx);
  }
  const entry = path.resolve(skillDir, manifest.entry);
  try {
    await access(entry);
  } catch {
    throw new BuildError(`${manifest.id}: entry '${manifest.entry}' not found in ${skillDir}`, ctx);
  }

  const common: esbuild.BuildOptions = {
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    mainFields: ['module', 'main'],
    conditions: ['import', 'default'],
    absWorkingDir: skillDir,
    logLevel: 'silent',
    legalComments: 'none',
    charset: 'utf8',
    metafile: true,
    // Promise jobs only run inside an invocation if async code takes its promises from the
    // global Promise (guest/web/jobs.js): lower async functions and generators to generators.
    supported: { 'async-await': false, 'async-generator': false, 'for-await': false },
    // What browser bundles of npm packages assume.
    // __AGENTOS_BUILD_TIME__: what the clock reads while the module initialises (guest/web/clock.js).
    define: { 'process.env.NODE_ENV': '"production"', global: 'globalThis', __AGENTOS_BUILD_TIME__: String(Date.now()) },
    plugins: [skillImportsPlugin(skillDir)],
  };

  // Pass 1: the skill alone, to learn its exports (and report syntax errors against its files).
  const alone = await runEsbuild({ ...common, entryPoints: [entry], outfile: 'skill.js' }, skillDir, manifest.id);
  const exported = Object.values(alone.metafile?.outputs ?? {})[0]?.exports ?? [];
  const hasCommands = exported.includes('commands');
  const hasInvoke = exported.includes('invoke');
  if (hasCommands === hasInvoke) {
    throw new BuildError(
      hasCommands
        ? `${manifest.id}: ${manifest.entry} exports both 'commands' and 'invoke'; export one of them`
        : `${manifest.id}: ${manifest.entry} must export 'commands' (an object of handlers) or 'invoke(command, argsJson)'` +
            (exported.length ? ` (it exports: ${exported.join(', ')})` : ''),
      ctx,
    );
  }

  // Pass 2: the runtime and the web globals the skill mentions in front of the skill.
  const skillJs = alone.outputFiles?.find((f) => f.path.endsWith('.js'))?.text ?? '';
  const web = webModulesFor(skillJs, engine);
  const wrapper =
    `import { run, settleModule } from ${JSON.stringify(GUEST_RUNTIME)};\n` +
    web.map((f) => `import ${JSON.stringify(f)};\n`).join('') +
    `import * as skill from ${JSON.stringify(entry)};\n` +
    `settleModule();\n` +
    `export function invoke(command, args) { return run(skill, command, args); }\n`;
  const out = await runEsbuild(
    {
      ...common,
      stdin: { contents: wrapper, resolveDir: skillDir, sourcefile: 'agentos-skill-entry.js', loader: 'js' },
      outfile: 'skill.js',
      // Only used to point errors thrown while the engine initialises the module at the source.
      sourcemap: 'external',
      sourcesContent: false,
    },
    skillDir,
    manifest.id,
  );
  const file = out.outputFiles?.find((f) => f.path.endsWith('.js'));
  if (!file) throw new BuildError(`${manifest.id}: esbuild produced no output`, ctx);
  const mapFile = out.outputFiles?.find((f) => f.path.endsWith('.map'));
  let map: SourceMap | undefined;
  try {
    map = mapFile ? (JSON.parse(mapFile.text) as SourceMap) : undefined;
  } catch {
    map = undefined;
  }
  const inputs = Object.keys(out.metafile?.inputs ?? {})
    .filter((f) => f !== 'agentos-skill-entry.js' && !f.includes(':'))
    .map((f) => path.resolve(skillDir, f));
  return { js: file.text, map, inputs };
}

/**
 * Every file a build of `dir` depends on: the manifest, the bundled sources (guest runtime and
 * helpers included) and the WIT. For up-to-date checks (scripts/build-examples.mjs). A skill that
 * does not bundle yields undefined (build it to see why).
 */
export async function skillSources(dir: string): Promise<string[] | undefined> {
  const skillDir = path.resolve(dir);
  try {
    const { manifest, file } = await loadManifest(skillDir);
    const { inputs } = await bundle(skillDir, manifest, manifest.engine ?? 'quickjs');
    return [file, WIT_FILE, ...inputs];
  } catch {
    return undefined;
  }
}

async function runEsbuild(options: esbuild.BuildOptions, skillDir: string, skillId: string): Promise<esbuild.BuildResult> {
  try {
    // Loaded on first use so that hosts which never build skills do not pay for it.
    const { build } = await import('esbuild');
    return await build(options);
  } catch (e) {
    const errors = (e as esbuild.BuildFailure).errors;
    if (Array.isArray(errors) && errors.length > 0) {
      throw new BuildError(`${skillId}: ${formatMessages(errors, skillDir)}`, { skillId, cause: e });
    }
    throw new BuildError(`${skillId}: bundling failed: ${(e as Error).message}`, { skillId, cause: e });
  }
}

/** `src/index.ts:3:14: Expected ";" but found "x"` plus the line and a caret; no stacks. */
export function formatMessages(messages: esbuild.Message[], skillDir: string): string {
  return messages
    .slice(0, 10)
    .map((m) => {
      const loc = m.location;
      if (!loc) return m.text;
      const file = path.isAbsolute(loc.file) ? path.relative(skillDir, loc.file) : loc.file;
      const head = `${file}:${loc.line}:${loc.column + 1}: ${m.text}`;
      if (!loc.lineText) return head;
      const caret = ' '.repeat(loc.column) + '^'.repeat(Math.max(1, Math.min(loc.length, loc.lineText.length - loc.column)));
      return `${head}\n    ${loc.lineText}\n    ${caret}`;
    })
    .join('\n');
}

const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const INTERFACE_RE = new RegExp(
  `^agentos:skill/(${INTERFACES.join('|')})(@(?:${ACCEPTED_VERSIONS.map((v) => v.replaceAll('.', '\\.')).join('|')}))?$`,
);

/** What a skill may import besides its own files and pure-JS packages. */
function skillImportsPlugin(skillDir: string): esbuild.Plugin {
  return {
    name: 'agentos-skill-imports',
    setup(b) {
      b.onResolve({ filter: /^@agentos\/skills\/guest$/ }, () => ({ path: GUEST_HELPERS }));
      b.onResolve({ filter: /^[a-zA-Z][a-zA-Z0-9+.-]*:/ }, (args) => {
        const m = INTERFACE_RE.exec(args.path);
        if (m) return { path: `agentos:skill/${m[1]}@${WIT_VERSION}`, external: true };
        if (args.path.startsWith('node:')) return { errors: [{ text: nodeMessage(args.path, args.importer, skillDir) }] };
        if (args.path.startsWith('agentos:')) {
          return {
            errors: [
              {
                text: `'${args.path}' is not an interface of agentos:skill@${WIT_VERSION}; a skill can import agentos:skill/net, agentos:skill/fs, agentos:skill/log and agentos:skill/clock`,
              },
            ],
          };
        }
        return {
          errors: [
            {
              text: `'${args.path}' cannot be imported by a skill: its only imports are the agentos:skill/* interfaces (net, fs, log), '@agentos/skills/guest' and bundled JS files`,
            },
          ],
        };
      });
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (NODE_BUILTINS.has(args.path)) return { errors: [{ text: nodeMessage(args.path, args.importer, skillDir) }] };
        return undefined;
      });
    },
  };
}

function nodeMessage(spec: string, importer: string, skillDir: string): string {
  const pkg = packageOf(importer);
  const who = pkg ? `the package '${pkg}' (${path.relative(skillDir, importer)}) needs '${spec}', a Node.js built-in` : `'${spec}' is a Node.js built-in`;
  return (
    `${who}; a skill runs in a WebAssembly sandbox without Node. ` +
    `Use agentos:skill/fs, agentos:skill/net and agentos:skill/log (or '@agentos/skills/guest', or the web globals: fetch, URL, TextEncoder, crypto...)` +
    (pkg ? `, or a version of '${pkg}' built for browsers` : '')
  );
}

/** The npm package a file belongs to ('@scope/name' or 'name'), from its node_modules path. */
export function packageOf(file: string): string | undefined {
  const parts = file.split(/[\\/]/);
  const i = parts.lastIndexOf('node_modules');
  if (i < 0 || i + 1 >= parts.length) return undefined;
  const first = parts[i + 1] as string;
  return first.startsWith('@') && i + 2 < parts.length ? `${first}/${parts[i + 2]}` : first;
}

// ---------------------------------------------------------------------------------------------
// Compile

async function compileQuickJs(js: string): Promise<Uint8Array> {
  const { componentize } = await import('componentize-qjs');
  // sync: the async runtime needs JSPI, which Node 20 lacks. stubWasi: QuickJS's own WASI needs
  // (clocks, random) become traps instead of imports. No jsPath/moduleRoot: the bundle is one
  // file, so nothing on disk is exposed while Wizer runs it.
  const r = await componentize({ witPath: WIT_FILE, jsSource: js, sync: true, stubWasi: true });
  return new Uint8Array(r.component.buffer, r.component.byteOffset, r.component.byteLength);
}

async function compileStarlingMonkey(js: string): Promise<Uint8Array> {
  const { componentize } = await import('@bytecodealliance/componentize-js');
  const work = await mkdtemp(path.join(tmpdir(), 'agentos-build-'));
  try {
    const sourcePath = path.join(work, 'skill.js');
    await writeFile(sourcePath, js);
    const wit = await readFile(WIT_FILE, 'utf8');
    // The WIT goes in as text: given a path, componentize-js reads it through preview2-shim,
    // whose empty preopens make it fail (TOOLCHAIN.md).
    // `witWorld` is read by componentize-js 0.23 but missing from its option type.
    const run = componentize as unknown as (o: Record<string, unknown>) => Promise<{ component: Uint8Array }>;
    const r = await run({ sourcePath, witWorld: wit, worldName: 'skill', disableFeatures: [...ALL_SM_FEATURES] });
    return r.component;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * The useful part of a compiler error: what the module threw while the engine initialised it,
 * with bundle positions (`skill.js:160:7`) mapped back to the skill's files, without backtraces.
 */
function compilerMessage(e: unknown, map: SourceMap | undefined, skillDir: string): string {
  const raw = e instanceof Error ? e.message : String(e);
  let where: string | undefined;
  const text = raw
    .replace(/^[:\s]+/, '')
    .replace(/Failed to initialize component \(wizer \([^)]*\)\):\s*/, '')
    .replace(/Failed to evaluate user JavaScript module: Failed to finish JavaScript module evaluation: /, '')
    .replace(/Exception while evaluating top-level script\s*/, '')
    .replace(/(?:componentize-qjs:user\.js|skill\.js):(\d+):(\d+)/g, (whole, l: string, c: string) => {
      const mapped = map ? (originalPosition(map, Number(l), Number(c), skillDir) ?? whole) : whole;
      // Point at the skill's own code, not at the guest runtime/helpers that threw for it.
      const inGuest = path.resolve(skillDir, mapped).startsWith(path.join(PACKAGE_ROOT, 'guest') + path.sep);
      if (!inGuest) where ??= mapped;
      return mapped;
    });
  const seen = new Set<string>();
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^(Stack:?|Additionally, some promises|Promise rejected but never handled|at\s|\S*@|Caused by:?$|\d+:\s+0x)/.test(l))
    .filter((l) => !seen.has(l) && seen.add(l));
  if (lines.length === 0) return 'unknown error';
  // One shape for both engines: `src/index.ts:3:9: Error: ...`.
  if (where) {
    lines[0] = `${where}: ${(lines[0] as string).replace(/^\S+:\d+:\d+:?\s*/, '')}`;
  }
  return lines.slice(0, 6).join('\n');
}

interface SourceMap {
  sources: string[];
  mappings: string;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** `file:line:col` in the skill's sources for a 1-based line / column of the bundle. */
export function originalPosition(map: SourceMap, line: number, column: number, skillDir: string): string | undefined {
  // Source index, original line and column are relative across the whole mappings string.
  let src = 0;
  let oLine = 0;
  let oCol = 0;
  const lines = map.mappings.split(';');
  let best: [number, number, number] | undefined;
  for (let li = 0; li < lines.length && li < line; li++) {
    let gCol = 0;
    for (const seg of (lines[li] ?? '').split(',')) {
      if (!seg) continue;
      const v = decodeVlq(seg);
      if (v.length < 4) continue;
      gCol += v[0] ?? 0;
      src += v[1] ?? 0;
      oLine += v[2] ?? 0;
      oCol += v[3] ?? 0;
      if (li === line - 1 && gCol <= column - 1) best = [src, oLine, oCol];
    }
  }
  if (!best) return undefined;
  const source = map.sources[best[0]];
  if (!source) return undefined;
  // esbuild writes sources relative to the output file, which is named inside the skill folder.
  const file = path.relative(skillDir, path.resolve(skillDir, source));
  return `${file}:${best[1] + 1}:${best[2] + 1}`;
}

function decodeVlq(seg: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const ch of seg) {
    const d = B64.indexOf(ch);
    if (d < 0) return [];
    value += (d & 31) * 2 ** shift;
    if (d & 32) {
      shift += 5;
      continue;
    }
    out.push(value & 1 ? -Math.floor(value / 2) : Math.floor(value / 2));
    value = 0;
    shift = 0;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

function elapsed(t: number): number {
  return Math.round(performance.now() - t);
}

function kb(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MB` : `${(n / 1024).toFixed(1)} kB`;
}
