/**
 * Serves a guest's host calls during one invocation: counts them against the invocation's
 * caps, hands each to its capability (whose guard decides before any I/O), audits denials and
 * limit hits, and remembers them so the invocation fails even if the guest swallowed the error.
 */
import type { FsCapability } from '../capabilities/fs.js';
import type { NetCapability } from '../capabilities/net.js';
import type { CapResult, Denial, GuestError, LimitHit } from '../capabilities/types.js';
import type { LimitKind } from '../errors.js';
import type { AuditEventInput } from '../types.js';
import type { HostCallHandler } from './worker-handle.js';
import type { CallMsg, ReplyMsg } from './protocol.js';
import { channelBounds, measure, overMessage, type ChannelBounds } from './channel.js';
import { DEFAULT_INVOKER_LIMITS } from '../limits.js';

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
  const ctx = { signal };

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

  const fail = (err: GuestError): { reply: ReplyMsg } => ({ reply: { t: 'reply', ok: false, err } });

  function answer<T>(
    r: CapResult<T>,
    target: string,
    operation: string,
    ok: (v: T) => { reply: ReplyMsg; payload?: Uint8Array | undefined },
  ) {
    if (r.ok) return ok(r.value);
    // Only a 'denied' is a denial; a malformed request ('invalid') is the guest's own mistake.
    if (r.denial && r.error.tag === 'denied') {
      if (!record.denial) record.denial = r.denial;
      record.denials = (record.denials ?? 0) + 1;
      // A guest looping on a denied call must not write a row per call: the first few in full,
      // the rest counted for one summary row at the end of the invocation.
      if (record.denials > (limits.maxAuditedDenials ?? DEFAULT_INVOKER_LIMITS.maxAuditedDenials)) {
        const s = (record.suppressedDenials ??= {});
        s[r.denial.capability] = (s[r.denial.capability] ?? 0) + 1;
      } else {
        audit({
          type: 'permission_denied',
          invocationId: record.invocationId,
          skillId: record.skillId,
          command: record.command,
          capability: r.denial.capability,
          target: r.denial.target,
          operation: r.denial.operation,
          reason: r.denial.reason,
          meta: { rule: r.denial.rule },
        });
      }
    }
    if (r.limit) limitHit(r.limit, target, operation);
    return fail(r.error);
  }

  const countIo = (n: number, target: string, operation: string): GuestError | undefined => {
    record.ioBytes += n;
    if (record.ioBytes <= limits.maxIoBytes) return undefined;
    const message = `more than ${limits.maxIoBytes} bytes of I/O in one invocation`;
    limitHit({ limit: 'io_bytes', max: limits.maxIoBytes, message }, target, operation);
    return { tag: 'limit', val: message };
  };

  const bounds = limits.bounds ?? channelBounds();
  /** A reply too big for the channel becomes `limit` (and fails the invocation), never a crash. */
  const bounded = (out: { reply: ReplyMsg; payload?: Uint8Array | undefined }, fn: string, target: string, operation: string) => {
    const m = measure(out.reply as unknown as Record<string, unknown>, out.payload, bounds);
    if (!m.over) return { ...out, json: m.json };
    const message = overMessage(`the reply to ${fn}`, m.over);
    limitHit({ limit: 'message_size', max: m.over.max, message }, target, operation);
    return fail({ tag: 'limit', val: message });
  };

  const serve = async (call: CallMsg, payload: Uint8Array | undefined) => {
    const target = call.path ?? call.req?.url ?? '';
    const operation = call.fn.slice(call.fn.indexOf('.') + 1);
    if (++record.hostCalls > limits.maxHostCalls) {
      const message = `more than ${limits.maxHostCalls} host calls in one invocation`;
      limitHit({ limit: 'host_calls', max: limits.maxHostCalls, message }, target, operation);
      return fail({ tag: 'limit', val: message });
    }
    if (call.oversize) {
      // The worker did not send it: too big for the channel (its size is all that came).
      const message = overMessage(`${call.fn} call`, call.oversize);
      limitHit({ limit: 'message_size', max: call.oversize.max, message }, target, operation);
      return fail({ tag: 'limit', val: message });
    }
    const path = call.path ?? '';
    switch (call.fn) {
      case 'fs.read-file':
        return answer(await caps.fs.readFile(path, ctx), target, operation, (data) => {
          const over = countIo(data.byteLength, target, operation);
          return over ? fail(over) : { reply: { t: 'reply', ok: true }, payload: data };
        });
      case 'fs.write-file': {
        const data = payload ?? new Uint8Array(0);
        const over = countIo(data.byteLength, target, operation);
        if (over) return fail(over);
        return answer(await caps.fs.writeFile(path, data, ctx), target, operation, () => ({
          reply: { t: 'reply', ok: true },
        }));
      }
      case 'fs.list-dir':
        return answer(await caps.fs.listDir(path, ctx), target, operation, (v) => ({ reply: { t: 'reply', ok: true, v } }));
      case 'fs.stat':
        return answer(await caps.fs.stat(path, ctx), target, operation, (v) => ({ reply: { t: 'reply', ok: true, v } }));
      case 'fs.remove':
        return answer(await caps.fs.remove(path, ctx), target, operation, () => ({ reply: { t: 'reply', ok: true } }));
      case 'fs.make-dir':
        return answer(await caps.fs.makeDir(path, ctx), target, operation, () => ({ reply: { t: 'reply', ok: true } }));
      case 'net.fetch': {
        const req = call.req ?? { method: 'GET', url: '', headers: [] };
        const over = countIo(payload?.byteLength ?? 0, target, req.method);
        if (over) return fail(over);
        const r = await caps.net.fetch({ ...req, body: payload }, ctx);
        return answer(r, target, req.method, (res) => {
          const over2 = countIo(res.body.byteLength, target, req.method);
          if (over2) return fail(over2);
          return { reply: { t: 'reply', ok: true, v: { status: res.status, headers: res.headers } }, payload: res.body };
        });
      }
      default:
        return fail({ tag: 'invalid', val: `unknown host function ${String((call as { fn: unknown }).fn)}` });
    }
  };

  // A capability must answer with a CapResult; if one throws anyway, the guest gets 'failed'
  // rather than a host crash or a guest blocked forever.
  return async (call, payload) => {
    try {
      const target = call.path ?? call.req?.url ?? '';
      return bounded(await serve(call, payload), call.fn, target, call.fn.slice(call.fn.indexOf('.') + 1));
    } catch {
      // No detail for the guest: a host exception's text may name host paths or addresses.
      return fail({ tag: 'failed', val: `internal host error in ${call.fn}` });
    }
  };
}
