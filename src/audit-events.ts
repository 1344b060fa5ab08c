/**
 * Every audit event type this version records, written down once: the AuditEventType union is
 * derived from it, the CLI lists it (`audit --type`), and the trail logs the security ones at
 * `warn`. A type goes here only together with the code that emits it.
 */

export const AUDIT_EVENT_TYPES = [
  // Refused or failed invocations (the invoker, its host calls, the loader).
  'phase_violation',
  'not_enabled',
  'permission_denied',
  'limit_exceeded',
  'execution_error',
  'integrity_failure',
  /** One per invocation: the denials past the invoker's `maxAuditedDenials`, counted (meta.suppressed). */
  'denials_suppressed',
  // Operator actions (the registry).
  'installed',
  'enabled',
  'disabled',
  'uninstalled',
  /** Store writes dropped from the full in-memory queue while the store refused writes (meta.dropped). */
  'audit_dropped',
  /** A call refused by a per-caller limit of the MCP HTTP server (meta.limit: concurrent / per_minute). */
  'rate_limited',
  /** The host put a secret's value into a request (target: the origin; meta.secret: its name; never the value). */
  'secret_used',
] as const;

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** Event types logged at `warn` (the rest at `info`); the CLI shows them in red. */
export const SECURITY_EVENT_TYPES: ReadonlySet<string> = new Set<AuditEventType>([
  'phase_violation',
  'not_enabled',
  'permission_denied',
  'limit_exceeded',
  'integrity_failure',
  'denials_suppressed',
  'audit_dropped',
]);
