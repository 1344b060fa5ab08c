/**
 * Serves a guest's host calls during one invocation: counts them against the invocation's
 * caps, hands each to the host function its capability contributed (fs-host.ts, net-host.ts;
 * the capability's guard decides before any I/O), audits denials and limit hits, and remembers
 * them so the invocation fails even if the guest swallowed the error.
 */
import type { FsCapability } from '../capabilities/fs.js';
import { fsHostFunctions } from '../capabilities/fs-host.js';
import type { NetCapability } from '../capabilities/net.js';
import { netHostFunctions } from '../capabilities/net-host.js';
import type { CapResult, Denial, GuestError, LimitHit } from '../capabilities/types.js';
import type { LimitKind } from '../errors.js';
import type { AuditEventInput } from '../types.js';
import type { HostCallHandler } from './worker-handle.js';
import type { CallMsg, CallOf, HostFn, ReplyMsg } from './protocol.js';
import type { HostAnswer, HostFunctions } from './host-function.js';
import { channelBounds, measure, overMessage, type ChannelBounds } from './channel.js';
import { DEFAULT_INVOKER_LIMITS } from '../limits.js';
import type { InvocationTally } from './tally.js';

export interface SkillCapabilities {
  fs: FsCapability;
  net: NetCapability;
}

export interface CallCaps {
  maxHostCalls: number;
  maxIoBytes: number;
  /** Byte bounds of one reply (the worker's channel has the same); default: the channel's ceilings. */
  bounds?: ChannelBounds | undefined;
  /** Denials audited one row each; the rest are counted for one `denials_suppressed` row. Default 10. */
  maxAuditedDenials?: number | undefined;
  /**
   * The counts shared with the worker, which serves allowed fs calls itself (fs-local.ts): the
   * caps apply to the calls served on both sides.
   */
  tally?: InvocationTally | undefined;
}

/** What happened during one invocation that outlives the guest's view of it. */
export interface InvocationRecord {
  invocationId: string;
  skillId: string;
  command: string;
  hostCalls: number;
  ioBytes: number;
  denial?: Denial | undefined;
  limit?: { limit: LimitKind; max: number; message: string } | undefined;
  /** Denials so far, audited or not. */
  denials?: number | undefined;
  /** Denials past the audited ones, per capability (the invoker writes them as one summary row). */
  suppressedDenials?: Record<string, number> | undefined;
}

export function createHostCallHandler(
  caps: SkillCapabilities,
  limits: CallCaps,
  record: InvocationRecord,
  signal: AbortSignal,
  audit: (e: AuditEventInput) => void,
): HostCallHandler {
  const table: HostFunctions = { ...fsHostFunctions(caps.fs), ...netHostFunctions(caps.net) };
  const maxAuditedDenials = limits.maxAuditedDenials ?? DEFAULT_INVOKER_LIMITS.maxAuditedDenials;

  const limitHit = (l: LimitHit | { limit: LimitKind; max: number; message: string }, target: string, operation: string) => {
    // One limit_exceeded per invocation: a guest that keeps calling past a cap must not be able
    // to write an audit row per call.
    if (record.limit) return;
    record.limit = { limit: l.limit, max: l.max, message: l.message };
    audit({
      type: 'limit_exceeded',
      invocationId: record.invocationId,
      skillId: record.skillId,
      command: record.command,
      target,
      operation,
      reason: l.message,
      meta: { limit: l.limit, max: l.max },
    });
  };

  const denied = (denial: Denial) => {
    if (!record.denial) record.denial = denial;
    record.denials = (record.denials ?? 0) + 1;
    // A guest looping on a denied call must not write a row per call: the first few in full,
    // the rest counted for one summary row at the end of the invocation.
    if (record.denials > maxAuditedDenials) {
      const s = (record.suppressedDenials ??= {});
      s[denial.capability] = (s[denial.capability] ?? 0) + 1;
      return;
    }
    audit({
      type: 'permission_denied',
      invocationId: record.invocationId,
      skillId: record.skillId,
      command: record.command,
      capability: denial.capability,
      target: denial.target,
      operation: denial.operation,
      reason: denial.reason,
      meta: { rule: denial.rule },
    });
  };

  const fail = (err: GuestError): Answer => ({ reply: { t: 'reply', ok: false, err } });
  const limitFail = (l: { limit: LimitKind; max: number; message: string }, target: string, operation: string): Answer => {
    limitHit(l, target, operation);
    return fail({ tag: 'limit', val: l.message });
  };

  /** The reply to a capability's answer, after its denial and limit have been recorded. */
  const reply = (r: CapResult<HostAnswer<HostFn>>, target: string, operation: string): Answer => {
    if (r.ok) return { reply: { t: 'reply', ok: true, v: r.value.v }, payload: r.value.payload };
    // Only a 'denied' is a denial; a malformed request ('invalid') is the guest's own mistake.
    if (r.denial && r.error.tag === 'denied') denied(r.denial);
    if (r.limit) limitHit(r.limit, target, operation);
    return fail(r.error);
  };

  /** One known host function's call, through its capability's HostFunction. */
  async function serveKnown<F extends HostFn>(call: CallOf<F>, fn: F, payload: Uint8Array | undefined): Promise<Answer> {
    const hostFunction = table[fn];
    const target = hostFunction.target(call);
    const operation = hostFunction.operation(call);
    const countIo = (n: number): GuestError | undefined => {
      record.ioBytes += n;
      if (record.ioBytes <= limits.maxIoBytes) return undefined;
      const message = `more than ${limits.maxIoBytes} bytes of I/O in one invocation`;
      limitHit({ limit: 'io_bytes', max: limits.maxIoBytes, message }, target, operation);
      return { tag: 'limit', val: message };
    };
    return reply(await hostFunction.serve(call, { signal, payload, countIo }), target, operation);
  }

  const targetOfKnown = <F extends HostFn>(call: CallOf<F>, fn: F): string => table[fn].target(call);
  const targetOf = (call: CallMsg): string => ('oversize' in call || !Object.hasOwn(table, call.fn) ? '' : targetOfKnown(call, call.fn));

  const serve = async (call: CallMsg, payload: Uint8Array | undefined, target: string, operation: string): Promise<Answer> => {
    if (++record.hostCalls > limits.maxHostCalls) {
      return limitFail({ limit: 'host_calls', max: limits.maxHostCalls, message: `more than ${limits.maxHostCalls} host calls in one invocation` }, target, operation);
    }
    // The worker did not send it: too big for the channel (its size is all that came).
    if ('oversize' in call) return limitFail({ limit: 'message_size', max: call.oversize.max, message: overMessage(`${call.fn} call`, call.oversize) }, target, operation);
    if (!Object.hasOwn(table, call.fn)) return fail({ tag: 'invalid', val: `unknown host function ${String(call.fn)}` });
    return serveKnown(call, call.fn, payload);
  };

  const bounds = limits.bounds ?? channelBounds();
  /** A reply too big for the channel becomes `limit` (and fails the invocation), never a crash. */
  const bounded = (out: Answer, fn: string, target: string, operation: string): Answer & { json?: string } => {
    const m = measure(out.reply, out.payload, bounds);
    if (!m.over) return { ...out, json: m.json };
    return limitFail({ limit: 'message_size', max: m.over.max, message: overMessage(`the reply to ${fn}`, m.over) }, target, operation);
  };

  // A capability must answer with a CapResult; if one throws anyway, the guest gets 'failed'
  // rather than a host crash or a guest blocked forever.
  const tally = limits.tally;
  return async (call, payload) => {
    if (tally) {
      record.hostCalls = tally.hostCalls;
      record.ioBytes = tally.ioBytes;
    }
    try {
      const target = targetOf(call);
      const operation = call.fn.slice(call.fn.indexOf('.') + 1);
      return bounded(await serve(call, payload, target, operation), call.fn, target, operation);
    } catch {
      // No detail for the guest: a host exception's text may name host paths or addresses.
      return fail({ tag: 'failed', val: `internal host error in ${call.fn}` });
    } finally {
      if (tally) {
        tally.hostCalls = record.hostCalls;
        tally.ioBytes = record.ioBytes;
      }
    }
  };
}

/** A reply and its bytes. */
interface Answer {
  reply: ReplyMsg;
  payload?: Uint8Array | undefined;
}
