/**
 * The err string of a skill's `invoke`: what the guest wrapper (guest/runtime.js, bundled into
 * every skill by build-skill) sends when a command fails, and how the host reads it.
 *
 * Every skill built by build-skill returns `err(text)` where `text` is one line of JSON:
 *
 * ```json
 * {"kind":"capability","message":"fs read-file: denied: ...","error":{"tag":"denied","val":"..."}}
 * {"kind":"error","message":"boom","name":"TypeError"}
 * {"kind":"unknown_command","message":"unknown command 'x' (commands: greet, echo)"}
 * {"kind":"bad_args","message":"args are not valid JSON: ..."}
 * {"kind":"bad_result","message":"command 'x' returned a Promise; ..."}
 * ```
 *
 * - `capability`: a capability call failed (`agentos:skill/*` returned its `error` variant) and
 *   the skill let the error escape. `error` is the variant exactly as the host sent it. This is
 *   the guest's claim only: whether a permission was denied is what the host itself recorded
 *   during the invocation.
 * - `error`: the skill threw. `name` is the Error's name when it was an Error.
 * - `unknown_command`: the skill has no such command (the host checks the manifest first, so
 *   this means the manifest lists a command the code does not implement).
 * - `bad_args`: the args text was not JSON.
 * - `bad_result`: the command's value could not be turned into JSON (a Promise, a cycle...).
 *
 * Components not built by build-skill may return any string; `parseGuestFailure` then treats the
 * whole string as the message of kind `error`.
 */

import type { GuestError, GuestErrorTag } from '../capabilities/types.js';

export type GuestFailureKind = 'capability' | 'error' | 'unknown_command' | 'bad_args' | 'bad_result';

export interface GuestFailure {
  kind: GuestFailureKind;
  message: string;
  /** Error name (TypeError, CapabilityError...) when the skill threw an Error. */
  name?: string | undefined;
  /** The capability error variant, for kind 'capability'. */
  error?: GuestError | undefined;
}

const KINDS: ReadonlySet<string> = new Set<GuestFailureKind>(['capability', 'error', 'unknown_command', 'bad_args', 'bad_result']);
const TAGS: ReadonlySet<string> = new Set<GuestErrorTag>(['denied', 'not-found', 'invalid', 'limit', 'failed']);

/** Reads the err string of `invoke`; never throws. */
export function parseGuestFailure(text: string): GuestFailure {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { kind: 'error', message: text };
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return { kind: 'error', message: text };
  const o = v as Record<string, unknown>;
  if (typeof o['kind'] !== 'string' || !KINDS.has(o['kind']) || typeof o['message'] !== 'string') {
    return { kind: 'error', message: text };
  }
  const out: GuestFailure = { kind: o['kind'] as GuestFailureKind, message: o['message'] };
  if (typeof o['name'] === 'string') out.name = o['name'];
  const e = o['error'];
  if (e !== null && typeof e === 'object') {
    const tag = (e as Record<string, unknown>)['tag'];
    const val = (e as Record<string, unknown>)['val'];
    if (typeof tag === 'string' && TAGS.has(tag) && typeof val === 'string') {
      out.error = { tag: tag as GuestErrorTag, val };
    }
  }
  if (out.kind === 'capability' && !out.error) out.kind = 'error';
  return out;
}
