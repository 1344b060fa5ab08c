/** The permission review shown by `install`, `enable` and `info`. */
import type { PermissionSummary } from '../manifest.js';
import type { HostPolicy } from '../policy.js';
import type { SkillManifest } from '../types.js';
import { lib } from './lib.js';
import type { Output } from './output.js';
import { visible } from './sanitize.js';
import { formatPairs } from './table.js';

export interface PermissionReview extends PermissionSummary {
  /** What invocations actually run with: the manifest's limits, else the host defaults. */
  effectiveLimits: { timeoutMs: number; memoryMb: number };
}

export function permissionReview(manifest: SkillManifest, policy: HostPolicy | undefined): PermissionReview {
  const { permissionSummary, effectiveLimits } = lib();
  return { ...permissionSummary(manifest), effectiveLimits: effectiveLimits(manifest, policy ?? {}) };
}

/**
 * Lines such as `network  api.github.com, *.example.com`, indented by two. Domains and roots are
 * the skill's text: shown `visible`, so nothing in them can forge or hide a line of the review.
 */
export function permissionLines(review: PermissionReview, out: Output): string[] {
  const c = out.c;
  const pairs: [string, string][] = [];
  const anyNet = review.domains.length > 0 || review.rules.length > 0;
  pairs.push(['network', review.domains.length ? review.domains.map((d) => c.yellow(visible(d))).join(', ') : c.dim(anyNet ? 'no whole domains' : 'none')]);
  review.rules.forEach((r) => pairs.push(['', `${c.yellow(visible(r))}`]));
  review.secrets.forEach((x, i) => {
    const where = x.allow.map((d) => c.yellow(visible(d))).join(', ');
    const about = x.description ? ` ${c.dim(`(${visible(x.description)})`)}` : '';
    pairs.push([i === 0 ? 'secrets' : '', `${c.bold(visible(x.name))} -> ${where}${about}`]);
  });
  if (review.fsRoots.length === 0) pairs.push(['files', c.dim('none')]);
  review.fsRoots.forEach((r, i) => {
    const access = [r.read && 'read', r.write && 'write'].filter(Boolean).join(' + ') || 'no access';
    pairs.push([i === 0 ? 'files' : '', `${c.yellow(visible(r.path))}  ${r.write ? c.red(access) : access}`]);
  });
  const { timeout_ms, memory_mb } = review.limits;
  const eff = review.effectiveLimits;
  const timeout = timeout_ms !== undefined ? `timeout ${eff.timeoutMs} ms` : `timeout ${eff.timeoutMs} ms ${c.dim('(host default)')}`;
  const memory = memory_mb !== undefined ? `memory ${eff.memoryMb} MiB` : `memory ${eff.memoryMb} MiB ${c.dim('(host default)')}`;
  pairs.push(['limits', `${timeout}, ${memory}`]);
  return formatPairs(pairs, { indent: 2, key: (k) => c.bold(k) }).split('\n');
}
