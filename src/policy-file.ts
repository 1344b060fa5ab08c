/**
 * Where the host policy comes from: `--policy`, else `$AGENTOS_POLICY`, else
 * `$AGENTOS_HOME/policy.yaml` when present, else the built-in default. The answer keeps its
 * source, so a denial the host policy caused can name the file (`policySource`).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadHostPolicy, type HostPolicy } from './policy.js';

export const POLICY_FILE_NAME = 'policy.yaml';
export const POLICY_ENV = 'AGENTOS_POLICY';

export type PolicyOrigin = 'flag' | 'env' | 'home' | 'default';

export interface PolicySource {
  /** Where it came from: `--policy`, `$AGENTOS_POLICY`, `<home>/policy.yaml`, or none (built-in default). */
  origin: PolicyOrigin;
  /** The file read; undefined for the built-in default. */
  file: string | undefined;
}

export interface ResolvedPolicy extends PolicySource {
  /** undefined = the built-in default. */
  policy: HostPolicy | undefined;
}

const sources = new WeakMap<object, PolicySource>();

/** `<home>/policy.yaml`. */
export function homePolicyFile(home: string): string {
  return path.join(home, POLICY_FILE_NAME);
}

/** Read a policy file and remember where it came from. */
export function loadPolicyFrom(file: string, origin: PolicyOrigin): HostPolicy {
  const policy = loadHostPolicy(file);
  sources.set(policy, { origin, file: path.resolve(file) });
  return policy;
}

/** `<home>/policy.yaml` read, when it exists; undefined otherwise. Throws HostPolicyError when it is invalid. */
export function homeHostPolicy(home: string): HostPolicy | undefined {
  const file = homePolicyFile(home);
  return existsSync(file) ? loadPolicyFrom(file, 'home') : undefined;
}

/** The host policy for `home`: explicit file, else `$AGENTOS_POLICY`, else `<home>/policy.yaml`, else none. */
export function resolveHostPolicyFile(opts: { home: string; explicit?: string | undefined; env?: NodeJS.ProcessEnv | undefined }): ResolvedPolicy {
  const env = opts.env ?? process.env;
  if (opts.explicit !== undefined && opts.explicit !== '') return { origin: 'flag', file: path.resolve(opts.explicit), policy: loadPolicyFrom(opts.explicit, 'flag') };
  const fromEnv = env[POLICY_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return { origin: 'env', file: path.resolve(fromEnv), policy: loadPolicyFrom(fromEnv, 'env') };
  const homeFile = homePolicyFile(opts.home);
  if (existsSync(homeFile)) return { origin: 'home', file: homeFile, policy: loadPolicyFrom(homeFile, 'home') };
  return { origin: 'default', file: undefined, policy: undefined };
}

/** Where `policy` was read from, if it came through this module. */
export function policySource(policy: HostPolicy | undefined): PolicySource | undefined {
  return policy === undefined ? undefined : sources.get(policy);
}

/** "the host policy (/home/me/.agentos/policy.yaml)" or "the built-in host policy". */
export function describePolicy(policy: HostPolicy | undefined): string {
  const s = policySource(policy);
  return s?.file ? `the host policy (${s.file})` : 'the built-in default host policy (no policy file)';
}

/** Whether a denial's reason says the host policy (not the skill's manifest) caused it. */
export function causedByHostPolicy(reason: string): boolean {
  return /\bhost policy\b/i.test(reason);
}
