/**
 * SkillInvoker: the invocation pipeline of DESIGN.md, in this order —
 *   1. phase gate (planning blocks everything; nothing is looked up or loaded),
 *   2. enable check (installed, enabled, loaded),
 *   3. command and args (JSON Schema),
 *   4. execution in a worker-thread instance with a deadline, a memory cap and guarded imports,
 *   5. the result, after the invocation's denials and limit hits have had their say.
 * Every failure of steps 3-5 goes through `fail`: invocation-failure.ts maps it to its audit row
 * and its typed error. Limit defaults are in limits.ts, usage figures in usage.ts.
 */
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { prepareArgs } from './args.js';
import { createFsCapability } from './capabilities/fs.js';
import { createNetCapability, type NetResolver } from './capabilities/net.js';
import type { FetchLike } from './capabilities/types.js';
import type { NetSecrets } from './capabilities/net-secrets.js';
import { scopeNetToInvocation } from './capabilities/net-scope.js';
import { compileSecretRules } from './guards/secret-guard.js';
import { SecretRedactor } from './secret-redactor.js';
import {
  CommandNotFoundError,
  InvalidArgumentsError,
  InvocationAbortedError,
  InvokerClosedError,
  PhaseViolationError,
  QueueFullError,
  SkillError,
  SkillNotEnabledError,
} from './errors.js';
import {
  failureAudit,
  failureError,
  resultNotJson,
  runErrorFailure,
  settledOutcome,
  terminatedFailure,
  type FailureContext,
  type InvocationFailure,
} from './invocation-failure.js';
import { compileNetPolicy } from './guards/net-guard.js';
import type { LoadedSkill, SkillLoader } from './loader.js';
import { DEFAULT_HOST_POLICY, type HostPolicy } from './policy.js';
import type { SkillRegistry } from './registry.js';
import { createHostCallHandler, type InvocationRecord, type SkillCapabilities } from './sandbox/host-calls.js';
import type { HostCallHandler, SkillWorker } from './sandbox/worker-handle.js';
import { WorkerPool, type PoolOptions, type WorkerSpec } from './sandbox/pool.js';
import { channelBounds, type ChannelBounds } from './sandbox/channel.js';
import type { DoneMsg, LogLine } from './sandbox/protocol.js';
import { UsageCounter, type SkillUsage } from './usage.js';
import { InvocationAbort } from './invocation-abort.js';
import type { AuditEventInput, AuditLogger, Phase } from './types.js';
import { resolveInvokerLimits, type InvokerLimits } from './limits.js';

export { DEFAULT_INVOKER_LIMITS, type InvokerLimits } from './limits.js';

export interface SkillInvokerOptions {
  /** Default 'planning': nothing runs until the host says so. */
  phase?: Phase | undefined;
  /** Transport for net.fetch, used only after the guard said yes (default: the hardened client). */
  fetch?: FetchLike | undefined;
  /** DNS seam of the default client. */
  resolver?: NetResolver | undefined;
  /**
   * Where secret values come from, for hosts with their own vault: called with the skill and the
   * secret's name when a request's `{{secret:NAME}}` may be substituted; undefined = not set.
   * Default: the registry's store (`registry.setSecret`).
   */
  secrets?: ((skillId: string, name: string) => Promise<string | undefined> | string | undefined) | undefined;
  /** Receives the skills' log lines (info). Audit events go to the registry's logger, once. */
  logger?: AuditLogger | undefined;
  /** The operator's policy; defaults to the registry's. */
  hostPolicy?: HostPolicy | undefined;
  limits?: Partial<InvokerLimits> | undefined;
  pool?: Partial<PoolOptions> | undefined;
  /**
   * Skills whose instance may be kept across invocations (faster, but a later invocation, maybe
   * another caller's, can see what an earlier one left in the guest's memory). Default: none —
   * every invocation gets a fresh instance, prepared in the background after the previous one.
   */
  reuseInstances?: boolean | string[] | undefined;
}

export interface InvokeOptions {
  signal?: AbortSignal | undefined;
  /** Tighter deadline than the skill's own (never looser). */
  timeoutMs?: number | undefined;
  /** The skill's log lines of this invocation. */
  onLog?: ((line: LogLine) => void) | undefined;
  /**
   * The caller's identity (an agent task, a conversation). Invocations of the same session may
   * run on the instance the previous one left, state included: fast for tight loops. Without a
   * session, or with another one, the skill always starts from a fresh instance.
   */
  session?: string | undefined;
  /** Who is calling (a token's name, a user): recorded as `caller` on this invocation's audit events and usage. */
  caller?: string | undefined;
}

export type { SkillUsage } from './usage.js';

export class SkillInvoker {
  private _phase: Phase;
  private readonly registry: SkillRegistry;
  private readonly limits: InvokerLimits;
  /** Byte bounds of every message to and from a worker (the limits, clamped to the channel's ceilings). */
  private readonly bounds: ChannelBounds;
  private readonly hostPolicy: HostPolicy;
  private readonly pool: WorkerPool;
  private readonly maxQueue: number;
  private readonly caps = new Map<string, SkillCapabilities>();
  private readonly specs = new WeakMap<LoadedSkill, WorkerSpec>();
  /** Usage figures: counted here, batched to the registry off the hot path (flushed every second and at close). */
  private readonly usageCounter = new UsageCounter((batch) => this.registry.recordUsageBatch(batch));
  private readonly inflight = new Set<InvocationAbort>();
  /** The caller of each invocation in flight, by invocation id: stamped on its audit events. */
  private readonly callers = new Map<string, string>();
  private closed = false;

  constructor(
    readonly loader: SkillLoader,
    private readonly opts: SkillInvokerOptions = {},
  ) {
    this._phase = opts.phase ?? 'planning';
    this.registry = loader.registry;
    this.limits = resolveInvokerLimits(opts.limits);
    this.bounds = channelBounds({ maxMessageBytes: this.limits.maxMessageBytes });
    this.hostPolicy = opts.hostPolicy ?? this.registry.hostPolicy ?? DEFAULT_HOST_POLICY;
    this.maxQueue = opts.pool?.maxQueue ?? 1000;
    this.pool = new WorkerPool({
      maxWorkers: opts.pool?.maxWorkers ?? Math.max(2, availableParallelism() * 2),
      maxQueue: this.maxQueue,
      idleMs: opts.pool?.idleMs ?? 60_000,
    });
  }

  get phase(): Phase {
    return this._phase;
  }

  setPhase(phase: Phase): void {
    if (phase !== 'planning' && phase !== 'execution') throw new TypeError(`unknown phase '${String(phase)}'`);
    this._phase = phase;
  }

  /** Runs `command` of `skillId` with `args`; resolves with the skill's JSON result. */
  async invoke(skillId: string, command: string, args?: unknown, opts: InvokeOptions = {}): Promise<unknown> {
    const invocationId = randomUUID();
    const t0 = performance.now();
    if (opts.caller !== undefined) this.callers.set(invocationId, opts.caller);
    try {
      const out = await this.pipeline(invocationId, skillId, command, args, opts);
      this.count(skillId, t0, undefined, opts.caller);
      return out;
    } catch (e) {
      this.count(skillId, t0, e instanceof SkillError ? e.code : 'INTERNAL', opts.caller);
      throw e;
    } finally {
      this.callers.delete(invocationId);
    }
  }

  private async pipeline(
    invocationId: string,
    skillId: string,
    command: string,
    args: unknown,
    opts: InvokeOptions,
  ): Promise<unknown> {
    const ctx = { skillId, command };
    if (this.closed) throw new InvokerClosedError(ctx);

    // 1. phase gate: before anything else, even for skills that do not exist.
    if (this._phase !== 'execution') {
      this.audit({ type: 'phase_violation', invocationId, skillId, command, reason: `phase is '${this._phase}'` });
      throw new PhaseViolationError(this._phase, ctx);
    }

    // 2. enable check, against the registry as it is now (another process may have disabled it).
    const skill = await this.enabledSkill(invocationId, skillId, command);

    // 3. command and args.
    const spec = skill.manifest.commands[command];
    if (!spec || !Object.hasOwn(skill.manifest.commands, command)) {
      throw new CommandNotFoundError(Object.keys(skill.manifest.commands), { skillId, command });
    }
    // The first invocation of a skill boots its worker while the args schema compiles (ajv);
    // args refused by their size or shape never make one.
    const prepared = prepareArgs(spec.args, args, {
      maxBytes: this.limits.maxArgsBytes,
      beforeSchema: () => this.pool.prewarm(this.workerSpec(skill, opts.session)),
    });
    if (!prepared.ok) {
      if (prepared.tooLarge) {
        const reason = prepared.problems[0]!.message;
        throw this.fail({ invocationId, skillId, command }, { kind: 'limit', limit: 'args_size', max: prepared.tooLarge.max, reason });
      }
      throw new InvalidArgumentsError(prepared.problems, ctx);
    }

    // 4. execution.
    return this.execute(invocationId, skill, command, prepared.json, opts);
  }

  private async enabledSkill(invocationId: string, skillId: string, command: string): Promise<LoadedSkill> {
    const installed = this.registry.state(skillId);
    const state = !installed ? 'not_installed' : !installed.enabled ? 'disabled' : undefined;
    if (!installed || state) {
      this.audit({ type: 'not_enabled', invocationId, skillId, command, reason: state });
      if (state === 'disabled') this.pool.evict((key) => key.startsWith(`${skillId}@`));
      throw new SkillNotEnabledError(state ?? 'not_installed', { skillId, command });
    }
    const loaded = this.loader.get(skillId);
    if (!loaded) {
      this.audit({ type: 'not_enabled', invocationId, skillId, command, reason: 'not_loaded' });
      throw new SkillNotEnabledError('not_loaded', { skillId, command });
    }
    if (loaded.hash === installed.componentHash) return loaded;
    // Re-installed since it was loaded: the host loaded this skill, so load its current version.
    this.pool.evict((key) => key.startsWith(`${skillId}@${loaded.hash}`));
    const stale = this.caps.get(`${skillId}@${loaded.hash}`);
    this.caps.delete(`${skillId}@${loaded.hash}`);
    void stale?.net.close();
    return this.loader.load(skillId);
  }

  private capabilities(skill: LoadedSkill): SkillCapabilities {
    const key = `${skill.id}@${skill.hash}`;
    let caps = this.caps.get(key);
    if (!caps) {
      const perms = skill.manifest.requires.permissions;
      const net = createNetCapability({
        policy: compileNetPolicy(
          perms.net?.allow_domains ?? [],
          { allowPrivateNetworks: this.hostPolicy.allowPrivateNetworks, deniedDomains: this.hostPolicy.deniedDomains },
          perms.net?.allow ?? [],
        ),
        secrets: this.netSecrets(skill),
        fetch: this.opts.fetch,
        resolver: this.opts.resolver,
        maxRedirects: this.limits.maxRedirects,
        maxResponseBytes: this.limits.maxResponseBytes,
        timeoutMs: skill.limits.timeoutMs,
      });
      const fs = createFsCapability(
        { read: perms.fs?.read ?? false, write: perms.fs?.write ?? false, roots: perms.fs?.paths ?? [] },
        {
          maxFileBytes: this.limits.maxFileBytes,
          maxDirEntries: this.limits.maxDirEntries,
          // Checked against the realpath'd roots when the capability is made: a root that is a
          // symlink into a denied area passes the install-time string check but not this one.
          allowedRoots: this.hostPolicy.allowedRoots,
          deniedPaths: this.hostPolicy.deniedPaths,
          // The host's own home, store, cache and package: never reachable, whatever the roots.
          protectedPaths: this.loader.registry.protectedPaths.map((p) => p.path),
        },
      );
      caps = { net, fs };
      this.caps.set(key, caps);
    }
    return caps;
  }

  /** The skill's declared secrets and where their values come from (the `secrets` seam, else the store). */
  private netSecrets(skill: LoadedSkill): NetSecrets {
    const skillId = skill.id;
    const seam = this.opts.secrets;
    return {
      rules: compileSecretRules(skill.manifest.requires.secrets),
      resolve: async (name) => (seam ? await seam(skillId, name) : this.registry.readSecret(skillId, name)),
    };
  }

  private reuses(skillId: string): boolean {
    const r = this.opts.reuseInstances;
    return r === true || (Array.isArray(r) && r.includes(skillId));
  }

  /** The kind of worker `skill` runs in (its key, instance settings and compiled modules). */
  private workerSpec(skill: LoadedSkill, session: string | undefined): WorkerSpec {
    // Made once per loaded skill: the same key string each time also spares the pool's Map its hashing.
    let spec = this.specs.get(skill);
    if (!spec) {
      spec = this.newWorkerSpec(skill);
      this.specs.set(skill, spec);
    }
    return session === undefined ? spec : { ...spec, session };
  }

  private newWorkerSpec(skill: LoadedSkill): WorkerSpec {
    const reuse = this.reuses(skill.id);
    const fs = this.capabilities(skill).fs.settings;
    return {
      key: `${skill.id}@${skill.hash}:${reuse ? 'reuse' : 'fresh'}`,
      session: undefined,
      prepared: skill.prepared,
      settings: {
        freshInstance: !reuse,
        maxLogLines: this.limits.maxLogLines,
        maxLogBytes: this.limits.maxLogBytes,
        maxResultBytes: this.limits.maxResultBytes,
        bounds: this.bounds,
        // A skill that may use fs gets its allowed calls served in its worker (fs-local.ts).
        fs: fs.read || fs.write ? { settings: fs, maxHostCalls: this.limits.maxHostCalls, maxIoBytes: this.limits.maxIoBytes } : undefined,
      },
    };
  }

  private async execute(
    invocationId: string,
    skill: LoadedSkill,
    command: string,
    argsJson: string,
    opts: InvokeOptions,
  ): Promise<unknown> {
    const skillId = skill.id;
    const ctx = { skillId, command };
    const controller = new InvocationAbort();
    this.inflight.add(controller);
    const onCallerAbort = () => controller.abort(new DOMException('aborted by the caller', 'AbortError'));
    if (opts.signal?.aborted) onCallerAbort();
    opts.signal?.addEventListener('abort', onCallerAbort, { once: true });

    const timeoutMs = Math.min(skill.limits.timeoutMs, opts.timeoutMs ?? Infinity);
    let timer: NodeJS.Timeout | undefined;
    const record: InvocationRecord = { invocationId, skillId, command, hostCalls: 0, ioBytes: 0 };
    // The secret values this invocation sent: kept out of what the guest and the caller see.
    // Made with the host-call handler, at the guest's first host call (none were sent before).
    let redactor: SecretRedactor | undefined;
    try {
      let worker: SkillWorker;
      try {
        worker = await this.pool.acquire(this.workerSpec(skill, opts.session), controller);
      } catch (e) {
        // The pool knows nothing of skills: give its errors this invocation's context.
        if (this.closed) throw new InvokerClosedError(ctx);
        if (e instanceof InvocationAbortedError) throw new InvocationAbortedError(ctx);
        if (e instanceof QueueFullError) throw new QueueFullError(this.maxQueue, ctx);
        throw e;
      }
      // This try/finally owns the worker: it goes back to the pool unless it ran and did not
      // finish (ended by a deadline or abort, or its guest blocked on a reply that will not come).
      let fate: 'release' | 'discard' = 'release';
      try {
        if (controller.aborted) throw failureError({ kind: this.closed ? 'closed' : 'aborted' }, ctx);
        const caps = this.capabilities(skill);
        // Most invocations make no host call: the handler, its redactor and the real AbortSignal
        // the capabilities need are made at the first one.
        let serve: HostCallHandler | undefined;
        const handler: HostCallHandler = (call, payload) => {
          if (!serve) {
            const r = (redactor = new SecretRedactor());
            const net = scopeNetToInvocation(caps.net, r, ({ name, origin }) =>
              this.audit({ type: 'secret_used', invocationId, skillId, command, capability: 'net', target: origin, operation: name, meta: { secret: name, origin } }),
            );
            serve = createHostCallHandler(
              { ...caps, net },
              {
                maxHostCalls: this.limits.maxHostCalls,
                maxIoBytes: this.limits.maxIoBytes,
                maxAuditedDenials: this.limits.maxAuditedDenials,
                bounds: this.bounds,
                tally: worker.tally,
              },
              record,
              controller.signal,
              (e) => this.audit(r.json(e)),
            );
          }
          return serve(call, payload);
        };
        // The deadline covers the skill's own time, not the wait for a free worker.
        timer = setTimeout(() => controller.abort(new DOMException('deadline', 'TimeoutError')), timeoutMs);
        fate = 'discard';
        const outcome = await worker.run({ t: 'invoke', command, args: argsJson, session: opts.session }, handler, controller).catch((e: unknown) => {
          const failure = runErrorFailure(e);
          throw failure ? this.fail(record, failure) : e;
        });
        const measure = this.failureContext(skill, timeoutMs);
        if (outcome.kind === 'terminated') throw this.fail(record, terminatedFailure(outcome.why, worker, measure));
        fate = 'release';
        return this.settle(record, redactor ? redactor.json(outcome.done) : outcome.done, measure, opts);
      } finally {
        if (fate === 'release') this.pool.release(worker);
        else this.pool.discard(worker);
      }
    } finally {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onCallerAbort);
      this.inflight.delete(controller);
      this.auditSuppressedDenials(record);
    }
  }

  /** The one summary row for the denials of `record` past `maxAuditedDenials`. */
  private auditSuppressedDenials(record: InvocationRecord): void {
    const byCapability = record.suppressedDenials;
    if (!byCapability) return;
    // Later denials (a host call still settling after the end) are not summarised twice.
    record.suppressedDenials = undefined;
    const suppressed = Object.values(byCapability).reduce((a, b) => a + b, 0);
    const caps = Object.keys(byCapability);
    this.audit({
      type: 'denials_suppressed',
      invocationId: record.invocationId,
      skillId: record.skillId,
      command: record.command,
      capability: caps.length === 1 ? (caps[0] as 'net' | 'fs') : null,
      reason: `${suppressed} more denials suppressed after the first ${this.limits.maxAuditedDenials} of this invocation`,
      meta: { suppressed, audited: this.limits.maxAuditedDenials, total: record.denials, byCapability },
    });
  }

  /** What this invocation is measured against, for the failure mappings (invocation-failure.ts). */
  private failureContext(skill: LoadedSkill, timeoutMs: number): FailureContext {
    return {
      skillId: skill.id,
      timeoutMs,
      memoryMb: skill.limits.memoryMb,
      maxResultBytes: this.limits.maxResultBytes,
      maxLogLines: this.limits.maxLogLines,
      maxLogBytes: this.limits.maxLogBytes,
      closed: this.closed,
    };
  }

  /** Turns the worker's report into the result or the right typed error. */
  private settle(record: InvocationRecord, done: DoneMsg, measure: FailureContext, opts: InvokeOptions): unknown {
    const { invocationId, skillId, command } = record;
    for (const line of done.logs) {
      opts.onLog?.(line);
      this.opts.logger?.info?.({ skillId, command, invocationId, level: line.level, skillLog: line.message }, 'skill log');
    }
    const outcome = settledOutcome(done, record, measure);
    if ('failure' in outcome) throw this.fail(record, outcome.failure);
    try {
      return JSON.parse(outcome.result) as unknown;
    } catch {
      throw this.fail(record, resultNotJson(outcome.result));
    }
  }

  /** Audits `failure` (unless it was audited when it happened) and returns the error to throw. */
  private fail(ids: { invocationId: string; skillId: string; command: string }, failure: InvocationFailure): SkillError {
    const { invocationId, skillId, command } = ids;
    const row = failureAudit(failure);
    if (row) this.audit({ ...row, invocationId, skillId, command });
    return failureError(failure, { skillId, command });
  }

  private audit(e: AuditEventInput): void {
    const caller = e.caller ?? (e.invocationId ? this.callers.get(e.invocationId) : undefined);
    // The registry's trail stores and logs it (its logger): the one audit sink, never a second copy here.
    this.registry.recordAudit(caller === undefined ? e : { ...e, caller });
  }

  private count(skillId: string, t0: number, code: string | undefined, caller?: string): void {
    this.usageCounter.count({ skillId, ok: code === undefined, code, ms: performance.now() - t0, caller });
  }

  /** Writes the batched usage figures to the registry (shared with the CLI's `info`). */
  flushUsage(): void {
    this.usageCounter.flush();
  }

  /** Usage figures of this invoker, per skill. */
  usage(): SkillUsage[];
  usage(skillId: string): SkillUsage | undefined;
  usage(skillId?: string): SkillUsage[] | SkillUsage | undefined {
    return skillId === undefined ? this.usageCounter.all() : this.usageCounter.get(skillId);
  }

  /** Pool figures: threads alive and invocations waiting. */
  get poolStats(): { workers: number; queued: number } {
    return { workers: this.pool.size, queued: this.pool.queued };
  }

  /** How this skill's live workers give each invocation a fresh state: 'snapshot' (reset), or why they re-instantiate. */
  freshStateBy(skillId: string): string[] {
    return this.pool.freshStateBy((key) => key.startsWith(`${skillId}@`));
  }

  /** Ends every worker and connection; invocations in flight reject with InvokerClosedError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.inflight) c.abort(new DOMException('invoker closed', 'AbortError'));
    await this.pool.close();
    this.flushUsage();
    await Promise.all([...this.caps.values()].map((c) => c.net.close()));
    this.caps.clear();
  }
}
