/**
 * The host operator's policy: what any skill installed on this host may ask for at most.
 *
 * A manifest that asks for more is refused with one message per offending entry; the host never
 * silently narrows a skill's permissions (a skill that runs has exactly what its manifest says).
 *
 * Every field is optional; a missing field takes its value from DEFAULT_HOST_POLICY. A field that
 * is set *replaces* the default (e.g. setting `deniedPaths` replaces DEFAULT_DENIED_PATHS; spread
 * the default list into yours to keep it).
 *
 * Path checks here are lexical (this module does no I/O). The fs capability re-checks the
 * realpath'd roots against `allowedRoots` / `deniedPaths` when it canonicalises them, so a root
 * reached through a symlink cannot sidestep the policy.
 */
import { readFileSync } from 'node:fs';
import { extname, posix } from 'node:path';
import type { SkillManifest } from './types.js';
import {
  allowEntryCovers,
  denyEntryOverlaps,
  entryIsPrivateOnly,
  isCloudMetadataHost,
  parseAllowEntry,
  parseNetAllowRule,
  type AllowEntry,
} from './guards/net-guard.js';
import { checkPathSyntax, isWithinRoot } from './guards/fs-guard.js';
import { lazy, lazyRequire } from './lazy.js';
import { HostPolicyError } from './errors.js';

// zod and yaml are loaded when a policy is first parsed, not when this module is imported
// (see lazy.ts): the limits and defaults below need neither.
const zod = lazyRequire<typeof import('zod')>('zod');
const yaml = lazyRequire<typeof import('yaml')>('yaml');

export interface HostPolicy {
  /** Let skills reach loopback / RFC 1918 / link-local / ULA ... addresses. Cloud metadata stays denied. */
  allowPrivateNetworks?: boolean | undefined;
  /** Hosts no skill may reach; allow_domains syntax; `*.x` denies x and every subdomain. */
  deniedDomains?: string[] | undefined;
  /** If set, every manifest allow_domains entry must be covered by one of these. */
  allowedDomains?: string[] | undefined;
  /** Paths no skill root may contain or be inside of. */
  deniedPaths?: string[] | undefined;
  /** If set, every manifest fs root must be inside one of these. */
  allowedRoots?: string[] | undefined;
  /** Whether skills may ask for fs write at all. */
  allowFsWrite?: boolean | undefined;
  maxTimeoutMs?: number | undefined;
  maxMemoryMb?: number | undefined;
  defaultTimeoutMs?: number | undefined;
  defaultMemoryMb?: number | undefined;
  /** Audit retention applied when the CLI opens the store: events older than this are pruned. */
  auditMaxAgeDays?: number | undefined;
  /** Audit retention: keep at most this many events (newest kept). */
  auditMaxEvents?: number | undefined;
  /** Largest skill.yaml install reads, in bytes (default 1 MiB). */
  maxManifestBytes?: number | undefined;
  /** Largest component install reads, in bytes (default 64 MiB). */
  maxComponentBytes?: number | undefined;
}

/** Paths that are never a reasonable fs root: kernel interfaces, devices, host configuration. */
export const DEFAULT_DENIED_PATHS: readonly string[] = ['/proc', '/sys', '/dev', '/etc', '/boot', '/root', '/run', '/var/run'];



/** A host policy with every default filled in. */
export interface ResolvedHostPolicy {
  allowPrivateNetworks: boolean;
  deniedDomains: string[];
  allowedDomains: string[] | undefined;
  deniedPaths: string[];
  allowedRoots: string[] | undefined;
  allowFsWrite: boolean;
  maxTimeoutMs: number;
  maxMemoryMb: number;
  defaultTimeoutMs: number;
  defaultMemoryMb: number;
}

export const DEFAULT_HOST_POLICY: ResolvedHostPolicy = {
  allowPrivateNetworks: false,
  deniedDomains: [],
  allowedDomains: undefined,
  deniedPaths: [...DEFAULT_DENIED_PATHS],
  allowedRoots: undefined,
  allowFsWrite: true,
  maxTimeoutMs: 60_000,
  maxMemoryMb: 512,
  defaultTimeoutMs: 5_000,
  defaultMemoryMb: 64,
};

export function resolveHostPolicy(policy: HostPolicy = {}): ResolvedHostPolicy {
  const d = DEFAULT_HOST_POLICY;
  return {
    allowPrivateNetworks: policy.allowPrivateNetworks ?? d.allowPrivateNetworks,
    deniedDomains: policy.deniedDomains ?? d.deniedDomains,
    allowedDomains: policy.allowedDomains ?? d.allowedDomains,
    deniedPaths: policy.deniedPaths ?? d.deniedPaths,
    allowedRoots: policy.allowedRoots ?? d.allowedRoots,
    allowFsWrite: policy.allowFsWrite ?? d.allowFsWrite,
    maxTimeoutMs: policy.maxTimeoutMs ?? d.maxTimeoutMs,
    maxMemoryMb: policy.maxMemoryMb ?? d.maxMemoryMb,
    defaultTimeoutMs: policy.defaultTimeoutMs ?? d.defaultTimeoutMs,
    defaultMemoryMb: policy.defaultMemoryMb ?? d.defaultMemoryMb,
  };
}

// ---------------------------------------------------------------------------------------------

function normalizeRoot(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/**
 * Lexical containment: both paths normalised (`.`/`..`/doubled and trailing slashes), then the fs
 * guard's `isWithinRoot`, the one containment rule (separator boundary; a relative path or one
 * with a NUL byte contains nothing and is inside nothing).
 */
function pathContains(outer: string, inner: string): boolean {
  return isWithinRoot(normalizeRoot(outer), normalizeRoot(inner));
}

/** Messages about fs roots (already canonical, or lexical) against allowedRoots / deniedPaths. */
export function checkRootsAgainstPolicy(
  roots: readonly string[],
  policy: Pick<HostPolicy, 'allowedRoots' | 'deniedPaths'>,
  label: (i: number) => string = (i) => `requires.permissions.fs.paths[${i}]`,
): string[] {
  const p = resolveHostPolicy(policy);
  const out: string[] = [];
  roots.forEach((root, i) => {
    const q = `${label(i)} ${JSON.stringify(root)}`;
    const syntax = checkPathSyntax(root);
    if (syntax) {
      out.push(`${q} is invalid: ${syntax.reason}`);
      return;
    }
    const problems: string[] = [];
    for (const denied of p.deniedPaths) {
      if (pathContains(denied, root)) problems.push(`is denied by the host policy (deniedPaths ${JSON.stringify(denied)})`);
      else if (pathContains(root, denied)) problems.push(`contains ${JSON.stringify(denied)}, which the host policy denies (deniedPaths)`);
    }
    if (p.allowedRoots && !p.allowedRoots.some((a) => pathContains(a, root))) {
      problems.push(`is not inside any of the host policy's allowedRoots (${p.allowedRoots.map((a) => JSON.stringify(a)).join(', ')})`);
    }
    if (problems.length > 0) out.push(`${q} ${problems.join('; it also ')}`);
  });
  return out;
}

/**
 * Everything in `manifest` that `policy` does not allow, one message per offending entry, each
 * naming the key path and the entry. Empty = the manifest fits.
 */
export function checkManifestAgainstPolicy(manifest: SkillManifest, policy: HostPolicy): string[] {
  const p = resolveHostPolicy(policy);
  const out: string[] = [];

  // The policy's own lists (a programmatic policy is not validated by loadHostPolicy).
  const compileList = (list: string[] | undefined, key: string): AllowEntry[] => {
    const entries: AllowEntry[] = [];
    (list ?? []).forEach((e, i) => {
      const r = parseAllowEntry(e, { deny: key === 'deniedDomains' });
      if (r.ok) entries.push(r.value);
      else out.push(`host policy ${key}[${i}] is invalid: ${r.error}`);
    });
    return entries;
  };
  const denied = compileList(p.deniedDomains, 'deniedDomains');
  const allowed = p.allowedDomains ? compileList(p.allowedDomains, 'allowedDomains') : undefined;

  const perms = manifest.requires?.permissions ?? {};
  // The same caps for every way a destination is named: allow_domains, the origin of an allow
  // rule, and where a secret may be sent.
  const destinations: { q: string; parsed: ReturnType<typeof parseAllowEntry> }[] = [];
  (perms.net?.allow_domains ?? []).forEach((raw, i) => {
    destinations.push({ q: `requires.permissions.net.allow_domains[${i}] ${JSON.stringify(raw)}`, parsed: parseAllowEntry(raw) });
  });
  (perms.net?.allow ?? []).forEach((rule, i) => {
    const r = parseNetAllowRule(rule, i);
    const q = `requires.permissions.net.allow[${i}] ${JSON.stringify(rule.url)}`;
    destinations.push({ q, parsed: r.ok ? { ok: true, value: r.value.origin } : r });
  });
  for (const [name, spec] of Object.entries(manifest.requires?.secrets ?? {})) {
    spec.allow.forEach((raw, i) => {
      destinations.push({ q: `requires.secrets.${name}.allow[${i}] ${JSON.stringify(raw)}`, parsed: parseAllowEntry(raw) });
    });
  }
  destinations.forEach(({ q, parsed: r }) => {
    if (!r.ok) {
      out.push(`${q} is invalid: ${r.error}`);
      return;
    }
    const entry = r.value;
    const problems: string[] = [];
    const d = denied.find((x) => denyEntryOverlaps(x, entry));
    if (d) problems.push(`is denied by the host policy (deniedDomains ${JSON.stringify(d.source)})`);
    if (allowed && !allowed.some((a) => allowEntryCovers(a, entry))) {
      problems.push(
        `is not covered by the host policy's allowedDomains (${allowed.map((a) => JSON.stringify(a.source)).join(', ') || 'empty'})`,
      );
    }
    if (!entry.wildcard && isCloudMetadataHost(entry.host)) {
      problems.push('names a cloud metadata endpoint, which skills may never reach');
    } else if (!p.allowPrivateNetworks && entryIsPrivateOnly(entry)) {
      problems.push('can only reach a private network, which the host policy does not allow (allowPrivateNetworks is false)');
    }
    if (problems.length > 0) out.push(`${q} ${problems.join('; it also ')}`);
  });

  const fs = perms.fs;
  if (fs) {
    if (fs.write && !p.allowFsWrite) {
      out.push('requires.permissions.fs.write true is not allowed by the host policy (allowFsWrite is false)');
    }
    out.push(...checkRootsAgainstPolicy(fs.paths ?? [], p));
  }

  const limits = manifest.requires?.limits ?? {};
  if (limits.timeout_ms !== undefined && limits.timeout_ms > p.maxTimeoutMs) {
    out.push(`requires.limits.timeout_ms ${limits.timeout_ms} exceeds the host policy's maxTimeoutMs ${p.maxTimeoutMs}`);
  }
  if (limits.memory_mb !== undefined && limits.memory_mb > p.maxMemoryMb) {
    out.push(`requires.limits.memory_mb ${limits.memory_mb} exceeds the host policy's maxMemoryMb ${p.maxMemoryMb}`);
  }
  return out;
}

/**
 * The limits an invocation runs with: the manifest's, else the policy's defaults, never above the
 * policy's maxima (checkManifestAgainstPolicy refuses a manifest that asks for more, so the cap
 * only ever applies to the defaults).
 */
export function effectiveLimits(manifest: SkillManifest, policy: HostPolicy): { timeoutMs: number; memoryMb: number } {
  const p = resolveHostPolicy(policy);
  const l = manifest.requires?.limits ?? {};
  return {
    timeoutMs: Math.min(l.timeout_ms ?? p.defaultTimeoutMs, p.maxTimeoutMs),
    memoryMb: Math.min(l.memory_mb ?? p.defaultMemoryMb, p.maxMemoryMb),
  };
}

// ---------------------------------------------------------------------------------------------
// loading

// HostPolicyError lives with the other errors (a SkillError, code POLICY_INVALID); re-exported here
// for the callers that import it from this module.
export { HostPolicyError };

/** The zod schema `parseHostPolicy` validates with; built (and zod loaded) on the first call. */
const hostPolicySchema = lazy(() => {
  const { z } = zod();
  const domainList = (deny: boolean) =>
    z.array(z.string()).superRefine((list, ctx) => {
      list.forEach((e, i) => {
        const r = parseAllowEntry(e, { deny });
        if (!r.ok) ctx.addIssue({ code: 'custom', path: [i], message: r.error });
      });
    });
  const pathList = z.array(z.string()).superRefine((list, ctx) => {
    list.forEach((e, i) => {
      const problem = checkPathSyntax(e);
      if (problem) ctx.addIssue({ code: 'custom', path: [i], message: problem.reason });
    });
  });
  const positiveInt = z.number().int().positive();

  return z
    .strictObject({
      allowPrivateNetworks: z.boolean().optional(),
      deniedDomains: domainList(true).optional(),
      allowedDomains: domainList(false).optional(),
      deniedPaths: pathList.optional(),
      allowedRoots: pathList.optional(),
      allowFsWrite: z.boolean().optional(),
      maxTimeoutMs: positiveInt.optional(),
      maxMemoryMb: positiveInt.optional(),
      defaultTimeoutMs: positiveInt.optional(),
      defaultMemoryMb: positiveInt.optional(),
      auditMaxAgeDays: z.number().positive().optional(),
      auditMaxEvents: positiveInt.optional(),
      maxManifestBytes: positiveInt.optional(),
      maxComponentBytes: positiveInt.optional(),
    })
    .superRefine((p, ctx) => {
      const r = resolveHostPolicy(p);
      if (r.defaultTimeoutMs > r.maxTimeoutMs) {
        ctx.addIssue({ code: 'custom', path: ['defaultTimeoutMs'], message: `${r.defaultTimeoutMs} is above maxTimeoutMs ${r.maxTimeoutMs}` });
      }
      if (r.defaultMemoryMb > r.maxMemoryMb) {
        ctx.addIssue({ code: 'custom', path: ['defaultMemoryMb'], message: `${r.defaultMemoryMb} is above maxMemoryMb ${r.maxMemoryMb}` });
      }
    });
});

function keyPath(path: PropertyKey[]): string {
  let s = '';
  for (const k of path) s += typeof k === 'number' ? `[${k}]` : s ? `.${String(k)}` : String(k);
  return s;
}

/** Parse and validate a host policy object (from JSON/YAML or code). Throws HostPolicyError. */
export function parseHostPolicy(value: unknown, file = '(host policy)'): HostPolicy {
  const r = hostPolicySchema().safeParse(value ?? {});
  if (r.success) return r.data;
  throw new HostPolicyError(
    file,
    r.error.issues.map((i) => {
      if (i.code === 'unrecognized_keys') {
        return { path: keyPath(i.path), message: `unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => JSON.stringify(k)).join(', ')}` };
      }
      return { path: keyPath(i.path), message: i.message };
    }),
  );
}

/** Read a host policy from a JSON (`.json`) or YAML file. Throws HostPolicyError naming the key. */
export function loadHostPolicy(file: string): HostPolicy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new HostPolicyError(file, [{ path: '', message: `cannot read the host policy file (${code})` }]);
  }
  let value: unknown;
  try {
    value = extname(file).toLowerCase() === '.json' ? JSON.parse(text) : yaml().parse(text);
  } catch (err) {
    throw new HostPolicyError(file, [{ path: '', message: `not valid ${extname(file).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}` }]);
  }
  if (value !== null && value !== undefined && (typeof value !== 'object' || Array.isArray(value))) {
    throw new HostPolicyError(file, [{ path: '', message: 'expected a mapping of policy keys' }]);
  }
  return parseHostPolicy(value, file);
}
