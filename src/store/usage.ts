/**
 * Usage figures per skill (invocations, failures by code, time), in the store's skill_usage
 * tables. Counts are queued through the StoreWriter like audit rows: written now if the store
 * takes them within a few ms, else retried off the hot path.
 */

import type { StoreWriter } from '../store-writer.js';
import type { Usage, UsageSample } from '../usage.js';
import type { SqlDatabase } from './sqlite.js';

export type { UsageSample };

/** The store's figures of one skill (src/usage.ts has the shared part and the samples). */
export interface UsageFigures extends Usage {
  failures: number;
  /** Failures per error code (`TIMEOUT`, `PERMISSION_DENIED`, ...; `UNKNOWN` when none was given). */
  failuresByCode: Record<string, number>;
  maxMs: number;
}

/** Invocations of one skill by one caller. */
export interface CallerUsage {
  caller: string;
  skillId: string;
  invocations: number;
  failures: number;
  totalMs: number;
  lastAt: string | null;
}

type UsageRow = { skill_id: string; invocations: number; failures: number; total_ms: number; max_ms: number; last_at: string | null };

export class UsageTable {
  private readonly stmts: ReturnType<typeof prepare>;

  constructor(
    db: SqlDatabase,
    private readonly writer: StoreWriter,
  ) {
    this.stmts = prepare(db);
  }

  /**
   * Count many invocations in one transaction, through the writer's queue: summed per skill, per
   * failure code and per caller first, so a batch writes one row each, not one per invocation
   * (the invoker hands over a second's worth at a time, thousands on a busy host).
   */
  record(batch: readonly UsageSample[]): void {
    if (batch.length === 0) return;
    const at = new Date().toISOString();
    const skills = new Map<string, { skillId: string; n: number; failed: number; ms: number; maxMs: number }>();
    const codes = new Map<string, { skillId: string; code: string; n: number }>();
    const callers = new Map<string, { caller: string; skillId: string; n: number; failed: number; ms: number }>();
    for (const u of batch) {
      const ms = Number.isFinite(u.ms) && u.ms > 0 ? u.ms : 0;
      const failed = u.ok ? 0 : 1;
      const s = skills.get(u.skillId);
      if (s) {
        s.n++;
        s.failed += failed;
        s.ms += ms;
        s.maxMs = Math.max(s.maxMs, ms);
      } else skills.set(u.skillId, { skillId: u.skillId, n: 1, failed, ms, maxMs: ms });
      if (!u.ok) {
        const code = u.code ?? 'UNKNOWN';
        // JSON of the pair: no separator character can make two pairs one key.
        const key = JSON.stringify([u.skillId, code]);
        const c = codes.get(key);
        if (c) c.n++;
        else codes.set(key, { skillId: u.skillId, code, n: 1 });
      }
      if (u.caller !== undefined) {
        const key = JSON.stringify([u.caller, u.skillId]);
        const c = callers.get(key);
        if (c) {
          c.n++;
          c.failed += failed;
          c.ms += ms;
        } else callers.set(key, { caller: u.caller, skillId: u.skillId, n: 1, failed, ms });
      }
    }
    this.writer.enqueue({
      run: () => {
        for (const s of skills.values()) this.stmts.upsert.run({ ...s, at });
        for (const c of codes.values()) this.stmts.codeUpsert.run(c.skillId, c.code, c.n);
        for (const c of callers.values()) this.stmts.callerUpsert.run({ ...c, at });
      },
    });
  }

  /** Figures of one skill (zeros if never invoked). */
  get(skillId: string): UsageFigures {
    const row = this.stmts.get.get(skillId) as UsageRow | undefined;
    return this.figures(row ?? { skill_id: skillId, invocations: 0, failures: 0, total_ms: 0, max_ms: 0, last_at: null });
  }

  /** Figures of every skill invoked so far. */
  all(): UsageFigures[] {
    return (this.stmts.all.all() as UsageRow[]).map((r) => this.figures(r));
  }

  /** Invocations per caller and skill, of one caller or of all. */
  byCaller(caller?: string): CallerUsage[] {
    const rows = (caller === undefined ? this.stmts.callersAll.all() : this.stmts.callerGet.all(caller)) as {
      caller: string;
      skill_id: string;
      invocations: number;
      failures: number;
      total_ms: number;
      last_at: string | null;
    }[];
    return rows.map((r) => ({ caller: r.caller, skillId: r.skill_id, invocations: r.invocations, failures: r.failures, totalMs: r.total_ms, lastAt: r.last_at }));
  }

  /** Forget a skill's figures (the registry calls it inside uninstall's transaction). */
  delete(skillId: string): void {
    this.stmts.delete.run(skillId);
    this.stmts.codesDelete.run(skillId);
  }

  private figures(r: UsageRow): UsageFigures {
    const codes = this.stmts.codes.all(r.skill_id) as { code: string; count: number }[];
    return {
      skillId: r.skill_id,
      invocations: r.invocations,
      failures: r.failures,
      failuresByCode: Object.fromEntries(codes.map((c) => [c.code, c.count])),
      totalMs: r.total_ms,
      meanMs: r.invocations > 0 ? r.total_ms / r.invocations : 0,
      maxMs: r.max_ms,
      lastAt: r.last_at,
    };
  }
}

function prepare(db: SqlDatabase) {
  return {
    upsert: db.prepare(`
      INSERT INTO skill_usage (skill_id, invocations, failures, total_ms, max_ms, last_at)
      VALUES (@skillId, @n, @failed, @ms, @maxMs, @at)
      ON CONFLICT (skill_id) DO UPDATE SET
        invocations = invocations + @n, failures = failures + @failed, total_ms = total_ms + @ms,
        max_ms = max(max_ms, @maxMs), last_at = @at`),
    codeUpsert: db.prepare(`
      INSERT INTO skill_usage_failures (skill_id, code, count) VALUES (?, ?, ?)
      ON CONFLICT (skill_id, code) DO UPDATE SET count = count + excluded.count`),
    get: db.prepare('SELECT * FROM skill_usage WHERE skill_id = ?'),
    all: db.prepare('SELECT * FROM skill_usage ORDER BY skill_id'),
    codes: db.prepare('SELECT code, count FROM skill_usage_failures WHERE skill_id = ? ORDER BY code'),
    callerUpsert: db.prepare(`
      INSERT INTO caller_usage (caller, skill_id, invocations, failures, total_ms, last_at) VALUES (@caller, @skillId, @n, @failed, @ms, @at)
      ON CONFLICT (caller, skill_id) DO UPDATE SET
        invocations = invocations + @n, failures = failures + @failed, total_ms = total_ms + @ms, last_at = @at`),
    callersAll: db.prepare('SELECT * FROM caller_usage ORDER BY caller, skill_id'),
    callerGet: db.prepare('SELECT * FROM caller_usage WHERE caller = ? ORDER BY caller, skill_id'),
    delete: db.prepare('DELETE FROM skill_usage WHERE skill_id = ?'),
    codesDelete: db.prepare('DELETE FROM skill_usage_failures WHERE skill_id = ?'),
  };
}
