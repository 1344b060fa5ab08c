/**
 * Cooperative time slicing for the capabilities' synchronous system calls on the main thread.
 *
 * One host call may do a lot of small synchronous work (lstat every entry of a directory, write
 * 16 MiB, create 2000 nested directories). Done in one go, that holds the event loop for up to
 * seconds, and every other skill's deadline timer, host call and the MCP front end wait. A
 * `TimeSlice` lets such a loop run for a few ms, then give the event loop a turn (setImmediate:
 * timers, I/O and other skills' calls run) and carry on.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

/** How long one host call may hold the main thread before it yields (ms). */
export const SLICE_MS = 2;

export class TimeSlice {
  private start = performance.now();

  constructor(private readonly budgetMs = SLICE_MS) {}

  /** This slice has used its budget: the caller should `yield()` before doing more. */
  due(): boolean {
    return performance.now() - this.start >= this.budgetMs;
  }

  /** Gives the event loop a turn, then starts a new slice. True if `signal` aborted meanwhile. */
  async yield(signal?: AbortSignal): Promise<boolean> {
    await nextTurn();
    this.restart();
    return signal?.aborted ?? false;
  }

  /** Starts a new slice (after a turn given some other way). */
  restart(): void {
    this.start = performance.now();
  }
}
