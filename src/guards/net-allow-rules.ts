/**
 * `requires.permissions.net.allow`: finer net rules than allow_domains, down to method and path.
 *
 *   allow:
 *     - { url: "https://api.github.com/repos/*", methods: [GET] }
 *
 * `url` is a URLPattern (the WHATWG standard; Node 24 has it as a global, older Nodes get the
 * `urlpattern-polyfill` package, loaded only where the global is missing). Pure: no I/O.
 *
 * Restrictions, so that a rule stays reviewable and the host policy's caps apply to it exactly as
 * to an allow_domains entry:
 * - the scheme is written out, `http` or `https` (no pattern);
 * - the host is a plain host or `*.host` (allow_domains syntax, strict subdomains), no groups;
 * - the port is a number or absent (the scheme's default);
 * - path, query and fragment are free URLPattern syntax (`*`, `:id`, `(a|b)`, `{/x}?`);
 *   an absent path means any path;
 * - `methods`: a non-empty list of the methods the net guard supports; absent = all of them.
 * The origin part becomes an AllowEntry (`rule.origin`), which the policy checks like a domain.
 *
 * Matching runs on the URL as parsed (WHATWG: `/a/../b` is `/b`, case kept in the path). A path
 * that reaches a rule with an encoded `/`, `\` or `.` (`%2F`, `%5C`, `%2E`) is refused: a server
 * may decode them and so serve a path the rule did not mean.
 */
import { createRequire } from 'node:module';
// net-guard.ts imports this module, and hands `parseOrigin` in; the types come from net-types.ts.
import type { AllowEntry, ParseResult } from './net-types.js';

/** The URLPattern class: the global where Node has one, else the polyfill (which does not patch the global). */
// Declared here (the members this guard uses), not taken from the polyfill's or Node's typings: the
// published .d.ts must compile for a consumer whatever @types/node declares about URLPattern.
interface URLPatternLike {
  readonly protocol: string;
  readonly hostname: string;
  readonly port: string;
  readonly pathname: string;
  readonly search: string;
  readonly hash: string;
  test(input: string): boolean;
}
type URLPatternInput = string | { protocol: string; hostname: string; port: string; pathname: string; search: string; hash: string };
type URLPatternClass = new (input: URLPatternInput) => URLPatternLike;

let patternClass: URLPatternClass | undefined;
function URLPatternImpl(): URLPatternClass {
  if (patternClass) return patternClass;
  const g = (globalThis as { URLPattern?: URLPatternClass }).URLPattern;
  patternClass = g ?? (createRequire(import.meta.url)('urlpattern-polyfill/urlpattern') as { URLPattern: URLPatternClass }).URLPattern;
  return patternClass;
}

export interface NetAllowRule {
  /** `allow[i]`, for messages. */
  label: string;
  /** The url as written. */
  source: string;
  /** Upper-case; every supported method when the manifest lists none. */
  methods: ReadonlySet<string>;
  /** Whether `methods` was written (for messages). */
  anyMethod: boolean;
  /** The scheme, host and port, as an allow_domains entry would say them. */
  origin: AllowEntry;
  pattern: URLPatternLike;
}

const HOST_PATTERN_CHARS = /[:(){}?+\\]|\*(?!\.)|.\*/;
const ENCODED_SEPARATOR = /%(2f|5c|2e)/i;

/** Parse one rule. Errors are sentences naming what is wrong (the caller adds the key path). */
export function parseAllowRule(
  raw: { url?: unknown; methods?: unknown },
  label: string,
  env: { supportedMethods: ReadonlySet<string>; parseOrigin: (entry: string) => ParseResult<AllowEntry> },
): ParseResult<NetAllowRule> {
  const { supportedMethods } = env;
  const fail = (error: string): { ok: false; error: string } => ({ ok: false, error });
  const source = raw?.url;
  if (typeof source !== 'string' || source.length === 0) return fail('url must be a non-empty URLPattern string');
  if (source.length > 2000) return fail('url is longer than 2000 characters');
  let p: URLPatternLike;
  try {
    p = new (URLPatternImpl())(source);
  } catch (err) {
    return fail(`url is not a valid absolute URLPattern: ${(err as Error).message}`);
  }
  if (p.protocol !== 'http' && p.protocol !== 'https') {
    return fail(`url must start with http:// or https:// written out (found scheme pattern "${p.protocol}")`);
  }
  if (HOST_PATTERN_CHARS.test(p.hostname)) {
    return fail(`the host of url must be a host or "*.host" (found "${p.hostname}"); patterns belong in the path`);
  }
  if (p.port !== '' && !/^\d{1,5}$/.test(p.port)) return fail(`the port of url must be a number (found "${p.port}")`);
  const originText = `${p.protocol}://${p.hostname}${p.port === '' ? '' : `:${p.port}`}`;
  const origin = env.parseOrigin(originText);
  if (!origin.ok) return fail(`the origin of url: ${origin.error}`);

  let methods: Set<string>;
  const anyMethod = raw.methods === undefined;
  if (anyMethod) {
    methods = new Set(supportedMethods);
  } else {
    if (!Array.isArray(raw.methods) || raw.methods.length === 0) return fail('methods must be a non-empty list (or be left out for every method)');
    methods = new Set();
    for (const m of raw.methods) {
      const up = typeof m === 'string' ? m.toUpperCase() : '';
      if (!supportedMethods.has(up)) {
        return fail(`method ${JSON.stringify(m)} is not one of ${[...supportedMethods].join(', ')}`);
      }
      methods.add(up);
    }
  }
  // Rebuilt from the canonical origin, so host case, IDN and default ports match as the guard sees them.
  const e = origin.value;
  const defaultPort = e.scheme === 'https' ? 443 : 80;
  const pattern = new (URLPatternImpl())({
    protocol: e.scheme,
    hostname: e.wildcard ? `*.${e.host}` : e.host,
    port: e.port === defaultPort ? '' : String(e.port),
    pathname: p.pathname,
    search: p.search,
    hash: p.hash,
  });
  return { ok: true, value: { label, source, methods, anyMethod, origin: e, pattern } };
}

/** Does the rule's origin (scheme, host, port) match a request? */
export function ruleOriginMatches(rule: NetAllowRule, scheme: string, host: string, port: number): boolean {
  const o = rule.origin;
  if (o.scheme !== scheme || o.port !== port) return false;
  return o.wildcard ? host.length > o.host.length + 1 && host.endsWith(`.${o.host}`) : host === o.host;
}

export type RuleMatch =
  | { match: true; rule: NetAllowRule }
  /** No rule for this origin at all. */
  | { match: false; why: 'origin' }
  | { match: false; why: 'path' | 'method' | 'encoded_path'; rules: NetAllowRule[] };

/** The first rule that allows `method url`, or why none does (the rules of that origin, for the message). */
export function matchAllowRules(rules: readonly NetAllowRule[], method: string, url: URL, host: string, port: number): RuleMatch {
  const scheme = url.protocol.slice(0, -1);
  const sameOrigin = rules.filter((r) => ruleOriginMatches(r, scheme, host, port));
  if (sameOrigin.length === 0) return { match: false, why: 'origin' };
  const byPath = sameOrigin.filter((r) => r.pattern.test(url.href));
  if (byPath.length === 0) return { match: false, why: 'path', rules: sameOrigin };
  const rule = byPath.find((r) => r.methods.has(method));
  if (!rule) return { match: false, why: 'method', rules: byPath };
  if (ENCODED_SEPARATOR.test(url.pathname)) return { match: false, why: 'encoded_path', rules: [rule] };
  return { match: true, rule };
}

/** `allow[0] "https://api.github.com/repos/*" [GET]`, for messages. */
export function describeRule(r: NetAllowRule): string {
  return `${r.label} ${JSON.stringify(r.source)}${r.anyMethod ? '' : ` [${[...r.methods].join(', ')}]`}`;
}
