/** What capabilities (the I/O behind each guarded host function) return to the sandbox. */

import type { FsDeniedRuleId } from '../guards/fs-guard.js';
import type { NetDeniedRuleId } from '../guards/net-guard.js';
import type { SecretRuleId } from '../guards/secret-guard.js';

/** The WIT `error` variant, as the guest sees it. */
export type GuestErrorTag = 'denied' | 'not-found' | 'invalid' | 'limit' | 'failed';
export interface GuestError {
  tag: GuestErrorTag;
  val: string;
}

/** The rule ids each capability's denials carry (a net call is also refused by the secret guard). */
export interface DenialRules {
  net: NetDeniedRuleId | SecretRuleId;
  fs: FsDeniedRuleId;
}

/** Why a guard of capability `C` said no: audited, and copied into PermissionDeniedError. */
export interface DenialOf<C extends keyof DenialRules> {
  capability: C;
  /** URL or path as the skill gave it. */
  target: string;
  /** e.g. 'GET', 'read-file', 'write-file', 'connect', 'redirect'. */
  operation: string;
  /** Human sentence naming the rule, e.g. "host 'evil.com' is not in allow_domains". */
  reason: string;
  /** Machine-readable rule id, e.g. 'net.host_not_allowed', 'fs.outside_roots'. */
  rule: DenialRules[C];
}

/** Why a guard said no, discriminated by `capability`: a net denial carries a net or secret rule, an fs denial an fs rule. */
export type Denial = { [C in keyof DenialRules]: DenialOf<C> }[keyof DenialRules];

/** A limit a capability hit (response too large, io bytes...). */
export interface LimitHit {
  limit: 'response_size' | 'io_bytes' | 'host_calls' | 'dir_entries' | 'message_size';
  max: number;
  message: string;
}

export type CapResult<T> =
  | { ok: true; value: T }
  | { ok: false; error: GuestError; denial?: Denial | undefined; limit?: LimitHit | undefined };

export interface NetHeader {
  name: string;
  value: string;
}
export interface NetRequest {
  method: string;
  url: string;
  headers: NetHeader[];
  body?: Uint8Array | undefined;
}
export interface NetResponse {
  status: number;
  headers: NetHeader[];
  body: Uint8Array;
}

/**
 * The `fetch` seam of SkillInvoker: same shape as the global fetch. Called only after the guard
 * said yes, with `redirect: 'manual'` so every hop is decided again by the host.
 */
export type FetchLike = (url: string, init: {
  method: string;
  headers: [string, string][];
  body?: Uint8Array | undefined;
  redirect: 'manual';
  signal: AbortSignal;
}) => Promise<Response>;

export type EntryKind = 'file' | 'directory' | 'symlink' | 'other';
export interface FsEntry {
  name: string;
  kind: EntryKind;
  size: number;
}

/** Per-invocation context a capability works within. */
export interface CallContext {
  /** Aborted when the invocation times out, is aborted, or the invoker closes. */
  signal: AbortSignal;
}
