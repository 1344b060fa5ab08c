#!/usr/bin/env node
// Smoke run of the package as users get it, on another Node version: `npm pack` this repo once,
// install the tarball (and TypeScript) into a fresh temp project with that Node, then
//   library   the README's library quick start (skills/hello and skills/net-fetch copied in),
//   cli       the README's CLI quick start (install, enable --yes, list, invoke, a denial = exit 12),
//   mcp       one tools/call over stdio with the official MCP SDK client,
//   types     a strict TypeScript consumer (skipLibCheck: false) compiled with tsc --noEmit,
// each asserting its output and exit code, one line per check.
//
//   node scripts/smoke.mjs <node>            <node>: a Node binary, its bin/ folder, or the folder
//                                            given to `npm i --prefix DIR node@24`
//   node scripts/smoke.mjs <node> --runs 50  the library quick start 50 times, 4 at a time
//   node scripts/smoke.mjs                   this Node
//
// Native modules compile against the target Node's own headers (npm_config_nodedir is set to the
// node-<os>-<arch> package next to the binary, unless already set). Needs `npm run build` and the
// two example skills built: it does both (each skips what is fresh).
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const argv = process.argv.slice(2);
const runsAt = argv.indexOf('--runs');
const runs = runsAt >= 0 ? Number(argv[runsAt + 1]) : 1;
if (!Number.isInteger(runs) || runs < 1) fail('--runs needs a positive integer');
const keep = argv.includes('--keep');
const target = argv.find((a, i) => !a.startsWith('--') && argv[i - 1] !== '--runs');

const node = resolveNode(target);
const nodedir = process.env.npm_config_nodedir ?? headersNear(node);
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

// The README's library quick start, as a user would paste it (home from $AGENTOS_HOME).
const LIBRARY_QUICK_START = `import { SkillRegistry, SkillLoader, SkillInvoker, PermissionDeniedError } from '@agentos/skills';

const registry = new SkillRegistry();
await registry.install('skills/hello');
await registry.install('skills/net-fetch');
registry.enable('example.hello');
registry.enable('example.fetch');

const loader = new SkillLoader(registry);
await loader.loadEnabledSkills();

const invoker = new SkillInvoker(loader);
invoker.setPhase('execution');
console.log(JSON.stringify(await invoker.invoke('example.hello', 'greet', { name: 'Ada' })));

try {
  await invoker.invoke('example.fetch', 'fetch', { domain: 'evil.com' });
  console.log('evil.com was NOT denied');
} catch (e) {
  if (e instanceof PermissionDeniedError) console.log(e.capability, e.target, 'denied');
  else throw e;
}
registry.disable('example.hello');
if (registry.auditEvents({ skillId: 'example.fetch', limit: 10 }).length === 0) throw new Error('no audit events');
await invoker.close();
registry.close();
`;

// One tools/call through the official SDK client, the server being the installed bin on stdio.
const MCP_CALL = `import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const [bin, home] = process.argv.slice(2);
const transport = new StdioClientTransport({ command: bin, args: ['mcp', '--home', home], env: { ...process.env }, stderr: 'inherit' });
const client = new Client({ name: 'smoke', version: '1.0.0' });
await client.connect(transport);
const { tools } = await client.listTools();
const tool = tools.find((t) => t.name === 'example_hello__greet');
if (!tool) throw new Error('tools/list has no example_hello__greet: ' + tools.map((t) => t.name).join(', '));
const r = await client.callTool({ name: tool.name, arguments: { name: 'Ada' } });
const text = r.content.map((c) => c.text).join('');
console.log(JSON.stringify({ tool: tool.name, isError: r.isError ?? false, text: JSON.parse(text).greeting }));
await client.close();
`;

/** The environment of everything run against the target Node: it is first on PATH. */
const env = { ...process.env, PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH ?? ''}` };
for (const k of Object.keys(env)) if (k.startsWith('AGENTOS_') || k.startsWith('npm_') || k === 'NODE_OPTIONS') delete env[k];
Object.assign(env, { npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' });
if (nodedir) env.npm_config_nodedir = nodedir;

const version = execFileSync(node, ['-v'], { encoding: 'utf8' }).trim();
const work = mkdtempSync(path.join(tmpdir(), `agentos-smoke-${version}-`));
let failed = 0;
let fatal = false; // a failed pack or install: nothing after it can run
const t0 = performance.now();

try {
  console.log(`smoke  node ${version} (${node})${nodedir ? `, headers ${nodedir}` : ''}, in ${work}`);

  let tarball;
  await check('pack', async () => {
    await sh(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, env: process.env });
    await sh(process.execPath, ['scripts/build-examples.mjs', 'skills/hello', 'skills/net-fetch'], { cwd: root, env: process.env });
    const out = await sh('npm', ['pack', root, '--pack-destination', work, '--json', '--loglevel', 'error'], { cwd: work });
    const file = JSON.parse(out.stdout)[0].filename;
    tarball = path.join(work, file);
    return `${file}, ${(statSync(path.join(work, file)).size / 1024 / 1024).toFixed(1)} MB`;
  }, { required: true });

  const project = path.join(work, 'project');
  await check('install', async () => {
    cpSync(path.join(root, 'test/fixtures/ts-consumer'), project, { recursive: true });
    // A user's project: npm 11 runs a dependency's install script only when the project's
    // allowScripts reviews it (the README lists the same entries as this repo's package.json).
    const manifest = { name: 'smoke', version: '1.0.0', private: true, type: 'module', allowScripts: pkg.allowScripts };
    writeFileSync(path.join(project, 'package.json'), JSON.stringify(manifest, null, 2));
    const out = await sh('npm', ['install', tarball, `typescript@${pkg.devDependencies.typescript}`, '--prefer-offline'], { cwd: project });
    const warnings = (out.stdout + out.stderr).split('\n').filter((l) => /^npm warn/i.test(l));
    if (warnings.length > 0) throw new Error(`npm install warned:\n${warnings.join('\n')}`);
    for (const s of ['hello', 'net-fetch']) cpSync(path.join(root, 'skills', s), path.join(project, 'skills', s), { recursive: true });
    return 'tarball + typescript, no warnings';
  }, { required: true });

  const bin = path.join(project, 'node_modules/.bin/agentos-skills');

  await check(`library${runs > 1 ? ` x${runs}` : ''}`, async () => {
    writeFileSync(path.join(project, 'quickstart.mjs'), LIBRARY_QUICK_START);
    const one = async (i) => {
      const home = path.join(work, `home-lib-${i}`);
      const out = await sh(node, ['quickstart.mjs'], { cwd: project, env: { ...env, AGENTOS_HOME: home } });
      expectEqual(out.stdout.trim().split('\n'), ['{"greeting":"Hello, Ada!"}', 'net https://evil.com/ denied']);
      rmSync(home, { recursive: true, force: true });
    };
    const queue = Array.from({ length: runs }, (_, i) => i);
    await Promise.all(Array.from({ length: Math.min(4, runs) }, async () => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) await one(i);
    }));
    return `${runs} run${runs > 1 ? 's, 4 at a time,' : ''} exit 0: greet -> Hello, Ada!; evil.com -> PermissionDeniedError`;
  });

  const home = path.join(work, 'home-cli');
  const cli = (args, opts = {}) => sh(bin, args, { cwd: project, env: { ...env, AGENTOS_HOME: home }, ...opts });
  await check('cli', async () => {
    await cli(['install', 'skills/hello']);
    await cli(['enable', 'example.hello', '--yes']);
    await cli(['install', 'skills/net-fetch']);
    await cli(['enable', 'example.fetch', '--yes']);
    const list = await cli(['list']);
    if (!/example\.hello\s+1\.0\.0\s+enabled/.test(list.stdout)) throw new Error(`list:\n${list.stdout}`);
    const greet = await cli(['invoke', 'example.hello', 'greet', '--args', '{"name":"Ada"}']);
    expectEqual(JSON.parse(greet.stdout), { greeting: 'Hello, Ada!' });
    const denied = await cli(['invoke', 'example.fetch', 'fetch', '--args', '{"domain":"evil.com"}'], { allowExit: [12] });
    if (denied.code !== 12 || !denied.stderr.includes('is not in allow_domains')) throw new Error(`denial: exit ${denied.code}\n${denied.stderr}`);
    return 'install, enable --yes, list, invoke -> Hello, Ada!; evil.com -> exit 12';
  });

  await check('mcp', async () => {
    writeFileSync(path.join(project, 'mcp-call.mjs'), MCP_CALL);
    const out = await sh(node, ['mcp-call.mjs', bin, home], { cwd: project });
    expectEqual(JSON.parse(out.stdout), { tool: 'example_hello__greet', isError: false, text: 'Hello, Ada!' });
    return 'SDK client over stdio: tools/list, tools/call example_hello__greet -> Hello, Ada!';
  });

  await check('types', async () => {
    await sh(node, [path.join(project, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: project });
    return 'tsc --noEmit, strict, skipLibCheck: false, only the tarball (and typescript) installed';
  });
} finally {
  if (!keep) rmSync(work, { recursive: true, force: true });
}
console.log(`smoke  node ${version}: ${failed === 0 ? 'all passed' : `${failed} FAILED`} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
process.exitCode = failed === 0 ? 0 : 1;

async function check(name, fn, { required = false } = {}) {
  if (fatal) return console.log(`skip   ${name}`);
  const t = performance.now();
  try {
    const what = await fn();
    console.log(`ok     ${name.padEnd(12)} ${what}  (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed++;
    fatal ||= required;
    console.log(`FAIL   ${name.padEnd(12)} ${e?.message ?? e}`);
  }
}

/** Runs a command; rejects with its output unless it exits 0 (or one of `allowExit`). */
function sh(cmd, args, { cwd, env: e = env, allowExit = [] } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: e, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0 || allowExit.includes(code)) resolve({ code, stdout, stderr });
      else reject(new Error(`${path.basename(cmd)} ${args.join(' ')}: ${signal ?? `exit ${code}`}\n${stdout}${stderr}`.trimEnd()));
    });
  });
}

function expectEqual(actual, expected) {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

function resolveNode(arg) {
  if (!arg) return process.execPath;
  const exe = process.platform === 'win32' ? 'node.exe' : 'node';
  const candidates = [arg, path.join(arg, exe), path.join(arg, 'bin', exe), path.join(arg, 'node_modules/node/bin', exe)];
  const found = candidates.find((c) => existsSync(c) && statSync(c).isFile());
  if (!found) fail(`no Node binary at ${arg} (tried ${candidates.join(', ')})`);
  return path.resolve(found);
}

/** The headers folder of the npm registry's `node` package (node-<os>-<arch>, with include/node). */
function headersNear(bin) {
  const platformPkg = `node-${process.platform}-${process.arch}`;
  const pkgDir = path.resolve(path.dirname(bin), '..'); // DIR/node_modules/node
  for (const dir of [path.join(pkgDir, 'node_modules', platformPkg), path.join(pkgDir, '..', platformPkg), pkgDir]) {
    if (existsSync(path.join(dir, 'include/node/node_api.h'))) return dir;
  }
  return undefined;
}

function fail(message) {
  console.error(`smoke: ${message}`);
  process.exit(2);
}
