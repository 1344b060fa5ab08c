/**
 * What a manifest asks for, as the operator reviews it (`PermissionSummary`), and what a new
 * version asks for beyond the installed one (`diffPermissions`: non-empty disables a re-install).
 */
import type { SkillManifest } from './types.js';

export interface PermissionSummary {
  /** allow_domains entries as written, sorted, de-duplicated. */
  domains: string[];
  /** `net.allow` rules as written: `GET https://api.github.com/repos/*` (`*` for every method). */
  rules: string[];
  /** Secrets the skill asks for and where each may be sent (allow entries as written). */
  secrets: { name: string; description?: string | undefined; allow: string[] }[];
  /** Filesystem roots, each with the access the skill gets there. */
  fsRoots: { path: string; read: boolean; write: boolean }[];
  limits: { timeout_ms?: number | undefined; memory_mb?: number | undefined };
}

export function permissionSummary(manifest: SkillManifest): PermissionSummary {
  const perms = manifest.requires?.permissions ?? {};
  const domains = [...new Set(perms.net?.allow_domains ?? [])].sort();
  const rules = [...new Set((perms.net?.allow ?? []).map((r) => `${r.methods?.length ? r.methods.map((m) => m.toUpperCase()).join(',') : '*'} ${r.url}`))].sort();
  const secrets = Object.entries(manifest.requires?.secrets ?? {})
    .map(([name, s]) => ({ name, ...(s.description !== undefined ? { description: s.description } : {}), allow: [...new Set(s.allow)].sort() }))
    .sort((x, y) => x.name.localeCompare(y.name));
  const fs = perms.fs;
  const fsRoots = fs ? [...new Set(fs.paths)].sort().map((p) => ({ path: p, read: fs.read, write: fs.write })) : [];
  const lim = manifest.requires?.limits ?? {};
  const limitsOut: PermissionSummary['limits'] = {};
  if (lim.timeout_ms !== undefined) limitsOut.timeout_ms = lim.timeout_ms;
  if (lim.memory_mb !== undefined) limitsOut.memory_mb = lim.memory_mb;
  return { domains, rules, secrets, fsRoots, limits: limitsOut };
}

/**
 * What `next` asks for beyond `prev`, one sentence each; empty when `next` asks for nothing
 * new. Compares entries as written (a new wildcard is new even if it covers an old host), and
 * treats a limit moving to or from the host default as grown (the host default is not known here).
 */
export function diffPermissions(prev: SkillManifest, next: SkillManifest): string[] {
  const a = permissionSummary(prev);
  const b = permissionSummary(next);
  const out: string[] = [];
  const oldDomains = new Set(a.domains.map((d) => d.toLowerCase()));
  for (const d of b.domains) if (!oldDomains.has(d.toLowerCase())) out.push(`net: new domain ${d}`);
  const oldRules = new Set(a.rules);
  for (const r of b.rules) if (!oldRules.has(r)) out.push(`net: new rule ${r}`);
  const oldSecrets = new Map(a.secrets.map((x) => [x.name, new Set(x.allow.map((d) => d.toLowerCase()))]));
  for (const x of b.secrets) {
    const was = oldSecrets.get(x.name);
    if (!was) out.push(`secrets: new secret ${x.name} (may be sent to ${x.allow.join(', ')})`);
    else for (const d of x.allow) if (!was.has(d.toLowerCase())) out.push(`secrets: ${x.name} may now also be sent to ${d}`);
  }

  const oldRoots = new Map(a.fsRoots.map((r) => [r.path, r]));
  for (const r of b.fsRoots) {
    const o = oldRoots.get(r.path);
    if (!o) {
      if (r.read || r.write) out.push(`fs: new root ${r.path} (${[r.read && 'read', r.write && 'write'].filter(Boolean).join('+')})`);
      continue;
    }
    if (r.read && !o.read) out.push(`fs: read access to ${r.path}`);
    if (r.write && !o.write) out.push(`fs: write access to ${r.path}${o.read ? ' (was read-only)' : ''}`);
  }

  for (const k of ['timeout_ms', 'memory_mb'] as const) {
    const was = a.limits[k];
    const now = b.limits[k];
    if (now === was) continue;
    // Without the host policy at hand, a change to or from the host default counts as growth.
    if (was === undefined) out.push(`limits: ${k} host default -> ${now}`);
    else if (now === undefined) out.push(`limits: ${k} ${was} -> host default`);
    else if (now > was) out.push(`limits: ${k} ${was} -> ${now}`);
  }
  return out;
}
