/**
 * One invocation's host-call and I/O counts, in memory shared by the host's end of a worker
 * (host-calls.ts) and the worker itself (fs-local.ts serves allowed fs calls there): calls served
 * on either side count against the same caps.
 *
 * No atomics needed: the guest makes one call at a time and blocks on it, so the two sides never
 * write at once, and every hand-off between them goes through the channel's Atomics operations,
 * which order these plain writes.
 */
export class InvocationTally {
  private readonly counts: Float64Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(2 * Float64Array.BYTES_PER_ELEMENT)) {
    this.counts = new Float64Array(buffer, 0, 2);
  }

  get hostCalls(): number {
    return this.counts[0]!;
  }

  set hostCalls(n: number) {
    this.counts[0] = n;
  }

  get ioBytes(): number {
    return this.counts[1]!;
  }

  set ioBytes(n: number) {
    this.counts[1] = n;
  }

  /** A new invocation: nothing counted yet. */
  reset(): void {
    this.counts.fill(0);
  }
}
