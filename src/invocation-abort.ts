/**
 * One invocation's abort (its deadline, the caller's signal, close()): what an AbortController
 * gives the invoker, the pool and the worker handle, without its cost on every invoke. On
 * Node 20 an AbortSignal costs ~3-4 µs to make and each abort listener added and removed about
 * as much, several per invocation; here they are a flag and an array. A real AbortSignal is
 * made only when something asks for one (the capabilities, at the guest's first host call).
 */

/** The part of AbortSignal the pool and the worker handle use: an AbortSignal is one too. */
export interface AbortLike {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export class InvocationAbort implements AbortLike {
  aborted = false;
  reason: unknown = undefined;
  private listeners: (() => void)[] = [];
  private controller: AbortController | undefined;

  /** Aborts once (later calls are ignored), with `reason` as AbortController.abort would. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    // As an AbortSignal's listeners: once each, in the order added; the real signal's (added at
    // a host call, so after these) next.
    const listeners = this.listeners;
    this.listeners = [];
    for (const l of listeners) l();
    this.controller?.abort(reason);
  }

  /** A real AbortSignal that aborts with this (made on the first ask). */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /** Listeners run once (as with `{ once: true }`); none is added once aborted, as with AbortSignal. */
  addEventListener(_type: 'abort', listener: () => void): void {
    if (!this.aborted && !this.listeners.includes(listener)) this.listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const i = this.listeners.indexOf(listener);
    if (i >= 0) this.listeners.splice(i, 1);
  }
}
