/**
 * Every way an invocation's steps 4-5 (execution, result) can end badly, mapped in one place to
 * its audit row and its typed error: the worker's outcome (timeout, abort, close, a thread that
 * died or ran out of heap), what the worker reported (a guest error, a trap, a cap), and what the
 * invocation's host calls recorded (a denial, a limit).
 */
import type { Denial } from './capabilities/types.js';
import { parseGuestFailure } from './build/guest-failure.js';
import {
  InvocationAbortedError,
  InvokerClosedError,
  PermissionDeniedError,
  ResourceLimitError,
  SkillExecutionError,
  SkillTimeoutError,
  type LimitKind,
  type SkillError,
  type SkillErrorContext,
} from './errors.js';
import type { InvocationRecord } from './sandbox/host-calls.js';
import type { DoneMsg } from './sandbox/protocol.js';
import type { RunOutcome } from './sandbox/worker-handle.js';
import type { AuditEventInput } from './types.js';

export type InvocationFailure =
  /** A cap hit here: audited `limit_exceeded` with `reason`; the error says `message` (default: the reason). */
  | { kind: 'limit'; limit: LimitKind; max: number; reason: string; message?: string | undefined }
  /** A cap a host call hit: audited when it happened (host-calls.ts), not again. */
  | { kind: 'recorded_limit'; limit: LimitKind; max: number; message: string }
  /** A guard's no, audited when it happened (host-calls.ts). */
  | { kind: 'denied'; denial: Denial }
  | { kind: 'timeout'; timeoutMs: number }
  | { kind: 'execution'; message: string; trapped: boolean; meta?: Record<string, unknown> | undefined }
  | { kind: 'aborted' }
  | { kind: 'closed' };

/** The audit row of `failure` (without the invocation's ids), or undefined when it was audited already or is not audited. */
export function failureAudit(failure: InvocationFailure): Omit<AuditEventInput, 'invocationId' | 'skillId' | 'command'> | undefined {
  switch (failure.kind) {
    case 'limit':
      return { type: 'limit_exceeded', operation: failure.limit, reason: failure.reason, meta: { limit: failure.limit, max: failure.max } };
    case 'timeout': {
      const reason = `ran past its ${failure.timeoutMs} ms timeout`;
      return { type: 'limit_exceeded', operation: 'timeout', reason, meta: { limit: 'timeout', max: failure.timeoutMs } };
    }
    case 'execution':
      return { type: 'execution_error', reason: failure.message, ...(failure.meta ? { meta: failure.meta } : {}) };
    default:
      return undefined;
  }
}

/** The typed error `failure` rejects the invocation with. */
export function failureError(failure: InvocationFailure, ctx: SkillErrorContext): SkillError {
  switch (failure.kind) {
    case 'limit':
      return new ResourceLimitError(failure.limit, failure.max, failure.message ?? failure.reason, ctx);
    case 'recorded_limit':
      return new ResourceLimitError(failure.limit, failure.max, failure.message, ctx);
    case 'denied':
      return new PermissionDeniedError(failure.denial, ctx);
    case 'timeout':
      return new SkillTimeoutError(failure.timeoutMs, ctx);
    case 'execution':
      return new SkillExecutionError(failure.message, failure.trapped, ctx);
    case 'aborted':
      return new InvocationAbortedError(ctx);
    case 'closed':
      return new InvokerClosedError(ctx);
  }
}

/** What the invocation is measured against, for the mappings below. */
export interface FailureContext {
  skillId: string;
  timeoutMs: number;
  memoryMb: number;
  maxResultBytes: number;
  maxLogLines: number;
  maxLogBytes: number;
  /** The invoker was closed (an abort then means the close, not the caller). */
  closed: boolean;
}

/** A worker that did not report `done`: why it ended. */
export function terminatedFailure(
  why: Extract<RunOutcome, { kind: 'terminated' }>['why'],
  worker: { exitReason: string | undefined; outOfMemory: boolean },
  c: FailureContext,
): InvocationFailure {
  if (why === 'timeout') return { kind: 'timeout', timeoutMs: c.timeoutMs };
  if (c.closed) return { kind: 'closed' };
  if (why === 'aborted') return { kind: 'aborted' };
  const message = worker.exitReason ?? 'the worker thread exited unexpectedly';
  if (worker.outOfMemory) {
    return { kind: 'limit', limit: 'memory', max: c.memoryMb, reason: message, message: `skill '${c.skillId}' ran out of memory: ${message}` };
  }
  return { kind: 'execution', message, trapped: true };
}

/** A host-side failure while the worker ran: the channel refused a message over its bounds, else undefined (rethrown as it is). */
export function runErrorFailure(e: unknown): InvocationFailure | undefined {
  if (e instanceof ResourceLimitError && !(e.skillId ?? e.command)) return { kind: 'limit', limit: e.limit, max: e.max, reason: e.message };
  return undefined;
}

/**
 * How a finished invocation ends, in order of precedence: a denial (even one the guest
 * swallowed), a host call's limit, dropped logs, the worker's own failure report, else its
 * result text (still to be parsed).
 */
export function settledOutcome(done: DoneMsg, record: InvocationRecord, c: FailureContext): { failure: InvocationFailure } | { result: string } {
  const failure = settledFailure(done, record, c);
  if (failure) return { failure };
  if (done.ok) return { result: done.result };
  return { failure: reportedFailure(done, c) };
}

function settledFailure(done: DoneMsg, record: InvocationRecord, c: FailureContext): InvocationFailure | undefined {
  if (record.denial) return { kind: 'denied', denial: record.denial };
  if (record.limit) return { kind: 'recorded_limit', ...record.limit };
  if (done.logsDropped > 0) {
    const reason = `log volume over ${c.maxLogLines} lines / ${c.maxLogBytes} bytes; ${done.logsDropped} lines dropped`;
    return { kind: 'limit', limit: 'log_volume', max: c.maxLogLines, reason };
  }
  return undefined;
}

/** The worker's own failure report. */
function reportedFailure(done: Extract<DoneMsg, { ok: false }>, c: FailureContext): InvocationFailure {
  switch (done.kind) {
    case 'memory':
      return {
        kind: 'limit',
        limit: 'memory',
        max: c.memoryMb,
        reason: done.message,
        message: `skill '${c.skillId}' ran out of memory (${c.memoryMb} MiB cap): ${done.message}`,
      };
    case 'result_size':
      return { kind: 'limit', limit: 'result_size', max: c.maxResultBytes, reason: done.message };
    default: {
      const message = done.kind === 'guest' ? parseGuestFailure(done.message).message : done.message;
      return { kind: 'execution', message, trapped: done.kind === 'trap', meta: { trapped: done.kind === 'trap' } };
    }
  }
}

/** A result that is not JSON. */
export function resultNotJson(result: string): InvocationFailure {
  return { kind: 'execution', message: `result is not JSON: ${result.slice(0, 80)}`, trapped: false };
}
