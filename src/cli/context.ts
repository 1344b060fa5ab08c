/**
 * What every command shares: the global options (`--home`, `--json`, `--policy`), the output,
 * the host policy, and the registry opened with automatic audit retention. Everything opened
 * here is closed by `close()` once the command is done, whatever happened.
 */
import type { Command } from 'commander';
import { resolveHome } from '../home.js';
import type { HostPolicy } from '../policy.js';
import type { ResolvedPolicy } from '../policy-file.js';
import type { SkillRegistry } from '../registry.js';
import { lib } from './lib.js';
import type { CliIO, Output } from './output.js';
import { applyRetention, resolveRetention } from './retention.js';

export const BIN = 'agentos-skills';
export const POLICY_ENV = 'AGENTOS_POLICY';

export interface GlobalOptions {
  home?: string | undefined;
  json?: boolean | undefined;
  policy?: string | undefined;
}

export class CliContext {
  private readonly closers: (() => void | Promise<void>)[] = [];
  private policyCache: { key: string; resolved: ResolvedPolicy } | undefined;

  constructor(
    readonly io: CliIO,
    readonly out: Output,
  ) {}

  get debug(): boolean {
    return this.io.env['AGENTOS_DEBUG'] === '1';
  }

  globals(cmd: Command): GlobalOptions {
    return cmd.optsWithGlobals<GlobalOptions>();
  }

  /** The agentos home: `--home`, else `$AGENTOS_HOME`, else `~/.agentos`. */
  home(cmd: Command): string {
    const h = this.globals(cmd).home;
    return resolveHome(h, this.io.env);
  }

  /** How to spell this CLI in hints, keeping an explicit `--home` so the hint works as printed. */
  bin(cmd: Command): string {
    const h = this.globals(cmd).home;
    return h ? `${BIN} --home ${shellQuote(h)}` : BIN;
  }

  /** The host policy from `--policy`, else `$AGENTOS_POLICY`, else `<home>/policy.yaml`; undefined = the built-in default. */
  hostPolicy(cmd: Command): HostPolicy | undefined {
    return this.policy(cmd).policy;
  }

  /** The host policy in force and where it came from (see ../policy-file.ts). */
  policy(cmd: Command): ResolvedPolicy {
    const explicit = this.globals(cmd).policy;
    const home = this.home(cmd);
    const key = JSON.stringify([explicit, this.io.env[POLICY_ENV], home]);
    if (!this.policyCache || this.policyCache.key !== key) {
      this.policyCache = { key, resolved: lib().resolveHostPolicyFile({ home, explicit, env: this.io.env }) };
    }
    return this.policyCache.resolved;
  }

  /** "the host policy (<file>)" for error hints, once a command has read the policy. */
  get policyDescription(): string | undefined {
    const r = this.policyCache?.resolved;
    if (!r) return undefined;
    return r.file ? `the host policy (${r.file})` : 'the built-in default host policy (no policy file)';
  }

  /** The registry of this home, with the host policy, pruned per the retention settings. */
  openRegistry(cmd: Command, opts: { retention?: boolean } = {}): SkillRegistry {
    const { SkillRegistry, createDefaultLogger } = lib();
    const hostPolicy = this.hostPolicy(cmd);
    const retention = resolveRetention(this.io.env, hostPolicy);
    const logger = this.io.env['AGENTOS_LOG_LEVEL'] ? createDefaultLogger(this.io.env) : undefined;
    // The library prunes in bounded steps as rows are written (its defaults fill in what is unset);
    // a configured retention is also applied in full here, once per command.
    // `audit prune` (retention: false) prunes by hand and reports what it deleted: nothing before it.
    const auditRetention = opts.retention === false ? false : { maxAgeDays: retention.maxAgeDays, maxEvents: retention.maxEvents };
    const registry = new SkillRegistry({ home: this.home(cmd), hostPolicy, logger, auditRetention });
    this.onClose(() => registry.close());
    if (opts.retention !== false) applyRetention(registry, retention);
    return registry;
  }

  /** Run `fn` when the command is done (last registered, first run). */
  onClose(fn: () => void | Promise<void>): void {
    this.closers.push(fn);
  }

  async close(): Promise<void> {
    for (const fn of this.closers.splice(0).reverse()) {
      try {
        await fn();
      } catch {
        // Closing is best effort; the command's own outcome is what gets reported.
      }
    }
  }
}

/** Quote for a POSIX shell only when needed. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
