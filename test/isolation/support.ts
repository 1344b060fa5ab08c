/**
 * Shared pieces of the isolation suites: the probe fixture (built on demand), hostile copies
 * with a roomier manifest timeout, a `fetch` seam that records host-side timestamps, and small
 * helpers to capture errors and audit events.
 */
import { spawn } from 'node:child_process';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { buildSkill } from '../../src/index.js';
import type { AuditEvent } from '../../src/types.js';
import type { SkillRegistry } from '../../src/registry.js';
import { SkillInvoker, type SkillInvokerOptions } from '../../src/invoker.js';
import { copySkill, ROOT, SKILLS, tempDir, type Host } from '../helpers.js';

export const ISOLATION = join(ROOT, 'test/isolation');
export const PROBE_SRC = join(ISOLATION, 'fixtures/probe');
export const CHILD_SCRIPT = join(ISOLATION, 'child-host.mjs');

export const ENGINES = [
  { id: 'test.hostile', dir: SKILLS.hostile, engine: 'quickjs' },
  { id: 'test.hostile-sm', dir: SKILLS.hostileSm, engine: 'starlingmonkey' },
] as const;
export type EngineCase = (typeof ENGINES)[number];

/**
 * A copy of a hostile fixture whose manifest allows `timeoutMs` (the component is untouched).
 * The fixture's own 1000 ms is too tight for a 20 000-line flood on this 2-core machine, so the
 * suites give the skill more room and tighten `spin` per invocation with `timeoutMs`.
 */
export function roomyCopy(dir: string, timeoutMs = 4000, edit?: (m: Record<string, any>) => void): Promise<string> {
  return copySkill(dir, (m) => {
    m.requires.limits.timeout_ms = timeoutMs;
    edit?.(m);
  });
}

let probe: Promise<string> | undefined;
/** test/isolation/fixtures/probe built (QuickJS, about 3 s) into a temp folder, once per file. */
export function builtProbe(): Promise<string> {
  probe ??= (async () => {
    const dir = await tempDir('agentos-probe-');
    await cp(PROBE_SRC, dir, { recursive: true });
    await buildSkill(dir);
    return dir;
  })();
  return probe;
}

/** The probe under another id (same component): a second, distinct skill for the pool. */
export async function probeAs(id: string, edit?: (m: Record<string, any>) => void): Promise<string> {
  return copySkill(await builtProbe(), (m) => {
    m.id = id;
    edit?.(m);
  });
}

export interface Mark {
  kind: 'start' | 'end';
  tag: string;
  at: number;
}

/**
 * The `fetch` seam the probe's `busy` command marks its start and end through (skills have no
 * clock). `gate(tag)` makes the `end` mark of that tag wait until `open(tag)`: the invocation is
 * then provably in flight (blocked in a host call) for as long as the test wants.
 */
export function markRecorder() {
  const marks: Mark[] = [];
  const gates = new Map<string, { p: Promise<void>; open: () => void }>();
  const fetch = async (url: string): Promise<Response> => {
    const u = new URL(url);
    const kind = u.pathname.slice(1) as Mark['kind'];
    const tag = u.searchParams.get('tag') ?? '';
    marks.push({ kind, tag, at: performance.now() });
    if (kind === 'end') await gates.get(tag)?.p;
    return new Response('ok', { status: 200 });
  };
  return {
    fetch,
    marks,
    at(kind: Mark['kind'], tag: string): number {
      const m = marks.find((x) => x.kind === kind && x.tag === tag);
      if (!m) throw new Error(`no ${kind} mark for '${tag}' (marks: ${JSON.stringify(marks)})`);
      return m.at;
    },
    gate(tag: string): void {
      let open!: () => void;
      const p = new Promise<void>((r) => (open = r));
      gates.set(tag, { p, open });
    },
    open(tag: string): void {
      gates.get(tag)?.open();
    },
  };
}

/** The rejection of `p` (fails the test if it resolves). */
export async function failure(p: Promise<unknown>): Promise<any> {
  try {
    const v = await p;
    throw new Error(`expected a rejection, got ${JSON.stringify(v)?.slice(0, 200)}`);
  } catch (e) {
    if (e instanceof Error && e.message.startsWith('expected a rejection')) throw e;
    return e;
  }
}

/** Settles `p`, or reports that it did not settle within `ms` (instead of hanging the suite). */
export async function within<T>(p: Promise<T>, ms: number): Promise<{ settled: true; value?: T; error?: any } | { settled: false }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ settled: false }>((r) => (timer = setTimeout(() => r({ settled: false }), ms)));
  try {
    return await Promise.race([
      p.then(
        (value) => ({ settled: true as const, value }),
        (error) => ({ settled: true as const, error }),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `pred` every 10 ms until it holds or `ms` pass; returns whether it held. */
export async function until(pred: () => boolean, ms = 5000): Promise<boolean> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (pred()) return true;
    await sleep(10);
  }
  return pred();
}

/** Every audit event of a registry (the default query limit is 100). */
export function allEvents(registry: SkillRegistry, q: { skillId?: string; type?: AuditEvent['type'] } = {}): AuditEvent[] {
  return registry.auditEvents({ ...q, limit: 1_000_000 });
}

export interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  killedByTest: boolean;
  ms: number;
  stdout: string;
  stderr: string;
  /** The last JSON line the child printed. */
  report: any;
  /** performance-clock ms from the child's `closed` line to its exit, as seen by the parent. */
  exitAfterCloseMs: number | undefined;
}

/**
 * Runs test/isolation/child-host.mjs (or `script`; it imports dist/index.js) in a fresh Node process and
 * waits for it to exit ON ITS OWN; after `killAfterMs` the test kills it and says so.
 */
export function runChild(mode: string, killAfterMs = 30_000, script = CHILD_SCRIPT): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [script, mode], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let closedAt: number | undefined;
    let killedByTest = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (closedAt === undefined && /"event":"closed"/.test(stdout)) closedAt = performance.now();
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const killer = setTimeout(() => {
      killedByTest = true;
      child.kill('SIGKILL');
    }, killAfterMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      const exitAt = performance.now();
      const lines = stdout.trim().split('\n').filter((l) => l.startsWith('{'));
      let report: any;
      try {
        report = JSON.parse(lines.find((l) => l.includes('"event":"report"')) ?? 'null');
      } catch {
        report = undefined;
      }
      resolve({
        code,
        signal,
        killedByTest,
        ms: exitAt - t0,
        stdout,
        stderr,
        report,
        exitAfterCloseMs: closedAt === undefined ? undefined : exitAt - closedAt,
      });
    });
  });
}

/** A new invoker (cold pool) on a suite's shared store; its close() closes only the invoker. */
export function invokerOn(base: Host, opts: SkillInvokerOptions = {}): Host {
  const invoker = new SkillInvoker(base.loader, { phase: 'execution', ...opts });
  return { ...base, invoker, close: () => invoker.close() };
}
