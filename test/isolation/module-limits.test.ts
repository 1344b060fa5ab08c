/**
 * Issue 10, classes 2 and 4: a component's core modules declare enormous tables, memories,
 * segments or counts. Each is refused at install (typed ResourceLimitError, store unchanged) or,
 * when only its maximum is huge, capped so growth fails inside the guest. Run in a child process
 * (test/isolation/module-limits-child.mjs): before the fix a 9M-entry table aborted the process
 * (SIGABRT), which here would show as the child's signal instead of killing vitest.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ISOLATION, ROOT } from './support.js';

function runLimitsChild(): Promise<{ code: number | null; signal: NodeJS.Signals | null; report: any; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ISOLATION, 'module-limits-child.mjs')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      const line = stdout.split('\n').find((l) => l.includes('"event":"report"'));
      resolve({ code, signal, report: line ? JSON.parse(line) : undefined, stderr });
    });
  });
}

describe('hostile module shapes (install -> load -> invoke, in a child host)', async () => {
  const run = await runLimitsChild();

  it('the host process survives every attack and exits normally', () => {
    expect({ code: run.code, signal: run.signal, stderr: run.report ? '' : run.stderr.slice(-2000) }).toEqual({ code: 0, signal: null, stderr: '' });
  });

  // [attack, limit kind, text the message must contain]
  const refusals: [string, string, RegExp][] = [
    ['hugeMemory', 'memory', /core module 0 memory 0: initial size 1024 MiB is over the 64 MiB memory cap/],
    ['manyMemories', 'module_shape', /memory count 5 is over the limit of 4/],
    ['hugeTable', 'module_shape', /core module 0 table 0: initial entries 9000000 is over the limit of 100000/],
    ['tablesTogether', 'module_shape', /initial table entries 270000 is over the limit of 200000/],
    ['hugeElements', 'module_shape', /element segments: entries 200001 is over the limit of 200000/],
    ['hugeData', 'memory', /data segments of 8\.1 MiB together are over the 8 MiB memory cap/],
    ['manyGlobals', 'module_shape', /globals: count 10002 is over the limit of 10000/],
  ];
  it.each(refusals)('install refuses %s with a typed ResourceLimitError', (name, limit, message) => {
    const r = run.report.refused[name];
    expect(r).toMatchObject({ ok: false, name: 'ResourceLimitError', code: 'RESOURCE_LIMIT', limit });
    expect(r.message).toMatch(message);
  });

  it('refused installs leave the store as it was', () => {
    expect(run.report.storeUnchanged).toBe(true);
  });

  it.each([
    ['hugeMaxOnly', 'ok'], // a 4 GiB maximum is capped, not refused
    ['tableGrow', 'refused'], // table.grow by 9M entries returns -1 inside the guest
    ['memoryGrow', 'refused'], // memory.grow past memory_mb returns -1
    ['bigButAllowed', 'ok'],
  ])('%s runs, with growth bounded by the rewritten maxima', (name, value) => {
    expect(run.report.ok[name]).toEqual({ ok: true, v: value });
  });

  it('a good skill in the same host still works', () => {
    expect(run.report.ok.hello).toEqual({ ok: true, v: { greeting: 'Hello, Ada!' } });
  });

  it('a host policy lowered after install makes load refuse, audited as limit_exceeded', () => {
    expect(run.report.lowered).toMatchObject({ ok: false, name: 'ResourceLimitError', limit: 'memory', max: 16 });
    expect(run.report.lowered.message).toMatch(/initial size 32 MiB is over the 16 MiB memory cap/);
    expect(run.report.loweredAudit).toMatchObject({ type: 'limit_exceeded', skillId: 'test.bigbutallowed', operation: 'memory' });
    expect(run.report.helloUnderStrict).toEqual({ ok: true, v: { timeoutMs: expect.any(Number), memoryMb: 16 } });
  });

  it('RSS stays bounded (nothing declared was allocated)', () => {
    expect(run.report.rssDeltaMb).toBeLessThan(400);
  });
});
