#!/usr/bin/env node
// `npm run demo`: installs the example skills into a throwaway store and shows every gate and
// guard saying yes and no, then the audit trail they left. Nothing outside a temp dir is touched
// and nothing leaves this machine: the "internet" is a loopback server the operator explicitly
// allows, and far hosts are denied before any DNS lookup or connection.
import { once } from 'node:events';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { SkillInvoker, SkillLoader, SkillRegistry } from '../dist/index.js';

const root = resolve(import.meta.dirname, '..');
const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code) => (s) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : s);
const green = paint(32);
const red = paint(31);
const dim = paint(2);
const bold = paint(1);

const tmp = await mkdtemp(join(tmpdir(), 'agentos-demo-'));
const home = join(tmp, 'home');
const files = join(tmp, 'files');
const outside = join(tmp, 'outside');

async function copySkill(name, edit) {
  const dir = join(tmp, 'skills', name);
  await cp(join(root, 'skills', name), dir, { recursive: true });
  const file = join(dir, 'skill.yaml');
  const m = parse(await readFile(file, 'utf8'));
  edit?.(m);
  await writeFile(file, stringify(m));
  return dir;
}

/** `s` in at most `max` characters: cut at the last word boundary that keeps most of it, with an ellipsis. */
function clip(s, max) {
  if (s.length <= max) return s;
  const head = s.slice(0, max - 1);
  const cut = Math.max(head.lastIndexOf(' '), head.lastIndexOf(','));
  return `${cut > max * 0.6 ? head.slice(0, cut) : head}…`;
}

async function step(title, fn) {
  try {
    const out = await fn();
    console.log(`  ${green('yes')}  ${title}${out === undefined ? '' : dim(`  -> ${clip(JSON.stringify(out), 110)}`)}`);
  } catch (e) {
    const detail = e.code ? `${e.code}: ${e.message}` : String(e);
    console.log(`  ${red(' no')}  ${title}${dim(`  -> ${e.constructor?.name ?? 'Error'} ${clip(detail, 150)}`)}`);
  }
}

const server = createServer((req, res) => res.end(`hello from ${req.headers.host}${req.url}`));
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const port = server.address().port;

let registry;
let invoker;
try {
  await mkdir(files, { recursive: true });
  await mkdir(outside, { recursive: true });
  await writeFile(join(files, 'notes.txt'), 'remember the milk');
  await writeFile(join(outside, 'secret.txt'), 'the host must never leak this');
  await symlink(outside, join(files, 'escape'));

  const hello = await copySkill('hello');
  const fetcher = await copySkill('net-fetch', (m) => {
    // The operator allows this one loopback origin for the demo (no internet here).
    m.requires.permissions.net.allow_domains = ['api.github.com', '*.example.com', `http://127.0.0.1:${port}`];
  });
  const fsCmd = await copySkill('fs-cmd', (m) => {
    m.requires.permissions.fs = { read: true, write: false, paths: [files] };
  });

  console.log(bold(`\nagentos-skills demo  ${dim(`(throwaway store: ${home})`)}\n`));
  registry = new SkillRegistry({ home, hostPolicy: { allowPrivateNetworks: true } });

  console.log(bold('install: manifest and component checked, stored by sha256, disabled'));
  for (const dir of [hello, fetcher, fsCmd]) {
    await step(`install ${dir.split('/').pop()}`, async () => {
      const s = await registry.install(dir);
      return { id: s.id, enabled: s.enabled, sha256: s.componentHash.slice(0, 12) };
    });
  }
  const broken = await copySkill('hello', (m) => {
    m.id = 'Bad Id!';
  });
  await step('install a skill with a malformed manifest', () => registry.install(broken));

  const loader = new SkillLoader(registry);
  invoker = new SkillInvoker(loader);

  console.log(bold('\nphase gate: planning blocks every skill'));
  await step('invoke example.hello greet while planning', () => invoker.invoke('example.hello', 'greet', { name: 'Ada' }));
  invoker.setPhase('execution');

  console.log(bold('\nenable check'));
  await step('invoke example.hello before it is enabled', () => invoker.invoke('example.hello', 'greet', { name: 'Ada' }));
  for (const id of ['example.hello', 'example.fetch', 'example.files']) registry.enable(id);
  await loader.loadEnabledSkills();
  await step('invoke example.hello greet after enable', () => invoker.invoke('example.hello', 'greet', { name: 'Ada' }));
  await step('invoke an unknown command', () => invoker.invoke('example.hello', 'shout', {}));
  await step('invoke with args that fail the schema', () => invoker.invoke('example.hello', 'greet', { name: 7 }));

  console.log(bold('\nnet guard: allow_domains, decided at every request'));
  await step(`GET http://127.0.0.1:${port}/ (allowed by the operator for this demo; real HTTP)`, () =>
    invoker.invoke('example.fetch', 'fetch', { domain: `127.0.0.1:${port}`, scheme: 'http', path: '/' }),
  );
  await step('GET https://evil.com/ (not in allow_domains; no DNS, no connection)', () =>
    invoker.invoke('example.fetch', 'fetch', { domain: 'evil.com' }),
  );
  await step('GET http://api.github.com/ (plain http not allowed for this host)', () =>
    invoker.invoke('example.fetch', 'fetch', { domain: 'api.github.com', scheme: 'http' }),
  );
  await step('GET https://169.254.169.254/ (cloud metadata)', () =>
    invoker.invoke('example.fetch', 'fetch', { domain: '169.254.169.254', path: '/latest/meta-data/' }),
  );

  console.log(bold('\nfs guard: roots, read/write flags, canonical paths'));
  await step(`read ${join(files, 'notes.txt')}`, () => invoker.invoke('example.files', 'cmd', { operation: 'read', path: join(files, 'notes.txt') }));
  await step('read /etc/passwd', () => invoker.invoke('example.files', 'cmd', { operation: 'read', path: '/etc/passwd' }));
  await step(`read ${files}/../outside/secret.txt (traversal)`, () =>
    invoker.invoke('example.files', 'cmd', { operation: 'read', path: `${files}/../outside/secret.txt` }),
  );
  await step(`read ${files}/escape/secret.txt (symlink out of the root)`, () =>
    invoker.invoke('example.files', 'cmd', { operation: 'read', path: `${files}/escape/secret.txt` }),
  );
  await step(`write ${join(files, 'notes.txt')} (skill has read only)`, () =>
    invoker.invoke('example.files', 'cmd', { operation: 'write', path: join(files, 'notes.txt'), content: 'pwned' }),
  );
  console.log(dim(`       notes.txt still says: ${JSON.stringify(await readFile(join(files, 'notes.txt'), 'utf8'))}`));

  console.log(bold('\ndisable takes effect at the next invoke'));
  registry.disable('example.hello');
  await step('invoke example.hello after disable', () => invoker.invoke('example.hello', 'greet', { name: 'Ada' }));

  console.log(bold('\naudit trail (oldest first)'));
  for (const e of registry.auditEvents({ limit: 50 }).reverse()) {
    if (['installed', 'enabled', 'disabled'].includes(e.type)) continue;
    console.log(`  ${dim(e.at.slice(11, 23))}  ${e.type.padEnd(18)} ${(e.skillId ?? '').padEnd(14)} ${e.capability ?? ''} ${e.operation ?? ''} ${dim(clip(e.target ?? e.reason ?? '', 60))}`);
  }
  console.log('');
} finally {
  await invoker?.close();
  registry?.close();
  server.close();
  await rm(tmp, { recursive: true, force: true });
}
