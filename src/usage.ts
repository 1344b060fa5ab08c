/**
 * Usage statistics: one finished invocation (`UsageSample`), the figures every usage view shares
 * (`Usage`), and the invoker's in-memory counter, which also batches samples for the store
 * (store/usage.ts writes them; the CLI's `info` reads them back as `UsageFigures`).
 */

/** One finished invocation, as counted. */
export interface UsageSample {
  skillId: string;
  ok: boolean;
  /** The error code of a failure (`TIMEOUT`, `PERMISSION_DENIED`, ...). */
  code?: string | undefined;
  ms: number;
  /** Who asked (token name, or `invoke(..., { caller })`): also counted per caller. */
  caller?: string | undefined;
}

/** The figures of one skill that every usage view has (this invoker's, the store's). */
export interface Usage {
  skillId: string;
  invocations: number;
  totalMs: number;
  meanMs: number;
  lastAt: string | null;
}

/** This invoker's figures of one skill: successes, and failures per error code. */
export interface SkillUsage extends Usage {
  ok: number;
  failures: Record<string, number>;
}

/**
 * Counts finished invocations per skill, in memory, and hands them to `sink` in batches, off the
 * hot path: `flushMs` after the first unsent one, and on `flush()`.
 */
export class UsageCounter {
  /** `lastAt` is kept as a number (ms) and written as ISO text when read: formatting costs ~0.7 µs per invoke. */
  private readonly stats = new Map<string, Omit<SkillUsage, 'lastAt'> & { lastAtMs: number | null }>();
  private pending: UsageSample[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sink: (batch: UsageSample[]) => void,
    private readonly flushMs = 1000,
  ) {}

  count(sample: UsageSample): void {
    let u = this.stats.get(sample.skillId);
    if (!u) {
      u = { skillId: sample.skillId, invocations: 0, ok: 0, failures: {}, totalMs: 0, meanMs: 0, lastAtMs: null };
      this.stats.set(sample.skillId, u);
    }
    u.invocations++;
    if (sample.ok) u.ok++;
    else {
      const code = sample.code ?? 'UNKNOWN';
      u.failures[code] = (u.failures[code] ?? 0) + 1;
    }
    u.totalMs += sample.ms;
    u.meanMs = u.totalMs / u.invocations;
    u.lastAtMs = Date.now();
    this.pending.push(sample);
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  /** Hands the unsent samples to the sink; if it throws (a closed store), they stay counted here only. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    try {
      this.sink(batch);
    } catch {
      // The store was closed first; these figures stay in get()/all().
    }
  }

  /** A copy of one skill's figures. */
  get(skillId: string): SkillUsage | undefined {
    const u = this.stats.get(skillId);
    return u && copy(u);
  }

  /** Copies of every skill's figures. */
  all(): SkillUsage[] {
    return [...this.stats.values()].map(copy);
  }
}

function copy(u: Omit<SkillUsage, 'lastAt'> & { lastAtMs: number | null }): SkillUsage {
  const { lastAtMs, ...rest } = u;
  return { ...rest, failures: { ...u.failures }, lastAt: lastAtMs === null ? null : new Date(lastAtMs).toISOString() };
}
