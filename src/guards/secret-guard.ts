/**
 * The secret guard: pure decisions about `{{secret:NAME}}` placeholders in request headers.
 *
 * A skill never holds a secret's value. It writes the placeholder inside a header value
 * (`authorization: Bearer {{secret:GITHUB_TOKEN}}`); after the net guard said yes to the hop, the
 * host puts the value in, only where the manifest's `requires.secrets.<NAME>.allow` (allow_domains
 * syntax: scheme, host, port) matches the hop's origin. Decided again on every redirect hop.
 *
 * - first hop: an undeclared secret, or an origin the secret may not go to, is a denial naming
 *   the secret (`secret.undeclared`, `secret.origin_not_allowed`); the request is not sent.
 * - a redirect: a header whose secret may not go to the new origin is DROPPED (the redirect
 *   itself was already allowed by the net guard), as fetch drops `authorization` across origins.
 * - a malformed placeholder (`{{secret:}}`, `{{ secret:X }}`, `{{secret:a-b}}`) is `invalid`:
 *   sent literally it would leak the skill author's intent and never work.
 * - placeholders only count in header VALUES; in a name, the URL or the body they are plain text.
 * Whether a declared secret has a value is I/O (the store or the host's vault): the capability
 * decides `secret.unset` after asking.
 */
import { parseAllowEntry, allowEntryMatchesHost, type AllowEntry } from './net-guard.js';

/** A secret's name: what `{{secret:NAME}}` and `requires.secrets.<NAME>` use. */
export const SECRET_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** A well-formed placeholder. */
const PLACEHOLDER = /\{\{secret:([A-Za-z_][A-Za-z0-9_]{0,63})\}\}/g;
/** Anything that looks like an attempt at one (checked after the well-formed ones are taken out). */
const PLACEHOLDER_ATTEMPT = /\{\{\s*secret\s*:/i;

export const SecretRule = {
  undeclared: 'secret.undeclared',
  originNotAllowed: 'secret.origin_not_allowed',
  unset: 'secret.unset',
  malformed: 'secret.malformed_placeholder',
} as const;

/** A secret rule id (`secret.undeclared`, ...): a net denial may carry one. */
export type SecretRuleId = (typeof SecretRule)[keyof typeof SecretRule];

/** The compiled `requires.secrets`: name -> where it may go. */
export type SecretRules = ReadonlyMap<string, { allow: AllowEntry[] }>;

/** Compile `requires.secrets`; throws naming the first invalid entry (the manifest schema already refused them). */
export function compileSecretRules(secrets: Record<string, { allow: string[] }> | undefined): SecretRules {
  const out = new Map<string, { allow: AllowEntry[] }>();
  for (const [name, spec] of Object.entries(secrets ?? {})) {
    const allow = spec.allow.map((e, i) => {
      const r = parseAllowEntry(e);
      if (!r.ok) throw new Error(`requires.secrets.${name}.allow[${i}]: ${r.error}`);
      return r.value;
    });
    out.set(name, { allow });
  }
  return out;
}

/** Does one of a secret's `allow` entries match this URL's origin (scheme, host, port)? */
export function secretAllowsOrigin(allow: readonly AllowEntry[], url: URL): boolean {
  const scheme = url.protocol.slice(0, -1);
  const port = url.port === '' ? (scheme === 'https' ? 443 : scheme === 'http' ? 80 : -1) : Number(url.port);
  const host = url.hostname.endsWith('.') ? url.hostname.slice(0, -1) : url.hostname;
  return allow.some((e) => e.scheme === scheme && e.port === port && allowEntryMatchesHost(e, host));
}

/** The secret names a header value refers to, in order, duplicates removed; or why it is malformed. */
export function placeholdersIn(value: string): { names: string[] } | { malformed: string } {
  const names: string[] = [];
  for (const m of value.matchAll(PLACEHOLDER)) if (!names.includes(m[1]!)) names.push(m[1]!);
  if (PLACEHOLDER_ATTEMPT.test(value.replace(PLACEHOLDER, ''))) {
    return { malformed: 'a malformed secret placeholder (write {{secret:NAME}}, NAME of letters, digits and _)' };
  }
  return { names };
}

export type SecretDecision =
  | {
      allow: true;
      /** Per header index: the secrets to put in (empty: send as is). */
      inject: Map<number, string[]>;
      /** Header indexes to drop (a redirect to an origin some of its secrets may not reach). */
      drop: Set<number>;
    }
  | { allow: false; kind: 'denied' | 'invalid'; rule: SecretRuleId; reason: string; secret?: string | undefined };

/**
 * Which headers of a hop get which secrets. `hop: 'first'` denies what `'redirect'` drops.
 * Names only, never values: this runs before any value is looked up.
 */
export function decideSecrets(rules: SecretRules, headers: readonly (readonly [string, string])[], url: URL, hop: 'first' | 'redirect'): SecretDecision {
  const inject = new Map<number, string[]>();
  const drop = new Set<number>();
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!;
    if (!value.includes('{{')) continue;
    const found = placeholdersIn(value);
    if ('malformed' in found) {
      return { allow: false, kind: 'invalid', rule: SecretRule.malformed, reason: `header '${name}' has ${found.malformed}` };
    }
    if (found.names.length === 0) continue;
    for (const secret of found.names) {
      const rule = rules.get(secret);
      if (!rule) {
        return {
          allow: false,
          kind: 'denied',
          rule: SecretRule.undeclared,
          secret,
          reason: `secret ${secret} is not declared in requires.secrets (header '${name}')`,
        };
      }
      if (!secretAllowsOrigin(rule.allow, url)) {
        if (hop === 'redirect') {
          drop.add(i);
          break;
        }
        return {
          allow: false,
          kind: 'denied',
          rule: SecretRule.originNotAllowed,
          secret,
          reason: `secret ${secret} may not be sent to ${url.origin} (requires.secrets.${secret}.allow: ${rule.allow.map((e) => JSON.stringify(e.source)).join(', ')})`,
        };
      }
    }
    if (!drop.has(i)) inject.set(i, found.names);
  }
  return { allow: true, inject, drop };
}

/** A header value with each placeholder replaced by its value (`values` has every name the value uses). */
export function substitute(value: string, values: ReadonlyMap<string, string>): string {
  return value.replace(PLACEHOLDER, (_, name: string) => values.get(name) ?? '');
}
