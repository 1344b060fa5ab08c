/**
 * The worker pool: warm skill instances reused across invocations, a global cap on threads,
 * a bounded FIFO queue beyond it, and idle reaping.
 *
 * Workers are keyed (skill id + component hash + instance settings), so an invocation only
 * ever gets an instance of its own skill version. When the pool is full and a waiter needs a
 * key that has no idle worker, an idle worker of another key is evicted to make room.
 */
import { InvocationAbortedError, InvokerClosedError, QueueFullError } from '../errors.js';
import type { AbortLike } from '../invocation-abort.js';
import { SkillWorker, type PreparedModules, type WorkerSettings } from './worker-handle.js';

export interface PoolOptions {
  /** Most worker threads alive at once, all skills together. */
  maxWorkers: number;
  /** Most invocations waiting for a worker; beyond it `QueueFullError`. */
  maxQueue: number;
  /** Idle workers older than this are ended. 0 disables reaping. */
  idleMs: number;
}

export interface WorkerSpec {
  key: string;
  /** Prefer the worker that last ran this session (its instance may still be warm for it). */
  session?: string | undefined;
  prepared: PreparedModules;
  settings: WorkerSettings;
}

interface Waiter {
  spec: WorkerSpec;
  resolve: (w: SkillWorker) => void;
  reject: (e: unknown) => void;
  signal?: AbortLike | undefined;
  onAbort?: () => void;
}

export class WorkerPool {
  private readonly idle = new Map<string, SkillWorker[]>();
  private readonly all = new Set<SkillWorker>();
  private readonly queue: Waiter[] = [];
  private reaper: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly opts: PoolOptions) {
    if (opts.idleMs > 0) {
      this.reaper = setInterval(() => this.reap(), Math.max(1000, Math.floor(opts.idleMs / 2)));
      this.reaper.unref();
    }
  }

  get size(): number {
    return this.all.size;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** How the live, booted workers of keys matching `pred` give a fresh state (distinct answers). */
  freshStateBy(pred: (key: string) => boolean): string[] {
    return [...new Set([...this.all].filter((w) => w.alive && pred(w.key) && w.freshBy !== undefined).map((w) => w.freshBy!))];
  }

  /** A ready worker for `spec.key`: idle, new, or after waiting in the queue. */
  async acquire(spec: WorkerSpec, signal?: AbortLike): Promise<SkillWorker> {
    if (this.closed) throw new InvokerClosedError();
    const w = this.tryTake(spec);
    if (w) return this.whenReady(w, signal);
    if (this.queue.length >= this.opts.maxQueue) throw new QueueFullError(this.opts.maxQueue);
    const worker = await new Promise<SkillWorker>((resolve, reject) => {
      const waiter: Waiter = { spec, resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
          reject(new InvocationAbortedError());
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
    });
    return this.whenReady(worker, signal);
  }

  /**
   * Starts a worker for `spec.key` ahead of its first `acquire`, when the key has no live worker
   * and there is room: its thread boots (thread start, glue import, instantiation) while the
   * caller does other work, such as compiling the argument schema of a first invocation.
   */
  prewarm(spec: WorkerSpec): void {
    if (this.closed || this.all.size >= this.opts.maxWorkers) return;
    for (const w of this.all) if (w.key === spec.key) return;
    const w = this.spawn(spec);
    const list = this.idle.get(spec.key) ?? [];
    list.push(w);
    this.idle.set(spec.key, list);
  }

  /** Gives a healthy worker back after an invocation. */
  release(w: SkillWorker): void {
    if (!w.alive || this.closed) {
      this.discard(w);
      return;
    }
    const list = this.idle.get(w.key) ?? [];
    list.push(w);
    this.idle.set(w.key, list);
    this.drain();
  }

  /** Ends a worker that must not be reused (trap, timeout, limit); its slot is freed. */
  discard(w: SkillWorker): void {
    this.discardQuietly(w);
    this.drain();
  }

  /** Ends every idle worker of keys matching `pred` (a skill disabled or replaced). */
  evict(pred: (key: string) => boolean): void {
    for (const [key, list] of this.idle) {
      if (!pred(key)) continue;
      for (const w of list.splice(0)) {
        this.all.delete(w);
        void w.terminate();
      }
    }
    this.drain();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reaper) clearInterval(this.reaper);
    for (const q of this.queue.splice(0)) q.reject(new InvokerClosedError());
    const all = [...this.all];
    this.all.clear();
    this.idle.clear();
    await Promise.all(all.map((w) => w.terminate()));
  }

  /** Waits for the worker's instance; an abort meanwhile gives the worker back (it is healthy). */
  private whenReady(w: SkillWorker, signal?: AbortLike): SkillWorker | Promise<SkillWorker> {
    // Booted: nothing to wait for (an abort is the caller's to see, as when `ready` wins the race).
    return w.booted ? w : this.waitReady(w, signal);
  }

  private async waitReady(w: SkillWorker, signal?: AbortLike): Promise<SkillWorker> {
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<'aborted'>((resolve) => {
      if (!signal) return;
      if (signal.aborted) return resolve('aborted');
      onAbort = () => resolve('aborted');
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const r = await Promise.race([w.ready, aborted]);
      if (r === 'aborted') {
        w.ready.then(
          () => this.release(w),
          () => this.discard(w),
        );
        throw new InvocationAbortedError();
      }
      return w;
    } catch (e) {
      if (e instanceof InvocationAbortedError) throw e;
      this.discard(w);
      if (signal?.aborted) throw new InvocationAbortedError();
      throw e;
    } finally {
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }

  private tryTake(spec: WorkerSpec): SkillWorker | undefined {
    const list = this.idle.get(spec.key);
    if (list) {
      for (let i = list.length - 1; i >= 0; i--) if (!list[i]!.alive) this.all.delete(list.splice(i, 1)[0]!);
      const same = spec.session === undefined ? -1 : list.findIndex((w) => w.lastSession === spec.session);
      if (same >= 0) return list.splice(same, 1)[0];
      // The worker released last, when it is ready or resets its instance from a snapshot (µs):
      // its thread is still awake, where waking one asleep in Atomics.wait costs more than the
      // reset on a loaded machine (throughput c1, 4 idle workers: fresh ~4700-6100/s taking the
      // one idle longest, ~10 000/s this one). Then a ready one, the last released first; else
      // (all re-instantiating) the one idle longest, the likeliest to be ready soon.
      const last = list[list.length - 1];
      if (last && (last.instanceReady || last.freshBy === 'snapshot')) return list.pop();
      for (let i = list.length - 1; i >= 0; i--) if (list[i]!.instanceReady) return list.splice(i, 1)[0];
      if (list.length) return list.shift();
    }
    if (this.all.size < this.opts.maxWorkers) return this.spawn(spec);
    // Full. Ending another skill's warm worker to boot one for this skill costs a thread start;
    // worth it only when this skill has no live worker at all. Otherwise wait for one of its own.
    for (const w of this.all) if (w.key === spec.key && w.alive) return undefined;
    // Make room by ending an idle worker of another skill, least recently used first.
    let victim: SkillWorker | undefined;
    for (const l of this.idle.values()) for (const w of l) if (!victim || w.lastUsed < victim.lastUsed) victim = w;
    if (!victim) return undefined;
    this.discardQuietly(victim);
    return this.spawn(spec);
  }

  /** Ends a worker and frees its slot, without serving the queue. */
  private discardQuietly(w: SkillWorker): void {
    this.all.delete(w);
    const list = this.idle.get(w.key);
    const i = list ? list.indexOf(w) : -1;
    if (i >= 0) list!.splice(i, 1);
    void w.terminate();
  }

  private spawn(spec: WorkerSpec): SkillWorker {
    const w = new SkillWorker(spec.key, spec.prepared, spec.settings);
    this.all.add(w);
    return w;
  }

  private drain(): void {
    for (let i = 0; i < this.queue.length; ) {
      const waiter = this.queue[i]!;
      const w = this.tryTake(waiter.spec);
      if (!w) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      if (waiter.signal && waiter.onAbort) waiter.signal.removeEventListener('abort', waiter.onAbort);
      waiter.resolve(w);
    }
  }

  private reap(): void {
    const cutoff = Date.now() - this.opts.idleMs;
    for (const list of this.idle.values()) {
      for (const w of [...list]) {
        if (w.lastUsed < cutoff) this.discardQuietly(w);
      }
    }
  }
}
