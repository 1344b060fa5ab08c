/**
 * A bound on every string the jco glue lifts out of a guest's memory (runs in the worker thread).
 *
 * The glue decodes a guest string (a result, an error text, a log line, a path, a URL) into the
 * worker's JS heap before any cap can look at it. Node turns a gradual exhaustion of that heap into
 * ERR_WORKER_OUT_OF_MEMORY (the worker ends, the host lives), but a single string larger than the
 * heap's headroom, or a few of them in a row, makes V8 fail an allocation it cannot retry: a fatal
 * OOM that aborts the whole process (seen: a skill with memory_mb 512 logging a 100 MB line 20
 * times). So the glue's decoders refuse any string over a bound well below the heap limit.
 */
import type { ChannelBounds } from './channel.js';

/** Never more than this per string, whatever the caps: far below the worker's 64 MiB old generation. */
export const LIFT_CEILING_BYTES = 32 * 1024 * 1024;

/** A guest string over the bound: the invocation ends as a memory limit and the instance is replaced. */
export class LiftTooLargeError extends RangeError {
  constructor(
    readonly bytes: number,
    readonly max: number,
  ) {
    super(`the guest handed over a string of ${bytes} bytes, over the worker's ${max}-byte bound for one value`);
    this.name = 'LiftTooLargeError';
  }
}

/**
 * The bound for one lifted string: room for the largest string any cap could still accept (a
 * result or log text at 4 bytes a character at most, a host call's header), never over the ceiling.
 */
export function liftBound(c: { maxResultBytes: number; maxLogBytes: number; bounds: ChannelBounds }): number {
  const wanted = Math.max(1024 * 1024, 4 * c.maxResultBytes, 4 * c.maxLogBytes, c.bounds.maxHeaderBytes);
  return Math.min(wanted, LIFT_CEILING_BYTES);
}

/** Makes every TextDecoder created from now on in this thread (the glue's) refuse input over `maxBytes`. */
export function boundTextDecoder(maxBytes: number): void {
  const Base = globalThis.TextDecoder;
  class BoundedTextDecoder extends Base {
    override decode(...args: Parameters<InstanceType<typeof Base>['decode']>): string {
      const n = args[0]?.byteLength ?? 0;
      if (n > maxBytes) throw new LiftTooLargeError(n, maxBytes);
      return super.decode(...args);
    }
  }
  globalThis.TextDecoder = BoundedTextDecoder;
}
