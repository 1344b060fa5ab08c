/** Shared shapes: the validated manifest, host policy, audit events. */

import type { AuditEventType } from './audit-events.js';

/** A JSON Schema object, as written in a manifest (validated with ajv at invoke time). */
export type JsonSchema = Record<string, unknown>;

export interface CommandSpec {
  description?: string | undefined;
  args?: JsonSchema | undefined;
}

export interface NetPermission {
  /** Entries as written: `host`, `*.host`, `scheme://host[:port]`. */
  allow_domains: string[];
  /** Finer rules: a URLPattern (`https://api.github.com/repos/*`) and the methods it allows. */
  allow?: NetAllowRuleSpec[] | undefined;
}

/** One `requires.permissions.net.allow` rule as written. */
export interface NetAllowRuleSpec {
  url: string;
  /** Upper-case methods; absent = every method the net guard supports. */
  methods?: string[] | undefined;
}

/** One `requires.secrets.<NAME>` entry: what it is for and where its value may be sent. */
export interface SecretSpec {
  description?: string | undefined;
  /** Origins the value may go to; allow_domains syntax. */
  allow: string[];
}

export interface FsPermission {
  read: boolean;
  write: boolean;
  /** Absolute roots; none = no filesystem. */
  paths: string[];
}

export interface SkillLimits {
  timeout_ms?: number | undefined;
  memory_mb?: number | undefined;
}

export interface SkillManifest {
  id: string;
  name: string;
  version: string;
  description: string;
  /** Source compiled by build-skill (JS/TS); optional for components built elsewhere. */
  entry?: string | undefined;
  /** Path of the built component, relative to the skill folder. */
  component: string;
  /** JS engine build-skill uses: QuickJS (small, fast start, default) or StarlingMonkey. */
  engine?: 'quickjs' | 'starlingmonkey' | undefined;
  commands: Record<string, CommandSpec>;
  requires: {
    permissions: {
      net?: NetPermission | undefined;
      fs?: FsPermission | undefined;
    };
    limits: SkillLimits;
    /** Secrets by name (`GITHUB_TOKEN`); the guest only ever writes `{{secret:NAME}}`. */
    secrets?: Record<string, SecretSpec> | undefined;
  };
}

export type Phase = 'planning' | 'execution';

/** One of AUDIT_EVENT_TYPES (audit-events.ts: the one list, shared with the CLI). */
export type { AuditEventType };

export interface AuditEvent {
  /** ISO-8601 time. */
  at: string;
  type: AuditEventType;
  invocationId: string | null;
  skillId: string | null;
  command: string | null;
  capability: 'net' | 'fs' | null;
  target: string | null;
  operation: string | null;
  reason: string | null;
  /** Who asked: the token's name for MCP HTTP calls, `invoke(..., { caller })` from the library; else null. */
  caller?: string | null | undefined;
  /** Anything else worth keeping (rule, limit, error code...). */
  meta?: Record<string, unknown> | undefined;
}

export type AuditEventInput = Partial<Omit<AuditEvent, 'type' | 'at'>> & { type: AuditEventType; at?: string };

export interface AuditQuery {
  skillId?: string | undefined;
  type?: AuditEventType | string | undefined;
  /** ISO time or Date: only events at or after it. */
  since?: string | Date | undefined;
  /** Only events of this caller (token name). */
  caller?: string | undefined;
  limit?: number | undefined;
}

/** Something that receives every audit event (pino logger, console, test spy). */
export interface AuditLogger {
  warn?(obj: object, msg?: string): void;
  info?(obj: object, msg?: string): void;
}
