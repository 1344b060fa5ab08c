/**
 * IP address classification for the net guard (pure, no I/O).
 *
 * The rule is an allowlist, not a blocklist: an address is *public* only if it is ordinary global
 * unicast. Everything else (loopback, RFC 1918, link-local, CGNAT, ULA, multicast, documentation,
 * benchmarking, IETF-reserved, the deprecated IPv4-compatible `::a.b.c.d` block, ...) is not.
 *
 * Addresses that embed an IPv4 address are judged by the embedded address:
 *   - IPv4-mapped `::ffff:a.b.c.d` and IPv4-translated `::ffff:0:a.b.c.d` (the kernel connects to the v4)
 *   - NAT64 `64:ff9b::/96` (RFC 6052); the local-use prefix `64:ff9b:1::/48` is never public
 *   - 6to4 `2002:AABB:CCDD::/48` (RFC 3056)
 *   - Teredo `2001:0::/32` (RFC 4380): both the server and the (bit-inverted) client address
 * so `[::ffff:7f00:1]`, `[64:ff9b::a9fe:a9fe]` and `[2002:7f00:1::]` are loopback / metadata / loopback.
 *
 * Cloud instance-metadata endpoints get their own range name (`cloudMetadata`) because they are
 * never a legitimate skill target, even where private networks are allowed.
 */
import ipaddr from 'ipaddr.js';

export type IpRange =
  | 'public'
  | 'unspecified'
  | 'broadcast'
  | 'multicast'
  | 'loopback'
  | 'private'
  | 'linkLocal'
  | 'carrierGradeNat'
  | 'uniqueLocal'
  | 'siteLocal'
  | 'cloudMetadata'
  | 'reserved'
  | 'documentation'
  | 'benchmarking'
  | 'ipv4Compatible'
  | 'nat64Local'
  | 'discard'
  | 'orchid'
  | 'nonGlobal';

export interface IpClassification {
  /** Canonical text: dotted quad for IPv4, RFC 5952 for IPv6 (no brackets, no zone). */
  address: string;
  family: 4 | 6;
  /** The range that decided the verdict (for embedded v4, the embedded address's range). */
  range: IpRange;
  public: boolean;
  /** Set when the verdict came from an IPv4 address embedded in an IPv6 one. */
  embedded?: { via: 'ipv4Mapped' | 'ipv4Translated' | 'nat64' | '6to4' | 'teredo'; ipv4: string } | undefined;
}

/** Known cloud instance-metadata / host-agent addresses. */
const CLOUD_METADATA_V4 = new Set([
  '169.254.169.254', // AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle (v2), ...
  '169.254.170.2', //   AWS ECS task metadata / credentials
  '169.254.169.253', // AWS DNS resolver (Route 53 Resolver)
  '169.254.169.123', // AWS time sync
  '168.63.129.16', //   Azure WireServer (a routable-looking address that is host-internal)
  '100.100.100.200', // Alibaba Cloud metadata
  '192.0.0.192', //     Oracle Cloud legacy metadata
]);
const CLOUD_METADATA_V6 = new Set([
  'fd00:ec2::254', // AWS IMDS over IPv6
  'fd00:ec2::23', //  AWS Route 53 Resolver over IPv6
  'fd20:ce::254', //  GCP metadata over IPv6
]);

const V4_RANGE_NAMES: Record<string, IpRange> = {
  unicast: 'public',
  as112: 'public', // anycast DNS sinks, globally routed
  amt: 'public', // RFC 7450 relays, globally routed anycast
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'linkLocal',
  loopback: 'loopback',
  carrierGradeNat: 'carrierGradeNat',
  private: 'private',
  reserved: 'reserved',
};

/** Extra IPv4 ranges ipaddr.js folds into 'reserved' or omits; checked first for better names. */
const V4_EXTRA: Array<[string, number, IpRange]> = [
  ['192.0.2.0', 24, 'documentation'], // TEST-NET-1
  ['198.51.100.0', 24, 'documentation'], // TEST-NET-2
  ['203.0.113.0', 24, 'documentation'], // TEST-NET-3
  ['198.18.0.0', 15, 'benchmarking'],
  ['192.0.0.0', 24, 'reserved'], // IETF protocol assignments
];
const V4_EXTRA_PARSED = V4_EXTRA.map(([a, bits, name]) => [ipaddr.IPv4.parse(a), bits, name] as const);

function classifyV4(ip: ipaddr.IPv4): { range: IpRange; public: boolean } {
  const text = ip.toString();
  if (CLOUD_METADATA_V4.has(text)) return { range: 'cloudMetadata', public: false };
  for (const [net, bits, name] of V4_EXTRA_PARSED) {
    if (ip.match(net, bits)) return { range: name, public: false };
  }
  const range = V4_RANGE_NAMES[ip.range()] ?? 'reserved';
  return { range, public: range === 'public' };
}

function v4FromWords(hi: number, lo: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([(hi >> 8) & 0xff, hi & 0xff, (lo >> 8) & 0xff, lo & 0xff]);
}

const GLOBAL_UNICAST = ipaddr.IPv6.parse('2000::');
const NAT64_WKP = ipaddr.IPv6.parse('64:ff9b::');
const NAT64_LOCAL = ipaddr.IPv6.parse('64:ff9b:1::');
const V4_TRANSLATED = ipaddr.IPv6.parse('::ffff:0:0:0');
const V4_COMPATIBLE = ipaddr.IPv6.parse('::');

/** IPv6 special ranges that are inside 2000::/3 but not public. */
const V6_NON_GLOBAL_IN_2000: Array<[string, number, IpRange]> = [
  ['2001:2::', 48, 'benchmarking'],
  ['2001:10::', 28, 'orchid'],
  ['2001:20::', 28, 'orchid'],
  ['2001:30::', 28, 'nonGlobal'], // DRIP entity tags
  ['2001:db8::', 32, 'documentation'],
  ['3fff::', 20, 'documentation'],
  ['2001::', 23, 'reserved'], // IETF protocol assignments (Teredo 2001::/32 is handled before this)
];
const V6_NON_GLOBAL_PARSED = V6_NON_GLOBAL_IN_2000.map(([a, bits, name]) => [ipaddr.IPv6.parse(a), bits, name] as const);

function classifyV6(ip: ipaddr.IPv6): Omit<IpClassification, 'address' | 'family'> {
  const text = ip.toRFC5952String();
  const p = ip.parts as [number, number, number, number, number, number, number, number];

  const embed = (via: NonNullable<IpClassification['embedded']>['via'], v4: ipaddr.IPv4) => {
    const c = classifyV4(v4);
    return { range: c.range, public: c.public, embedded: { via, ipv4: v4.toString() } };
  };

  if (CLOUD_METADATA_V6.has(text)) return { range: 'cloudMetadata', public: false };
  if (ip.isIPv4MappedAddress()) return embed('ipv4Mapped', ip.toIPv4Address());
  if (ip.match(V4_TRANSLATED, 96)) return embed('ipv4Translated', v4FromWords(p[6], p[7]));
  if (ip.match(NAT64_WKP, 96)) return embed('nat64', v4FromWords(p[6], p[7]));
  if (ip.match(NAT64_LOCAL, 48)) return { range: 'nat64Local', public: false };

  switch (ip.range()) {
    case 'unspecified':
      return { range: 'unspecified', public: false };
    case 'loopback':
      return { range: 'loopback', public: false };
    case 'linkLocal':
      return { range: 'linkLocal', public: false };
    case 'multicast':
      return { range: 'multicast', public: false };
    case 'uniqueLocal':
      return { range: 'uniqueLocal', public: false };
    default:
      break;
  }
  // ::/96 other than :: and ::1 is the deprecated IPv4-compatible block; some stacks still route it.
  if (ip.match(V4_COMPATIBLE, 96)) return { range: 'ipv4Compatible', public: false };

  if (!ip.match(GLOBAL_UNICAST, 3)) {
    // Outside 2000::/3: site-local fec0::/10, discard 100::/64, segment routing 5f00::/16, unassigned.
    if (ip.match(ipaddr.IPv6.parse('fec0::'), 10)) return { range: 'siteLocal', public: false };
    if (ip.match(ipaddr.IPv6.parse('100::'), 64)) return { range: 'discard', public: false };
    return { range: 'reserved', public: false };
  }

  if (ip.match(ipaddr.IPv6.parse('2002::'), 16)) {
    const r = embed('6to4', v4FromWords(p[1], p[2]));
    return r.public ? { range: 'public', public: true, embedded: r.embedded } : r;
  }
  if (ip.match(ipaddr.IPv6.parse('2001::'), 32)) {
    // Teredo: server v4 in bits 32..63, client v4 bit-inverted in the last 32 bits.
    const server = embed('teredo', v4FromWords(p[2], p[3]));
    if (!server.public) return server;
    const client = embed('teredo', v4FromWords(~p[6] & 0xffff, ~p[7] & 0xffff));
    return client.public ? { range: 'public', public: true, embedded: client.embedded } : client;
  }
  for (const [net, bits, name] of V6_NON_GLOBAL_PARSED) {
    if (ip.match(net, bits)) return { range: name, public: false };
  }
  return { range: 'public', public: true };
}

const FOUR_PART_DECIMAL = /^(?:0|[1-9]\d{0,2})(?:\.(?:0|[1-9]\d{0,2})){3}$/;

/**
 * Classify an address given in canonical-ish form: a dotted quad, an IPv6 address (brackets and a
 * `%zone` suffix tolerated), or any host spelling the WHATWG URL parser turns into an IP
 * (`0x7f.1`, `2130706433`, `127.1`, fullwidth digits...). Returns null for anything that is not an
 * IP address (a host name, garbage).
 */
export function classifyAddress(addr: string): IpClassification | null {
  let text = addr.trim();
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  if (text.includes(':')) {
    if (!ipaddr.IPv6.isValid(text)) return null;
    const ip = ipaddr.IPv6.parse(text);
    const bare = new ipaddr.IPv6(ip.parts);
    return { address: bare.toRFC5952String(), family: 6, ...classifyV6(bare) };
  }
  if (FOUR_PART_DECIMAL.test(text) && ipaddr.IPv4.isValidFourPartDecimal(text)) {
    const ip = ipaddr.IPv4.parse(text);
    return { address: ip.toString(), family: 4, ...classifyV4(ip) };
  }
  const canonical = parseIpLiteralHost(text);
  if (canonical === null || canonical === text) return null;
  return classifyAddress(canonical);
}

/** True only for ordinary global unicast addresses. Non-IP input is not public (fail closed). */
export function isPublicAddress(addr: string): boolean {
  return classifyAddress(addr)?.public === true;
}

/** The range name of an address, or null if it is not an IP address. */
export function addressRange(addr: string): IpRange | null {
  return classifyAddress(addr)?.range ?? null;
}

/**
 * If `host` (as it would appear in a URL authority) is an IP literal in any spelling the WHATWG URL
 * parser accepts, return its canonical form (dotted quad, or IPv6 without brackets); otherwise null.
 *
 * Relies on `new URL()` rather than re-implementing its IPv4 number parser, so the guard and the
 * HTTP client can never disagree about what `0x7f.1` or `017700000001` means.
 */
export function parseIpLiteralHost(host: string): string | null {
  if (host.length === 0 || /[/\\?#@\s]/.test(host)) return null;
  if (!host.startsWith('[') && host.includes(':')) {
    // An unbracketed IPv6 address (as DNS answers and socket APIs spell them).
    if (!ipaddr.IPv6.isValid(host)) return null;
    return new ipaddr.IPv6(ipaddr.IPv6.parse(host).parts).toRFC5952String();
  }
  let url: URL;
  try {
    url = new URL(`http://${host}/`);
  } catch {
    return null;
  }
  if (url.username !== '' || url.password !== '' || url.port !== '' || url.pathname !== '/') return null;
  const h = url.hostname;
  if (h.startsWith('[') && h.endsWith(']')) return new ipaddr.IPv6(ipaddr.IPv6.parse(h.slice(1, -1)).parts).toRFC5952String();
  if (FOUR_PART_DECIMAL.test(h) && ipaddr.IPv4.isValidFourPartDecimal(h)) return h;
  return null;
}
