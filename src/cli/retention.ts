/**
 * Automatic audit retention, applied every time the CLI opens the registry.
 *
 * Settings, first found wins per setting:
 *   1. `$AGENTOS_AUDIT_MAX_AGE_DAYS` / `$AGENTOS_AUDIT_MAX_EVENTS`
 *   2. the host policy's `auditMaxAgeDays` / `auditMaxEvents` (when the policy schema has them)
 *   3. the library's default (DEFAULT_AUDIT_RETENTION: 90 days, 100 000 events), which the
 *      registry applies in bounded steps at open and as rows are written.
 * A configured setting is also applied in full when the CLI opens the store (applyRetention).
 * Zero is refused here (it would silently wipe the trail on every run); `audit prune` accepts it.
 */
import type { HostPolicy } from '../policy.js';
import type { SkillRegistry } from '../registry.js';
import { UsageError } from './cli-errors.js';

export const MAX_AGE_ENV = 'AGENTOS_AUDIT_MAX_AGE_DAYS';
export const MAX_EVENTS_ENV = 'AGENTOS_AUDIT_MAX_EVENTS';

export interface Retention {
  maxAgeDays?: number | undefined;
  maxEvents?: number | undefined;
}

function fromEnv(env: NodeJS.ProcessEnv, name: string, integer: boolean): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw.trim());
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`$${name} must be a positive ${integer ? 'integer' : 'number'}, found ${JSON.stringify(raw)}`, {
      hint: `Unset it to keep the whole audit trail, or run 'agentos-skills audit prune' by hand.`,
    });
  }
  return n;
}

function fromPolicy(policy: HostPolicy | undefined, key: 'auditMaxAgeDays' | 'auditMaxEvents'): number | undefined {
  const v = (policy as Record<string, unknown> | undefined)?.[key];
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined;
}

export function resolveRetention(env: NodeJS.ProcessEnv, policy: HostPolicy | undefined): Retention {
  return {
    maxAgeDays: fromEnv(env, MAX_AGE_ENV, false) ?? fromPolicy(policy, 'auditMaxAgeDays'),
    maxEvents: fromEnv(env, MAX_EVENTS_ENV, true) ?? fromPolicy(policy, 'auditMaxEvents'),
  };
}

/** Prune by `r`; returns how many events were deleted (0 when nothing is configured). */
export function applyRetention(registry: SkillRegistry, r: Retention): number {
  if (r.maxAgeDays === undefined && r.maxEvents === undefined) return 0;
  return registry.audit.prune({ maxAgeDays: r.maxAgeDays, maxEvents: r.maxEvents });
}
