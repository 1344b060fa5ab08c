/**
 * The host's handle on one skill worker thread (one component instance); runs on the main
 * thread. The thread itself runs worker-thread.ts.
 *
 * `run()` sends an invocation and serves the guest's host calls until the worker reports
 * `done`. The deadline is enforced here: on expiry the thread is terminated (it may be spinning
 * in wasm or blocked in Atomics.wait) and the handle is dead; the pool replaces it.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker } from 'node:worker_threads';
import { TimeSlice } from '../capabilities/time-slice.js';
import type { AbortLike } from '../invocation-abort.js';
import { ChannelEnd, channelBounds, createChannelBuffer, type ChannelBounds } from './channel.js';
import type { CallMsg, DoneMsg, HostToWorker, InvokeMsg, ReplyMsg, WorkerBoot, WorkerToHost } from './protocol.js';
import type { LocalFsSpec } from '../capabilities/fs-local.js';
import { InvocationTally } from './tally.js';

export interface PreparedModules {
  jsUrl: string;
  modules: Record<string, WebAssembly.Module>;
  memoryBytes: number;
  /** Why an instance cannot be reset to its snapshot (it is re-instantiated instead); undefined: it can. */
  notResettable?: string | undefined;
  /** No core module can write a table after instantiation (code-facts.ts): a reset skips the table compare. */
  tablesFixed?: boolean | undefined;
}

export interface WorkerSettings {
  freshInstance: boolean;
  maxLogLines: number;
  maxLogBytes: number;
  maxResultBytes: number;
  /** Shared region size; larger messages fall back to a MessagePort. */
  regionBytes?: number | undefined;
  /** Byte bounds of one message, either direction (clamped to the channel's hard ceilings). */
  bounds?: Partial<ChannelBounds> | undefined;
  /** The skill's fs settings and caps, when it may use fs: allowed calls are served in the worker. */
  fs?: LocalFsSpec | undefined;
}

export type HostCallHandler = (
  call: CallMsg,
  payload: Uint8Array | undefined,
) => Promise<{ reply: ReplyMsg; payload?: Uint8Array | undefined; json?: string | undefined }>;

export type RunOutcome = { kind: 'done'; done: DoneMsg } | { kind: 'terminated'; why: 'timeout' | 'aborted' | 'exited' };

/** A compiled worker script (worker-thread.js, worker-boot.js); when running from src/ (tests), the built copy in dist/. */
function workerScript(name = 'worker-thread.js'): URL {
  const here = new URL(`./${name}`, import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  return new URL(`../../dist/sandbox/${name}`, import.meta.url);
}

/** Wasm memory is capped in the modules; this caps the JS glue around the instance. */
const RESOURCE_LIMITS = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 };

/** A thread started ahead of its skill (worker-boot.ts), waiting for its boot data. */
let prestarted: Worker | undefined;

/**
 * Starts a worker thread before the skill it will run is known, for a process that is about to
 * make its first worker (the CLI's `invoke`): the next SkillWorker takes it instead of starting
 * one, and sends it the boot data a new thread would get as `workerData`. Same script, same
 * limits, same execArgv. Until taken it does not keep the process alive.
 */
export function prestartWorkerThread(): void {
  if (prestarted) return;
  const w = new Worker(workerScript('worker-boot.js'), { resourceLimits: RESOURCE_LIMITS, execArgv: workerExecArgv() });
  w.unref();
  const forget = () => {
    if (prestarted === w) prestarted = undefined;
  };
  w.on('error', forget);
  w.on('exit', forget);
  prestarted = w;
}

/** Ends the pre-started thread if no SkillWorker took it. */
export async function discardPrestartedThread(): Promise<void> {
  const w = prestarted;
  prestarted = undefined;
  await w?.terminate();
}

/** Whether a pre-started thread is waiting (for tests). */
export function hasPrestartedThread(): boolean {
  return prestarted !== undefined;
}

/** execArgv for a skill worker: undefined = inherit the host's. */
function workerExecArgv(): string[] | undefined {
  // Only for a host run as `node --input-type=module -e ...`: workers inherit the host's
  // execArgv, and --input-type makes a file worker fail to start. An explicit list would be
  // validated for workers, which refuse process-wide flags (--expose-gc, --max-old-space-size:
  // ERR_WORKER_INVALID_EXEC_ARGV) that inheriting accepts; V8 flags are process-wide anyway, so
  // such a host's workers get none.
  return process.execArgv.some((a) => a.startsWith('--input-type')) ? [] : undefined;
}

let nextWorkerId = 1;


export class SkillWorker {
  readonly id = nextWorkerId++;
  readonly key: string;
  private readonly worker: Worker;
  private readonly channel: ChannelEnd<HostToWorker, WorkerToHost>;
  private dead = false;
  private exitWaiters: (() => void)[] = [];
  /** Resolves when the instance is ready; rejects if it could not boot. */
  readonly ready: Promise<number>;
  /** `ready` has resolved (the pool then hands the worker out without waiting on it). */
  booted = false;
  /** How the worker gives each invocation a fresh state: 'snapshot' (reset) or why it re-instantiates. */
  freshBy: string | undefined;
  lastUsed = Date.now();
  /** Session of the last invocation (its instance may still hold that session's state). */
  lastSession: string | undefined;
  /** Why the thread died, when it died on its own. */
  exitReason: string | undefined;
  /** The thread's JS heap hit its resource limit (the guest flooded the glue with data). */
  outOfMemory = false;
  invocations = 0;
  /** The current invocation's host-call and I/O counts, shared with the thread. */
  readonly tally = new InvocationTally();

  constructor(key: string, prepared: PreparedModules, settings: WorkerSettings) {
    this.key = key;
    const sab = createChannelBuffer(settings.regionBytes);
    const bounds = channelBounds(settings.bounds);
    const { port1, port2 } = new MessageChannel();
    const boot: WorkerBoot = {
      sab,
      port: port2,
      jsUrl: prepared.jsUrl,
      modules: prepared.modules,
      freshInstance: settings.freshInstance,
      memoryBytes: prepared.memoryBytes,
      notResettable: prepared.notResettable,
      tablesFixed: prepared.tablesFixed === true,
      maxLogLines: settings.maxLogLines,
      maxLogBytes: settings.maxLogBytes,
      maxResultBytes: settings.maxResultBytes,
      bounds,
      tally: this.tally.buffer,
      fs: settings.fs,
    };
    const pre = prestarted;
    prestarted = undefined;
    if (pre) {
      // Started ahead (worker-boot.ts): its first message becomes its workerData.
      this.worker = pre;
      pre.ref();
      pre.postMessage(boot, [port2]);
    } else {
      this.worker = new Worker(workerScript(), {
        workerData: boot,
        transferList: [port2],
        resourceLimits: RESOURCE_LIMITS,
        // Workers inherit the host's execArgv; `--input-type` (a host run as `node --input-type=module
        // -e ...`) makes every worker fail to start, since the worker is a file.
        execArgv: workerExecArgv(),
        // Worker stdout is redirected to stderr inside the worker (worker-thread.ts): no pipes here, they
        // would keep the process alive and pile listeners on process.stderr.
      });
    }
    this.channel = new ChannelEnd<HostToWorker, WorkerToHost>(sab, port1, 'main', bounds);
    port1.unref();
    this.worker.on('error', (e: Error & { code?: string }) => {
      this.exitReason = e.message;
      if (e.code === 'ERR_WORKER_OUT_OF_MEMORY') this.outOfMemory = true;
      this.markDead();
    });
    this.worker.on('exit', () => this.markDead());
    this.ready = this.channel.receive().then((m) => {
      if (!m) throw new Error(`worker exited before its instance was ready${this.exitReason ? `: ${this.exitReason}` : ''}`);
      const h = m.header;
      if (h.t === 'ready') {
        this.freshBy = h.freshBy;
        this.booted = true;
        return h.instantiateMs;
      }
      throw new Error(h.t === 'boot-failed' || h.t === 'malformed' ? h.message : 'worker failed to boot');
    });
    // Referenced while booting so the process waits for it; unreferenced once idle.
    this.ready.then(
      () => this.idle(),
      () => this.terminate(),
    );
  }

  get alive(): boolean {
    return !this.dead;
  }

  /** The worker has an instance ready for the next invocation (not re-instantiating). */
  get instanceReady(): boolean {
    return this.channel.peerFlag();
  }

  private markDead(): void {
    if (this.dead) return;
    this.dead = true;
    this.channel.cancel();
    for (const w of this.exitWaiters) w();
    this.exitWaiters = [];
  }

  /** Idle workers must not keep the process alive. */
  idle(): void {
    this.worker.unref();
  }

  /**
   * Runs one invocation. `signal` aborts it (timeout, caller abort, close): the thread is
   * terminated and the outcome says why.
   */
  async run(
    msg: InvokeMsg,
    onCall: HostCallHandler,
    signal: AbortLike,
  ): Promise<RunOutcome> {
    if (this.dead) return { kind: 'terminated', why: 'exited' };
    if (signal.aborted) {
      // An abort that fired while the worker was being acquired: the listener below would never run.
      await this.terminate();
      return { kind: 'terminated', why: abortWhy(signal) };
    }
    this.worker.ref();
    this.tally.reset();
    this.invocations++;
    this.lastSession = msg.session;
    const onAbort = () => void this.terminate();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      this.channel.send({ header: msg });
      // A guest calling the host in a tight loop can keep this loop in microtasks (its next call
      // is already there each time): give timers and other skills a turn every few ms.
      const slice = new TimeSlice();
      for (;;) {
        if (slice.due()) await slice.yield();
        const m = await this.channel.receive();
        if (!m || signal.aborted) return { kind: 'terminated', why: abortWhy(signal) };
        const h = m.header;
        if (h.t === 'call') {
          const { reply, payload, json } = await onCall(h, m.payload);
          if (signal.aborted || this.dead) return { kind: 'terminated', why: abortWhy(signal) };
          // Over the bounds this throws ResourceLimitError (the handler measures first, so only a
          // bug gets here): the invoker ends this worker, whose guest waits for a reply.
          this.channel.send({ header: reply, payload, json });
          continue;
        }
        if (h.t === 'done') return { kind: 'done', done: h };
        // A message the channel could not read, or of no known type: the worker is not trusted
        // to continue.
        this.exitReason = h.t === 'malformed' ? h.message : `channel: unexpected ${JSON.stringify(String(h.t)).slice(0, 40)} message from the worker`;
        await this.terminate();
        return { kind: 'terminated', why: 'exited' };
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.lastUsed = Date.now();
      if (!this.dead) this.idle();
    }
  }

  /** Ends the thread; resolves once it is gone. */
  terminate(): Promise<void> {
    if (this.dead) return Promise.resolve();
    const gone = new Promise<void>((resolve) => this.exitWaiters.push(resolve));
    this.channel.cancel();
    void this.worker.terminate().catch(() => undefined);
    return gone;
  }
}

function abortWhy(signal: AbortLike): 'timeout' | 'aborted' | 'exited' {
  if (!signal.aborted) return 'exited';
  const r = signal.reason as { name?: string } | undefined;
  return r?.name === 'TimeoutError' ? 'timeout' : 'aborted';
}
