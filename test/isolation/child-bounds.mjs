// A host process for the host-call bounds suite (host-call-bounds.test.ts). Each case is a skill
// sending or asking for something unbounded (a directory of 300k long names, names that grow 6x
// as JSON, huge writes, a flood of calls); before the bounds, the first of them aborted the whole
// process, so they run here and the parent asserts on the report and on how this process ended.
// While each case runs, another skill's `spin` with a 300 ms deadline measures how late that
// deadline fires.
//
//   node test/isolation/child-bounds.mjs table
import { closeSync, existsSync, mkdirSync, openSync, statSync, writeFileSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { DEFAULT_HOST_POLICY, SkillInvoker, SkillLoader, SkillRegistry } from '../../dist/index.js';

const ROOT = resolve(import.meta.dirname, '../..');
const print = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const outcome = (p) =>
  p.then(
    (v) => ({ ok: true, v }),
    (e) => ({ ok: false, name: e?.name, code: e?.code, limit: e?.limit, max: e?.max, message: String(e?.message).slice(0, 300) }),
  );

let maxRss = 0;
const rssTimer = setInterval(() => (maxRss = Math.max(maxRss, process.memoryUsage().rss)), 20);

const home = await mkdtemp(join(tmpdir(), 'agentos-bounds-home-'));
// tmpfs when there is one: 300k files are created there in ~6 s (ext4 here: ~35 s), in memory only.
const scratch = existsSync('/dev/shm') && statSync('/dev/shm').isDirectory() ? '/dev/shm' : tmpdir();
const fsRoot = await mkdtemp(join(scratch, 'agentos-bounds-root-'));

// ---- what the skills find on disk (empty files: inodes and directory blocks only) ----
// So the parent can clean up even if this process dies.
print({ event: 'scratch', paths: [fsRoot, home] });
const t0 = performance.now();
/** `n` empty files in `dir`, named <8-digit index><fill>. */
function plant(dir, n, fill) {
  mkdirSync(dir);
  for (let i = 0; i < n; i++) closeSync(openSync(join(dir, String(i).padStart(8, '0') + fill), 'w'));
}
const BIG = join(fsRoot, 'big');
plant(BIG, 300_000, 'L'.repeat(240)); // 248-byte names
const MAXLEN = join(fsRoot, 'maxlen');
plant(MAXLEN, 5000, 'M'.repeat(247)); // 255 bytes: NAME_MAX
const ESCAPES = join(fsRoot, 'escapes');
plant(ESCAPES, 6000, '\x01'.repeat(247)); // 255 bytes, 1490 as JSON ("\u0001" each)
writeFileSync(join(fsRoot, 'f60k'), Buffer.alloc(60 * 1024, 1));
writeFileSync(join(fsRoot, 'f100k'), Buffer.alloc(100 * 1024, 1));
mkdirSync(join(fsRoot, 'planted'));
const plantMs = Math.round(performance.now() - t0);

// ---- the host ----
// The default policy denies /dev; this host's operator allows the tmpfs scratch root.
const hostPolicy = { ...DEFAULT_HOST_POLICY, deniedPaths: DEFAULT_HOST_POLICY.deniedPaths.filter((p) => p !== '/dev') };
const registry = new SkillRegistry({ home, hostPolicy });
async function install(src, edit) {
  const dir = await mkdtemp(join(home, 'skill-'));
  await cp(join(ROOT, src), dir, { recursive: true });
  const m = parse(await readFile(join(dir, 'skill.yaml'), 'utf8'));
  edit(m);
  await writeFile(join(dir, 'skill.yaml'), stringify(m));
  const s = await registry.install(dir);
  registry.enable(s.id);
}
const fsPerms = { fs: { read: true, write: true, paths: [fsRoot] } };
await install('test/fixtures/hostile', (m) => {
  m.requires.permissions = fsPerms;
  m.requires.limits = { timeout_ms: 30_000, memory_mb: 160 };
});
await install('test/fixtures/hostile', (m) => {
  m.id = 'test.victim';
  m.requires.limits = { timeout_ms: 5000, memory_mb: 32 };
});
await install('skills/fs-cmd', (m) => {
  m.requires.permissions = fsPerms;
  m.requires.limits = { timeout_ms: 30_000, memory_mb: 64 };
});
const loader = new SkillLoader(registry);
await loader.loadEnabledSkills();
const invoker = new SkillInvoker(loader, { phase: 'execution', pool: { maxWorkers: 12 } });
// Same skills, a 64 KiB message bound: replies and calls near and over it.
const small = new SkillInvoker(loader, { phase: 'execution', pool: { maxWorkers: 4 }, limits: { maxMessageBytes: 64 * 1024 } });

/** Ready victim instances, so a probe's deadline starts at once (a worker's cold start is not the point). */
async function warmVictims(n) {
  await Promise.all(Array.from({ length: n }, (_, i) => invoker.invoke('test.victim', 'ok', { i })));
  await sleep(50);
}

/** Another skill's spin with a 300 ms deadline: ms between its due time and its rejection. */
async function probe() {
  const start = performance.now();
  const r = await outcome(invoker.invoke('test.victim', 'spin', {}, { timeoutMs: 300 }));
  return { name: r.name, lateMs: Math.round(performance.now() - start - 300) };
}

const limitRows = () => registry.auditEvents({ type: 'limit_exceeded', limit: 1_000_000 }).filter((e) => e.skillId !== 'test.victim');

const cases = {};
/** Runs `fn` (one hostile invocation) while probing deadlines; records outcome, audit rows, lateness. */
async function hostile(name, fn, probes = 2) {
  await warmVictims(probes);
  const rowsBefore = limitRows().length;
  const t = performance.now();
  const running = outcome(fn());
  await sleep(100);
  const late = [];
  for (let i = 0; i < probes; i++) late.push(await probe());
  const out = await running;
  const rows = limitRows().slice(0, limitRows().length - rowsBefore);
  cases[name] = { ...out, ms: Math.round(performance.now() - t), late, limitRows: rows.map((e) => `${e.operation}:${e.meta?.limit ?? ''}`) };
}

const io = (args, inv = invoker) => inv.invoke('test.hostile', 'io-loop', args);

await hostile('list-300k (fs-cmd)', () => invoker.invoke('example.files', 'cmd', { operation: 'list', path: BIG }));
await hostile('list-300k in a loop', () => io({ op: 'list', path: BIG, n: 20 }), 3);
// The vector: a skill plants the entries itself with make-dir, over several invocations.
for (const start of [0, 4000, 8000]) {
  await hostile(`plant ${start}..${start + 3999}`, () => io({ op: 'plant', path: join(fsRoot, 'planted'), n: 4000, start, fill: 200 }), 1);
}
await hostile('list planted 12000', () => io({ op: 'list', path: join(fsRoot, 'planted'), n: 3 }));
await hostile('list 5000 names of 255 bytes', () => io({ op: 'list', path: MAXLEN, n: 3 }));
await hostile('list 6000 names that escape 6x in JSON', () => io({ op: 'list', path: ESCAPES, n: 1 }));
await hostile('read 60 KiB, 64 KiB bound', () => io({ op: 'read', path: join(fsRoot, 'f60k'), n: 5 }, small), 1);
await hostile('read 100 KiB, 64 KiB bound', () => io({ op: 'read', path: join(fsRoot, 'f100k'), n: 5 }, small), 1);
await hostile('write 100 KiB, 64 KiB bound', () => io({ op: 'write', path: join(fsRoot, 'w100k'), size: 100 * 1024, n: 1 }, small), 1);
await hostile('write 40 MiB', () => io({ op: 'write', path: join(fsRoot, 'w40m'), size: 40 * 1024 * 1024, n: 1 }));
await hostile('write 20 MiB', () => io({ op: 'write', path: join(fsRoot, 'w20m'), size: 20 * 1024 * 1024, n: 1 }));
await hostile('30000 host calls', () => io({ op: 'stat', path: fsRoot, n: 30_000 }), 3);

const after = {
  hostileOk: await outcome(invoker.invoke('test.hostile', 'ok', { after: true })),
  victimOk: await outcome(invoker.invoke('test.victim', 'ok', { after: true })),
  written: ['w100k', 'w40m', 'w20m'].filter((f) => existsSync(join(fsRoot, f))),
};
await small.close();
await invoker.close();
registry.close();
clearInterval(rssTimer);
await rm(fsRoot, { recursive: true, force: true });
await rm(home, { recursive: true, force: true });
print({ event: 'report', results: { plantMs, cases, after, maxRssMb: Math.round(maxRss / 2 ** 20) } });
