/**
 * Per-invocation limits: their shape and their defaults, written down once. The invoker merges
 * a host's overrides over these; the capabilities (net, fs) and the args check take their own
 * defaults from here, so a default changed here changes everywhere.
 */

/** Per-invocation caps. Each one hit is a ResourceLimitError, audited as `limit_exceeded`. */
export interface InvokerLimits {
  /** Result JSON text, bytes. */
  maxResultBytes: number;
  /** Log lines kept per invocation; the excess is dropped, counted, and fails the invocation. */
  maxLogLines: number;
  maxLogBytes: number;
  /** net/fs calls per invocation. */
  maxHostCalls: number;
  /** Bytes read + written + sent + received per invocation. */
  maxIoBytes: number;
  /** One HTTP response body. */
  maxResponseBytes: number;
  /** Args JSON text, bytes. */
  maxArgsBytes: number;
  /** One file read or written. */
  maxFileBytes: number;
  /** Redirects the host follows for one fetch. */
  maxRedirects: number;
  /** Entries one list-dir returns; a directory with more is a `dir_entries` limit (read no further). */
  maxDirEntries: number;
  /**
   * One message between the host and a skill's worker thread, either direction, bytes: a
   * host-call reply (list-dir entries, a file, a response), a call's data, the final result.
   * Its JSON part is also held under 8 MiB, whatever this says. Default: 32 MiB, or room for
   * `maxFileBytes` / `maxResponseBytes` + 1 MiB when those are raised; at most 256 MiB.
   */
  maxMessageBytes: number;
  /**
   * Denials audited in full per invocation; the rest are counted into one `denials_suppressed`
   * row written when the invocation ends (the invocation still fails on the first denial).
   */
  maxAuditedDenials: number;
}

export const DEFAULT_INVOKER_LIMITS: InvokerLimits = {
  maxResultBytes: 1024 * 1024,
  maxLogLines: 1000,
  maxLogBytes: 256 * 1024,
  maxHostCalls: 10_000,
  maxIoBytes: 64 * 1024 * 1024,
  maxResponseBytes: 10 * 1024 * 1024,
  maxArgsBytes: 1024 * 1024,
  maxFileBytes: 16 * 1024 * 1024,
  maxRedirects: 5,
  maxDirEntries: 10_000,
  maxMessageBytes: 32 * 1024 * 1024,
  maxAuditedDenials: 10,
};

/**
 * The limits of one invoker: `overrides` over the defaults. Unless the host set
 * `maxMessageBytes` itself, a raised file or response limit still fits in one message.
 */
export function resolveInvokerLimits(overrides: Partial<InvokerLimits> = {}): InvokerLimits {
  const limits: InvokerLimits = { ...DEFAULT_INVOKER_LIMITS, ...overrides };
  if (overrides.maxMessageBytes === undefined) {
    const room = Math.max(limits.maxFileBytes, limits.maxResponseBytes) + 1024 * 1024;
    limits.maxMessageBytes = Math.max(limits.maxMessageBytes, room);
  }
  return limits;
}
