/**
 * What a capability contributes to the sandbox: one HostFunction per host function it serves
 * (capabilities/fs-host.ts, capabilities/net-host.ts). The dispatch (host-calls.ts) counts,
 * audits and bounds; a host function only says what its call is about and does the call.
 */
import type { CallContext, CapResult, GuestError } from '../capabilities/types.js';
import type { CallOf, HostFn, ReplyValue } from './protocol.js';

/** What a host function is given besides its call. */
export interface HostCallIo extends CallContext {
  /** The call's bytes (a file to write, a request body). */
  payload: Uint8Array | undefined;
  /**
   * Counts `n` bytes of I/O against the invocation's cap. Over it: the `limit` error to answer
   * with (the dispatch has already recorded and audited the limit).
   */
  countIo(n: number): GuestError | undefined;
}

/** An ok answer: the reply's JSON value and its bytes. */
export interface HostAnswer<F extends HostFn> {
  v?: ReplyValue<F> | undefined;
  payload?: Uint8Array | undefined;
}

export interface HostFunction<F extends HostFn> {
  /** The path or URL the call is about (audit rows name it). */
  target(call: CallOf<F>): string;
  /** The operation its denials and limits are audited under (e.g. 'read-file', 'GET'). */
  operation(call: CallOf<F>): string;
  /** Does the call; a denial or limit comes back in the CapResult (the dispatch audits it). */
  serve(call: CallOf<F>, io: HostCallIo): Promise<CapResult<HostAnswer<F>>>;
}

/** A table of host functions by name. */
export type HostFunctions<F extends HostFn = HostFn> = { [K in F]: HostFunction<K> };

/** `r`'s ok value turned into an answer; a failure passes through as it is. */
export function answerWith<T, F extends HostFn>(r: CapResult<T>, ok: (value: T) => HostAnswer<F>): CapResult<HostAnswer<F>> {
  return r.ok ? { ok: true, value: ok(r.value) } : r;
}
