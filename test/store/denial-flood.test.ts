/**
 * Class 6 of issue 10: a guest looping on denied host calls must not write an audit row per
 * call. Per invocation: the first `maxAuditedDenials` denials in full, then one
 * `denials_suppressed` row with the count; the invocation still rejects with the first denial.
 * Real component (test/fixtures/denials, QuickJS), real worker threads, real SQLite file.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { PermissionDeniedError, SkillTimeoutError } from '../../src/errors.js';
import type { AuditEvent } from '../../src/types.js';
import { copySkill, host, removeTempDirs } from '../helpers.js';
import { DENIALS } from './support.js';

afterAll(removeTempDirs);

/** Audit rows of one invocation, oldest first. */
function rowsOf(events: AuditEvent[], invocationId: string): AuditEvent[] {
  return events.filter((e) => e.invocationId === invocationId).reverse();
}

describe('denial flood: first N audited, then one summary row', () => {
  const CASES = [
    // [what, command, args, maxAuditedDenials, expected denials (undefined: runs to the deadline)]
    { what: '1000 denials, default N = 10', command: 'deny-many', args: { count: 1000 }, n: undefined, denials: 1000 },
    { what: '1000 denials, N = 3', command: 'deny-many', args: { count: 1000 }, n: 3, denials: 1000 },
    { what: 'exactly N denials: no summary', command: 'deny-many', args: { count: 10 }, n: 10, denials: 10 },
    { what: 'N + 1 denials: summary counts 1', command: 'deny-many', args: { count: 6 }, n: 5, denials: 6 },
    { what: 'N = 0: only the summary', command: 'deny-many', args: { count: 50 }, n: 0, denials: 50 },
    { what: 'loop until the deadline (1 s)', command: 'deny-forever', args: {}, n: 10, denials: undefined },
  ] as const;

  for (const c of CASES) {
    it(c.what, async () => {
      const limits = c.n === undefined ? {} : { maxAuditedDenials: c.n };
      const h = await host([await copySkill(DENIALS)], { limits });
      try {
        const N = c.n ?? 10;
        const before = h.registry.audit.count();
        const err = await h.invoker
          .invoke('test.denials', c.command, c.args, { timeoutMs: c.denials === undefined ? 1000 : undefined })
          .catch((e: unknown) => e);
        // The first denial decides the outcome, unless the deadline came first.
        if (c.denials === undefined) expect(err).toBeInstanceOf(SkillTimeoutError);
        else {
          expect(err).toBeInstanceOf(PermissionDeniedError);
          expect((err as PermissionDeniedError).target).toBe('/etc/passwd-0');
        }
        const all = h.registry.auditEvents({ skillId: 'test.denials', limit: 10_000 });
        const invocationId = all.find((e) => e.type === 'permission_denied' || e.type === 'denials_suppressed')!.invocationId!;
        const rows = rowsOf(all, invocationId);
        const denied = rows.filter((e) => e.type === 'permission_denied');
        const summary = rows.filter((e) => e.type === 'denials_suppressed');
        const total = c.denials ?? N + (summary[0]?.meta?.['suppressed'] as number);

        expect(denied).toHaveLength(Math.min(N, total));
        if (N > 0) expect(denied[0]).toMatchObject({ capability: 'fs', target: '/etc/passwd-0' });
        if (total > N) {
          expect(summary).toHaveLength(1);
          const suppressed = total - N;
          expect(summary[0]!.meta).toMatchObject({ suppressed, audited: N, total });
          expect(summary[0]!.reason).toContain(`${suppressed} more denials suppressed`);
          const by = summary[0]!.meta!['byCapability'] as Record<string, number>;
          expect((by['fs'] ?? 0) + (by['net'] ?? 0)).toBe(suppressed);
          // The summary comes after every audited denial of the invocation.
          expect(rows.filter((e) => e.type === 'permission_denied' || e.type === 'denials_suppressed').at(-1)).toBe(summary[0]);
        } else {
          expect(summary).toHaveLength(0);
        }
        // Rows per invocation: at most N denials + 1 summary (+1 timeout row when the deadline ended it).
        const extra = c.denials === undefined ? 1 : 0;
        expect(rows.length).toBeLessThanOrEqual(N + 1 + extra);
        expect(h.registry.audit.count() - before).toBe(rows.length);
        if (c.denials === undefined) {
          // A loop of denied calls for a whole second: far more than N happened, all counted.
          expect(total).toBeGreaterThan(100);
          expect(rows.filter((e) => e.type === 'limit_exceeded')).toHaveLength(1);
        }
      } finally {
        await h.close();
      }
    });
  }

  it('every invocation gets its own N (ten floods: at most 10 x (N + 1) rows)', async () => {
    const h = await host([await copySkill(DENIALS)], { limits: { maxAuditedDenials: 2 } });
    try {
      for (let i = 0; i < 10; i++) {
        await expect(h.invoker.invoke('test.denials', 'deny-many', { count: 200 })).rejects.toBeInstanceOf(PermissionDeniedError);
      }
      const events = h.registry.auditEvents({ skillId: 'test.denials', limit: 10_000 });
      const flood = events.filter((e) => e.type === 'permission_denied' || e.type === 'denials_suppressed');
      expect(flood).toHaveLength(10 * 3);
      const summaries = events.filter((e) => e.type === 'denials_suppressed');
      expect(new Set(summaries.map((e) => e.invocationId)).size).toBe(10);
      expect(summaries.every((e) => e.meta?.['suppressed'] === 198)).toBe(true);
    } finally {
      await h.close();
    }
  });

  it('an invocation without denials writes no summary, and the skill keeps working', async () => {
    const h = await host([await copySkill(DENIALS)]);
    try {
      await expect(h.invoker.invoke('test.denials', 'ok', { x: 1 })).resolves.toEqual({ x: 1 });
      expect(h.registry.auditEvents({ skillId: 'test.denials', type: 'denials_suppressed' })).toHaveLength(0);
    } finally {
      await h.close();
    }
  });
});
