/**
 * The net guard: pure decisions about outbound HTTP requests (no I/O, no DNS).
 *
 * Two checks run for every request:
 *   1. `decideUrl(policy, method, url)` before anything leaves the host (and again for every
 *      redirect hop);
 *   2. `decideAddress(policy, host, address)` for every address DNS returns, before connecting
 *      (this is what stops `internal.example.com -> 10.0.0.5` and DNS rebinding).
 *
 * ## allow_domains entries
 *
 *   `api.example.com`                https only, port 443 only
 *   `*.example.com`                  https, port 443, any *strict* subdomain (see wildcards)
 *   `http://legacy.example.com`      plain http, port 80 only (and NOT https: list both if needed)
 *   `https://api.example.com:8443`   https, port 8443 only (not 443)
 *   `http://*.example.com:8080`      scheme, wildcard and port combine
 *   `203.0.113.7`, `[2001:db8::1]`   IP literals are accepted; a non-public one only works where the
 *                                    host policy allows private networks
 *
 * Entries are canonicalised exactly like the WHATWG URL parser canonicalises a request's host:
 * lowercase, IDN to A-labels (`bücher.de` -> `xn--bcher-kva.de`), one trailing dot stripped, IPv4
 * in any spelling to a dotted quad, IPv6 compressed in brackets. One trailing `/` is tolerated.
 * Refused: any other scheme, paths/queries/fragments, userinfo, a bare `*`, `*` anywhere but as the
 * whole first label, `*.tld` (a wildcard needs at least two labels after `*.`), a wildcard over an
 * IP, empty labels, a port without a scheme (`host:8443` — write `https://host:8443`), ports
 * outside 1..65535, whitespace and control characters.
 *
 * ## Wildcards
 *
 * `*.example.com` matches `a.example.com` and `a.b.example.com` (any depth) but NOT `example.com`
 * itself: list the apex separately if it is wanted. This is what Fermyon Spin does for
 * `allowed_outbound_hosts` (its `HostConfig::AnySubdomain(".example.com")` is an `ends_with`
 * check on the dot-prefixed suffix) and what ASP.NET's AllowedHosts does.
 * The operator's `deniedDomains` use the same syntax but deny *wide*: `*.corp.example` there denies
 * `corp.example` as well as every subdomain, and a deny entry ignores scheme and port.
 *
 * ## Ports and schemes
 *
 * The port of a request is the URL's port, or the scheme's default (https 443, http 80) when the
 * URL has none. It must equal the port of a matching entry: an entry without a port means the
 * scheme's default port only. `https` is the default scheme; `http` only where an entry says
 * `http://`; nothing else ever (`ftp:`, `file:`, `gopher:`, `ws:`, `data:`, `javascript:`...).
 *
 * ## Private networks
 *
 * Unless the host policy sets `allowPrivateNetworks`, a request is denied when
 *   - its host is an IP literal (any spelling the URL parser accepts: `2130706433`, `0x7f.1`,
 *     `[::ffff:127.0.0.1]`...) that is not public (see ip-ranges.ts), or
 *   - its host name is obviously internal: `localhost` and `*.localhost` (RFC 6761), `.local`
 *     (mDNS), `.internal` (ICANN private-use), `.home.arpa`, `.localdomain`, and the de-facto private
 *     suffixes `.intranet .corp .home .lan .private` (RFC 6762 appendix G), and single-label names
 *     (`https://intranet/`: resolved through the resolver's search domains).
 * Cloud metadata endpoints (169.254.169.254, fd00:ec2::254, metadata.google.internal, ...) are
 * denied always, even with `allowPrivateNetworks`: no skill has a reason to ask for host
 * credentials. Names are only the first line: `decideAddress` checks every DNS answer.
 *
 * ## allow rules (net-allow-rules.ts)
 *
 * `requires.permissions.net.allow` rules (URLPattern + methods) are a second way in: a request
 * passes if an allow_domains entry OR an allow rule matches it; everything below (deny list,
 * metadata, private networks) applies to both alike. A request whose origin has rules but whose
 * path or method none allows is denied naming those rules (`net.path_not_allowed`,
 * `net.method_not_allowed_by_rule`).
 *
 * ## URL parsing
 *
 * Only the WHATWG parser (`new URL`) is used, and the caller must fetch `decision.url` (the parsed
 * URL), never the raw string, so the guard and the HTTP client cannot disagree about which host a
 * URL names (`https://api.github.com@evil.com` is evil.com; `https://a.com\@b.com` is a.com).
 * Stricter than WHATWG: raw URLs containing whitespace or control characters (which the parser would
 * silently strip) and hosts with characters outside letters, digits, `-`, `_` and `.` are invalid.
 */
import { classifyAddress, type IpClassification, type IpRange } from './ip-ranges.js';
import { describeRule, matchAllowRules, parseAllowRule, type NetAllowRule } from './net-allow-rules.js';
import type { AllowEntry, NetScheme, ParseResult } from './net-types.js';

export type { AllowEntry, NetScheme, ParseResult } from './net-types.js';

export interface NetPolicy {
  allow: AllowEntry[];
  allowPrivateNetworks: boolean;
  /** The operator's deny list, same syntax as allow_domains (matched wide, see above). */
  deniedHosts: AllowEntry[];
  /** `net.allow` rules (URLPattern + methods); none when absent. */
  rules?: NetAllowRule[] | undefined;
}

export interface NetDenial {
  allow: false;
  /** 'invalid': the request itself is malformed; 'denied': well-formed but not permitted. */
  kind: 'denied' | 'invalid';
  rule: NetDeniedRuleId;
  reason: string;
}

export type NetDecision =
  | {
      allow: true;
      /** The parsed URL: fetch exactly this. */
      url: URL;
      rule: typeof NetRule.allowed;
      /** The method, upper-cased. */
      method: string;
      /** The allow_domains entry (as written) that matched, or the allow rule (`allow[0] "https://..."`). */
      entry: string;
    }
  | NetDenial;

export type AddressDecision =
  | { allow: true; rule: typeof NetRule.allowed; address: string; range: IpRange }
  | NetDenial;

/** Stable rule ids. */
export const NetRule = {
  allowed: 'net.allowed',
  invalidUrl: 'net.invalid_url',
  invalidMethod: 'net.invalid_method',
  methodNotAllowed: 'net.method_not_allowed',
  schemeNotAllowed: 'net.scheme_not_allowed',
  userinfo: 'net.userinfo',
  hostNotAllowed: 'net.host_not_allowed',
  portNotAllowed: 'net.port_not_allowed',
  hostDenied: 'net.host_denied_by_policy',
  privateAddress: 'net.private_address',
  internalHost: 'net.internal_host',
  cloudMetadata: 'net.cloud_metadata',
  invalidAddress: 'net.invalid_address',
  pathNotAllowed: 'net.path_not_allowed',
  methodNotAllowedByRule: 'net.method_not_allowed_by_rule',
  encodedPath: 'net.encoded_path',
} as const;

/** A net rule id (`net.host_not_allowed`, ...), as denials and the audit trail carry it. */
export type NetRuleId = (typeof NetRule)[keyof typeof NetRule];
/** The ids a denial can carry: every rule but `net.allowed`. */
export type NetDeniedRuleId = Exclude<NetRuleId, typeof NetRule.allowed>;

export const ALLOWED_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

const DEFAULT_PORT: Record<NetScheme, number> = { http: 80, https: 443 };
/** RFC 9110 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const CONTROL_OR_SPACE = /[\u0000-\u0020\u007f]/;
const DNS_NAME = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/;
const IPV4_CANONICAL = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const MAX_URL_LENGTH = 8192;

/** Suffixes of names that only ever mean something inside a private network. */
const INTERNAL_SUFFIXES = ['localhost', 'local', 'internal', 'intranet', 'corp', 'home', 'lan', 'private', 'localdomain', 'home.arpa'];
/** Cloud metadata host names: denied always. */
const CLOUD_METADATA_HOSTS = new Set([
  'metadata.google.internal',
  'metadata.goog',
  'metadata',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.azure.internal',
]);

// ---------------------------------------------------------------------------------------------
// host helpers

function isIpHost(host: string): boolean {
  return host.startsWith('[') || IPV4_CANONICAL.test(host);
}

/** True for host names that only resolve inside private networks (not for IP literals). */
export function isInternalHostName(host: string): boolean {
  const h = stripTrailingDot(host.toLowerCase());
  if (h === '' || isIpHost(h)) return false;
  if (!h.includes('.')) return true;
  return INTERNAL_SUFFIXES.some((s) => h === s || h.endsWith(`.${s}`));
}

/** True for the well-known cloud metadata names and addresses. */
export function isCloudMetadataHost(host: string): boolean {
  const h = stripTrailingDot(host.toLowerCase());
  if (CLOUD_METADATA_HOSTS.has(h)) return true;
  if (isIpHost(h)) return classifyAddress(h)?.range === 'cloudMetadata';
  return false;
}

function stripTrailingDot(h: string): string {
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/** Keys under which a host can be matched: itself, plus the embedded IPv4 of a v4-in-v6 literal. */
function hostKeys(host: string, ip: IpClassification | null): string[] {
  if (ip?.embedded) return [host, ip.embedded.ipv4];
  return [host];
}

/** Does an allow entry's host pattern match a canonical host? (strict-subdomain wildcards) */
export function allowEntryMatchesHost(entry: AllowEntry, host: string): boolean {
  if (entry.wildcard) return host.length > entry.host.length + 1 && host.endsWith(`.${entry.host}`);
  return host === entry.host;
}

/** Does a deny entry match a canonical host? (wide: `*.x` denies x and all subdomains) */
export function denyEntryMatchesHost(entry: AllowEntry, host: string): boolean {
  if (host === entry.host) return true;
  return entry.wildcard && host.endsWith(`.${entry.host}`);
}

/** True if every request `inner` allows is also allowed by `outer` (for the operator's allowedDomains). */
export function allowEntryCovers(outer: AllowEntry, inner: AllowEntry): boolean {
  if (outer.scheme !== inner.scheme || outer.port !== inner.port) return false;
  if (!outer.wildcard) return !inner.wildcard && inner.host === outer.host;
  if (inner.wildcard) return inner.host === outer.host || inner.host.endsWith(`.${outer.host}`);
  return inner.host.endsWith(`.${outer.host}`);
}

/** True if some host `entry` allows is denied by `deny`. */
export function denyEntryOverlaps(deny: AllowEntry, entry: AllowEntry): boolean {
  if (!entry.wildcard) {
    return hostKeys(entry.host, entry.ip).some((k) => denyEntryMatchesHost(deny, k)) ||
      (deny.ip !== null && entry.ip !== null && sameAddress(deny.ip, entry.ip));
  }
  if (deny.wildcard) {
    return entry.host === deny.host || entry.host.endsWith(`.${deny.host}`) || deny.host.endsWith(`.${entry.host}`);
  }
  return deny.host.endsWith(`.${entry.host}`);
}

function sameAddress(a: IpClassification, b: IpClassification): boolean {
  const ka = [a.address, a.embedded?.ipv4].filter(Boolean);
  const kb = [b.address, b.embedded?.ipv4].filter(Boolean);
  return ka.some((k) => kb.includes(k));
}

/** True when an entry can only ever reach a private-network destination. */
export function entryIsPrivateOnly(entry: AllowEntry): boolean {
  if (entry.ip) return !entry.ip.public;
  return !entry.wildcard ? isInternalHostName(entry.host) : isInternalHostName(`x.${entry.host}`);
}

// ---------------------------------------------------------------------------------------------
// entries

const fail = (error: string): { ok: false; error: string } => ({ ok: false, error });

/**
 * Parse one allow_domains (or deniedDomains) entry. Errors are sentences that name the entry.
 * `deny: true` (for the operator's deny list) also accepts single-label wildcards like `*.internal`,
 * which are too broad to allow but exactly what a deny list wants.
 */
export function parseAllowEntry(entry: string, opts: { deny?: boolean } = {}): ParseResult<AllowEntry> {
  if (typeof entry !== 'string') return fail(`entry ${JSON.stringify(entry)} is not a string`);
  const q = JSON.stringify(entry);
  if (entry.length === 0) return fail('entry "" is empty');
  if (entry.length > 300) return fail(`entry ${q.slice(0, 40)}..." is too long`);
  if (CONTROL_OR_SPACE.test(entry)) return fail(`entry ${q} contains whitespace or control characters`);

  let rest = entry;
  let scheme: NetScheme = 'https';
  let explicitScheme = false;
  const sm = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(rest);
  if (sm) {
    const s = sm[1]!.toLowerCase();
    if (s !== 'http' && s !== 'https') {
      return fail(`entry ${q} uses scheme "${s}:", only http:// and https:// are allowed`);
    }
    scheme = s;
    explicitScheme = true;
    rest = rest.slice(sm[0].length);
  } else {
    const lone = /^([A-Za-z][A-Za-z0-9+.-]*):(?![0-9])/.exec(rest);
    if (lone && !rest.startsWith('[')) {
      return fail(`entry ${q} looks like a "${lone[1]!.toLowerCase()}:" URL; only a host or http(s)://host[:port] is allowed`);
    }
  }

  if (rest.endsWith('/')) rest = rest.slice(0, -1);
  if (rest.includes('@')) return fail(`entry ${q} contains userinfo ("user@"); an entry names a host only`);
  if (/[/\\?#]/.test(rest)) return fail(`entry ${q} has a path, query or fragment; an entry names a host (and port) only`);

  let hostPart: string;
  let portPart: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) return fail(`entry ${q} has an unterminated IPv6 literal`);
    hostPart = rest.slice(0, close + 1);
    const after = rest.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) return fail(`entry ${q} has unexpected text after the IPv6 literal`);
      portPart = after.slice(1);
    }
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon >= 0) {
      hostPart = rest.slice(0, colon);
      portPart = rest.slice(colon + 1);
      if (hostPart.includes(':')) return fail(`entry ${q}: an IPv6 address must be written in brackets, e.g. "[2001:db8::1]"`);
    } else {
      hostPart = rest;
    }
  }

  let port = DEFAULT_PORT[scheme];
  let explicitPort = false;
  if (portPart !== undefined) {
    if (!explicitScheme) {
      return fail(`entry ${q} has a port but no scheme; write "https://${hostPart}:${portPart}" (or http://)`);
    }
    if (!/^\d{1,5}$/.test(portPart)) return fail(`entry ${q} has an invalid port "${portPart}"`);
    port = Number(portPart);
    if (port < 1 || port > 65535) return fail(`entry ${q} has port ${port} outside 1..65535`);
    explicitPort = true;
  }

  let wildcard = false;
  if (hostPart === '*') return fail(`entry ${q} would allow every host; list the hosts a skill needs`);
  if (hostPart.startsWith('*.')) {
    wildcard = true;
    hostPart = hostPart.slice(2);
  }
  if (hostPart.includes('*')) return fail(`entry ${q}: "*" is only allowed as the whole first label, as in "*.example.com"`);
  if (hostPart === '') return fail(`entry ${q} has an empty host`);
  if (hostPart.endsWith('.') && !hostPart.endsWith('..')) hostPart = hostPart.slice(0, -1);
  if (hostPart === '' || hostPart.startsWith('.') || hostPart.endsWith('.') || hostPart.includes('..')) {
    return fail(`entry ${q} has an empty label`);
  }

  let host: string;
  try {
    const u = new URL(`${scheme}://${hostPart}/`);
    if (u.username !== '' || u.password !== '' || u.port !== '' || u.pathname !== '/' || u.search !== '' || u.hash !== '') {
      return fail(`entry ${q} is not a plain host`);
    }
    host = u.hostname;
  } catch {
    return fail(`entry ${q} is not a valid host name`);
  }
  host = stripTrailingDot(host);
  const hostProblem = checkHostSyntax(host);
  if (hostProblem) return fail(`entry ${q}: ${hostProblem}`);

  const ip = isIpHost(host) ? classifyAddress(host) : null;
  if (wildcard && ip) return fail(`entry ${q}: a wildcard cannot be applied to an IP address`);
  if (wildcard && !host.includes('.') && opts.deny !== true) {
    return fail(`entry ${q} is too broad: a wildcard needs at least two labels after "*." (e.g. "*.example.com")`);
  }
  return { ok: true, value: { source: entry, scheme, host, wildcard, port, explicitScheme, explicitPort, ip } };
}

/** null if `host` (canonical, no trailing dot) is an IP literal or a well-formed DNS name. */
function checkHostSyntax(host: string): string | null {
  if (host === '') return 'the host is empty';
  if (isIpHost(host)) return classifyAddress(host) ? null : `"${host}" is not a valid IP address`;
  if (!DNS_NAME.test(host)) {
    return host.split('.').some((l) => l === '')
      ? `host "${host}" has an empty label`
      : `host "${host}" contains characters not allowed in a DNS name`;
  }
  if (host.length > 253) return `host "${host.slice(0, 30)}..." is longer than 253 characters`;
  if (host.split('.').some((l) => l.length > 63)) return `host "${host}" has a label longer than 63 characters`;
  return null;
}

/** Parse one `net.allow` rule (`allow[i]`); the methods are the ones this guard supports. */
export function parseNetAllowRule(raw: { url?: unknown; methods?: unknown }, i: number): ParseResult<NetAllowRule> {
  return parseAllowRule(raw, `allow[${i}]`, { supportedMethods: ALLOWED_METHODS, parseOrigin: (e) => parseAllowEntry(e) });
}

/**
 * Compile a manifest's allow_domains (and allow rules) and the operator's settings into a policy.
 * Throws an Error naming the first invalid entry.
 */
export function compileNetPolicy(
  allowDomains: string[],
  host: { allowPrivateNetworks?: boolean | undefined; deniedDomains?: string[] | undefined } = {},
  allowRules: { url: string; methods?: string[] | undefined }[] = [],
): NetPolicy {
  const compile = (list: string[], key: string): AllowEntry[] =>
    list.map((e, i) => {
      const r = parseAllowEntry(e, { deny: key === 'deniedDomains' });
      if (!r.ok) throw new Error(`${key}[${i}]: ${r.error}`);
      return r.value;
    });
  return {
    allow: compile(allowDomains, 'allow_domains'),
    allowPrivateNetworks: host.allowPrivateNetworks === true,
    deniedHosts: compile(host.deniedDomains ?? [], 'deniedDomains'),
    rules: allowRules.map((raw, i) => {
      const r = parseNetAllowRule(raw, i);
      if (!r.ok) throw new Error(`allow[${i}]: ${r.error}`);
      return r.value;
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// decisions

const deny = (rule: NetDeniedRuleId, reason: string): NetDenial => ({ allow: false, kind: 'denied', rule, reason });
const invalid = (rule: NetDeniedRuleId, reason: string): NetDenial => ({ allow: false, kind: 'invalid', rule, reason });

function describeEntries(entries: AllowEntry[], rules: readonly NetAllowRule[] = []): string {
  const list = (xs: string[]) => `${xs.slice(0, 5).join(', ')}${xs.length > 5 ? `, and ${xs.length - 5} more` : ''}`;
  const domains = entries.length === 0 ? 'allow_domains is empty' : `allow_domains: ${list(entries.map((e) => JSON.stringify(e.source)))}`;
  return rules.length === 0 ? domains : `${domains}; allow rules: ${list(rules.map(describeRule))}`;
}

/** Decide whether `method rawUrl` may be fetched. Pure; see the module comment for the rules. */
export function decideUrl(policy: NetPolicy, method: string, rawUrl: string): NetDecision {
  if (typeof method !== 'string' || !TOKEN.test(method)) {
    return invalid(NetRule.invalidMethod, `method ${JSON.stringify(String(method)).slice(0, 40)} is not a valid HTTP method token`);
  }
  const m = method.toUpperCase();
  if (!ALLOWED_METHODS.has(m)) {
    return invalid(NetRule.methodNotAllowed, `method "${method}" is not supported (use one of ${[...ALLOWED_METHODS].join(', ')})`);
  }
  if (typeof rawUrl !== 'string' || rawUrl.length === 0) return invalid(NetRule.invalidUrl, 'the URL is empty');
  if (rawUrl.length > MAX_URL_LENGTH) return invalid(NetRule.invalidUrl, `the URL is longer than ${MAX_URL_LENGTH} characters`);
  const shown = JSON.stringify(rawUrl.length > 200 ? `${rawUrl.slice(0, 200)}...` : rawUrl);
  if (CONTROL_OR_SPACE.test(rawUrl)) return invalid(NetRule.invalidUrl, `URL ${shown} contains whitespace or control characters`);

  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return invalid(NetRule.invalidUrl, `${shown} is not a valid absolute URL`);
  }
  const scheme = url.protocol.slice(0, -1);
  if (scheme !== 'http' && scheme !== 'https') {
    return deny(NetRule.schemeNotAllowed, `scheme "${scheme}:" is not allowed (only https, and http where an allow_domains entry says http://)`);
  }
  if (url.username !== '' || url.password !== '') {
    return deny(NetRule.userinfo, `URL ${shown} contains credentials (user@host); send them in a header instead`);
  }

  const host = stripTrailingDot(url.hostname);
  const hostProblem = checkHostSyntax(host);
  if (hostProblem) return invalid(NetRule.invalidUrl, `URL ${shown}: ${hostProblem}`);
  const ip = isIpHost(host) ? classifyAddress(host) : null;
  const port = url.port === '' ? DEFAULT_PORT[scheme] : Number(url.port);

  const keys = hostKeys(host, ip);
  const denied = policy.deniedHosts.find((d) => keys.some((k) => denyEntryMatchesHost(d, k)));
  if (denied) {
    return deny(NetRule.hostDenied, `host "${host}" is denied by the host policy (deniedDomains ${JSON.stringify(denied.source)})`);
  }

  const rules = policy.rules ?? [];
  const byHost = policy.allow.filter((e) => allowEntryMatchesHost(e, host));
  const domainMatch = byHost.find((e) => e.scheme === scheme && e.port === port);
  let entry = domainMatch?.source;
  if (entry === undefined && rules.length > 0) {
    // No allow_domains entry: an allow rule may still let it through (and a near miss is named).
    const r = matchAllowRules(rules, m, url, host, port);
    if (r.match) entry = `${r.rule.label} ${JSON.stringify(r.rule.source)}`;
    else if (r.why === 'path') {
      return deny(NetRule.pathNotAllowed, `${m} ${shown}: the path is not allowed by the allow rules for this origin (${r.rules.map(describeRule).join(', ')})`);
    } else if (r.why === 'method') {
      return deny(NetRule.methodNotAllowedByRule, `${m} ${shown}: method ${m} is not allowed by the matching allow rules (${r.rules.map(describeRule).join(', ')})`);
    } else if (r.why === 'encoded_path') {
      return deny(NetRule.encodedPath, `${m} ${shown}: an encoded "/", "\\" or "." in the path is refused where a path rule decides (${describeRule(r.rules[0]!)})`);
    }
  }
  if (entry === undefined && byHost.length === 0) {
    return deny(NetRule.hostNotAllowed, `host "${host}" is not in allow_domains (${describeEntries(policy.allow, rules)})`);
  }
  if (entry === undefined) {
    // Neither way matched: say which part of the nearest allow_domains entries did not fit.
    const byScheme = byHost.filter((e) => e.scheme === scheme);
    if (byScheme.length === 0) {
      const hint = scheme === 'http' ? ` (an entry without a scheme means https; write "http://${host}" to allow plain http)` : '';
      return deny(
        NetRule.schemeNotAllowed,
        `${scheme}:// is not allowed for host "${host}": matching entries ${byHost.map((e) => JSON.stringify(e.source)).join(', ')} allow ${[...new Set(byHost.map((e) => e.scheme))].join(', ')} only${hint}`,
      );
    }
    return deny(
      NetRule.portNotAllowed,
      `port ${port} is not allowed for ${scheme}://${host}: matching entries ${byScheme.map((e) => `${JSON.stringify(e.source)} (port ${e.port})`).join(', ')}`,
    );
  }

  if (isCloudMetadataHost(host)) {
    return deny(NetRule.cloudMetadata, `host "${host}" is a cloud metadata endpoint, which skills may never reach`);
  }
  if (ip && !ip.public && !policy.allowPrivateNetworks) {
    const via = ip.embedded ? ` (embeds ${ip.embedded.ipv4} via ${ip.embedded.via})` : '';
    return deny(NetRule.privateAddress, `host ${host} is a non-public address (${ip.range})${via} and the host policy does not allow private networks`);
  }
  if (!ip && isInternalHostName(host) && !policy.allowPrivateNetworks) {
    return deny(NetRule.internalHost, `host "${host}" is an internal name and the host policy does not allow private networks`);
  }
  return { allow: true, url, rule: NetRule.allowed, method: m, entry };
}

/**
 * Decide whether the host may connect to `address`, one of the addresses DNS returned for `host`
 * (or the literal itself). Applied to every answer, before connecting, and after every redirect.
 */
export function decideAddress(policy: NetPolicy, host: string, address: string): AddressDecision {
  const c = classifyAddress(address);
  if (!c) return invalid(NetRule.invalidAddress, `"${address}" (for host "${host}") is not an IP address`);
  const denied = policy.deniedHosts.find((d) => d.ip !== null && sameAddress(d.ip, c));
  if (denied) {
    return deny(NetRule.hostDenied, `host "${host}" resolved to ${c.address}, which the host policy denies (deniedDomains ${JSON.stringify(denied.source)})`);
  }
  if (c.range === 'cloudMetadata') {
    return deny(NetRule.cloudMetadata, `host "${host}" resolved to ${c.address}, a cloud metadata endpoint, which skills may never reach`);
  }
  if (!c.public && !policy.allowPrivateNetworks) {
    const via = c.embedded ? `, embedding ${c.embedded.ipv4} via ${c.embedded.via}` : '';
    return deny(
      NetRule.privateAddress,
      `host "${host}" resolved to ${c.address} (${c.range}${via}), a non-public address, and the host policy does not allow private networks`,
    );
  }
  return { allow: true, rule: NetRule.allowed, address: c.address, range: c.range };
}
