/**
 * Per-caller limits of the MCP HTTP server: calls in flight at once, and calls started in any
 * 60-second window. A refusal is a typed RateLimitedError (a tool error result, code
 * RATE_LIMITED) and an audit event of type `rate_limited` naming the caller and the limit.
 * Counted per token name in this process (several server processes each count their own; see
 * docs/serving.md).
 */
import { SkillError } from '../errors.js';
import type { AuditEventInput } from '../types.js';
import type { SkillTool } from './tools.js';

export interface CallerLimits {
  /** Calls of one caller running at once. Default 8. */
  maxConcurrent: number;
  /** Calls one caller may start in any 60 s. Default 600. */
  perMinute: number;
}

export const DEFAULT_CALLER_LIMITS: Readonly<CallerLimits> = Object.freeze({ maxConcurrent: 8, perMinute: 600 });

export type CallerLimitKind = 'concurrent' | 'per_minute';

export class RateLimitedError extends SkillError {
  readonly caller: string;
  readonly limit: CallerLimitKind;
  readonly max: number;
  constructor(caller: string, limit: CallerLimitKind, max: number, ctx: { skillId?: string; command?: string } = {}) {
    super(
      'RATE_LIMITED',
      limit === 'concurrent'
        ? `caller '${caller}' already has ${max} call(s) running, the most it may have at once`
        : `caller '${caller}' started ${max} call(s) in the last minute, the most it may`,
      ctx,
    );
    this.caller = caller;
    this.limit = limit;
    this.max = max;
  }
}

const WINDOW_MS = 60_000;

export class CallerLimiter {
  private readonly running = new Map<string, number>();
  /** Start times (ms) of each caller's calls within the last window, oldest first. */
  private readonly started = new Map<string, number[]>();

  constructor(
    readonly limits: CallerLimits,
    private readonly audit: (e: AuditEventInput) => void,
    private readonly now: () => number = Date.now,
  ) {
    for (const [k, v] of Object.entries(limits)) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`caller limit ${k} must be a positive integer, got ${v}`);
    }
  }

  /** Let one call of `caller` in (returns its release function) or refuse it (audited). */
  admit(caller: string, tool: SkillTool): (() => void) | RateLimitedError {
    const t = this.now();
    const times = (this.started.get(caller) ?? []).filter((s) => s > t - WINDOW_MS);
    const running = this.running.get(caller) ?? 0;
    const refused: [CallerLimitKind, number] | undefined =
      running >= this.limits.maxConcurrent
        ? ['concurrent', this.limits.maxConcurrent]
        : times.length >= this.limits.perMinute
          ? ['per_minute', this.limits.perMinute]
          : undefined;
    if (refused) {
      this.started.set(caller, times);
      const err = new RateLimitedError(caller, refused[0], refused[1], { skillId: tool.skillId, command: tool.command });
      this.audit({ type: 'rate_limited', caller, skillId: tool.skillId, command: tool.command, operation: refused[0], reason: err.message, meta: { limit: refused[0], max: refused[1] } });
      return err;
    }
    times.push(t);
    this.started.set(caller, times);
    this.running.set(caller, running + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.running.get(caller) ?? 1) - 1;
      if (n > 0) this.running.set(caller, n);
      else this.running.delete(caller);
    };
  }
}
