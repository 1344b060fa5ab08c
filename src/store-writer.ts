/**
 * Deferred store writes. What the host writes while skills run (audit rows, usage figures) goes
 * through a StoreWriter, so that the main thread never waits on another process's write lock
 * for longer than a small bound:
 *
 * - each write is queued in memory, then tried at once in one IMMEDIATE transaction with a short
 *   busy timeout (`attemptBusyMs`, default 20 ms);
 * - when the store refuses it (SQLITE_BUSY, disk full...), the writes stay queued and are retried
 *   with backoff on an unref'd timer; until then new writes are only queued (no wait per write);
 * - the queue is bounded: past `maxQueue` the oldest write is dropped and counted, and the count
 *   is reported (`onDropped`) in the transaction that succeeds next;
 * - `close()` makes one last attempt with a longer bound (`closeBusyMs`, default 5 s).
 *
 * Operator actions (install, enable, disable, uninstall, migrations) do not come through here:
 * they are synchronous calls whose caller expects the change done when they return.
 */
import type { SqlDatabase } from './store/sqlite.js';

/** One queued write. `run` is called inside the writer's transaction. */
export interface StoreWrite {
  run(): void;
  /** What the write stores, for readers that must see queued writes (the audit trail). */
  readonly value?: unknown;
}

export interface StoreWriterOptions {
  /** Busy timeout of one write attempt while skills run, ms. Default 20. */
  attemptBusyMs?: number | undefined;
  /** Busy timeout of the last attempt at close(), ms. Default 5000. */
  closeBusyMs?: number | undefined;
  /** Writes kept in memory while the store refuses them. Default 100 000. */
  maxQueue?: number | undefined;
  /** First retry delay after a refused write (doubles up to maxRetryMs). Defaults 25 / 1000 ms. */
  minRetryMs?: number | undefined;
  maxRetryMs?: number | undefined;
  /** Told about each failed attempt (pending = writes still queued). */
  onError?: ((err: unknown, pending: number) => void) | undefined;
}

export const DEFAULT_ATTEMPT_BUSY_MS = 20;
export const DEFAULT_CLOSE_BUSY_MS = 5000;

export class StoreWriter {
  private readonly db: SqlDatabase;
  private readonly attemptBusyMs: number;
  private readonly closeBusyMs: number;
  private readonly maxQueue: number;
  private readonly minRetryMs: number;
  private readonly maxRetryMs: number;
  private readonly onError: StoreWriterOptions['onError'];
  /** The connection's own busy timeout, put back after each attempt. */
  private readonly baseBusyMs: number;
  private queue: StoreWrite[] = [];
  private dropped = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs: number;
  private closed = false;
  private readonly droppedHooks: ((n: number) => void)[] = [];
  private readonly writtenHooks: ((batch: readonly StoreWrite[]) => void)[] = [];

  constructor(db: SqlDatabase, opts: StoreWriterOptions = {}) {
    this.db = db;
    this.attemptBusyMs = opts.attemptBusyMs ?? DEFAULT_ATTEMPT_BUSY_MS;
    this.closeBusyMs = opts.closeBusyMs ?? DEFAULT_CLOSE_BUSY_MS;
    this.maxQueue = Math.max(1, opts.maxQueue ?? 100_000);
    this.minRetryMs = opts.minRetryMs ?? 25;
    this.maxRetryMs = opts.maxRetryMs ?? 1000;
    this.retryMs = this.minRetryMs;
    this.onError = opts.onError;
    this.baseBusyMs = db.pragma('busy_timeout', { simple: true }) as number;
  }

  /** Writes queued but not yet in the store. */
  get pending(): number {
    return this.queue.length;
  }

  /** Writes dropped since the last successful write (queue full). */
  get droppedCount(): number {
    return this.dropped;
  }

  /** The `value` of every queued write, oldest first. */
  pendingValues(): unknown[] {
    return this.queue.map((w) => w.value).filter((v) => v !== undefined);
  }

  /** `fn(n)` runs inside the next successful transaction when `n` writes were dropped since the last one. */
  onDropped(fn: (n: number) => void): void {
    this.droppedHooks.push(fn);
  }

  /** `fn(batch)` runs after each successful transaction (outside it). */
  onWritten(fn: (batch: readonly StoreWrite[]) => void): void {
    this.writtenHooks.push(fn);
  }

  /** Queue `w` and try to write the queue now, unless a retry is already scheduled. */
  enqueue(w: StoreWrite): void {
    if (this.queue.length >= this.maxQueue) {
      this.queue.shift();
      this.dropped++;
    }
    this.queue.push(w);
    if (this.closed) {
      // After close nothing can be written; keep the count so callers can see the loss.
      return;
    }
    if (!this.retryTimer) this.tryFlush();
  }

  /** One attempt with the short bound. True when nothing is left queued. Never throws. */
  tryFlush(): boolean {
    if (this.closed) return this.queue.length === 0;
    try {
      this.write(this.attemptBusyMs);
      return true;
    } catch (e) {
      this.onError?.(e, this.queue.length);
      this.scheduleRetry();
      return false;
    }
  }

  /** One attempt with the short bound; throws what the store said if it still refuses. */
  flush(): void {
    this.write(this.attemptBusyMs);
  }

  /** Ends retries and makes one last attempt with the longer bound. Returns the writes left unwritten. */
  close(): number {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.closed) return this.queue.length;
    try {
      this.write(this.closeBusyMs);
    } catch (e) {
      this.onError?.(e, this.queue.length);
    }
    this.closed = true;
    return this.queue.length;
  }

  /**
   * Run `fn` (a write the caller wants done now, not queued) with the short busy bound. Throws
   * what SQLite threw if the store stayed locked.
   */
  bounded<T>(fn: () => T): T {
    return this.withBusy(this.attemptBusyMs, fn);
  }

  private write(busyMs: number): void {
    if (this.queue.length === 0 && this.dropped === 0) return;
    const batch = this.queue.slice();
    const dropped = this.dropped;
    this.withBusy(busyMs, () =>
      this.db
        .transaction(() => {
          if (dropped > 0) for (const h of this.droppedHooks) h(dropped);
          for (const w of batch) w.run();
        })
        .immediate(),
    );
    this.queue.splice(0, batch.length);
    this.dropped -= dropped;
    this.retryMs = this.minRetryMs;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    for (const h of this.writtenHooks) {
      try {
        h(batch);
      } catch {
        /* a hook (retention) must not undo a write that succeeded */
      }
    }
  }

  private withBusy<T>(ms: number, fn: () => T): T {
    this.db.pragma(`busy_timeout = ${Math.max(0, Math.floor(ms))}`);
    try {
      return fn();
    } finally {
      this.db.pragma(`busy_timeout = ${this.baseBusyMs}`);
    }
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.maxRetryMs, this.retryMs * 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.db.open) this.tryFlush();
    }, delay);
    // Retries must not keep the process alive; close() makes the last attempt.
    this.retryTimer.unref();
  }
}
