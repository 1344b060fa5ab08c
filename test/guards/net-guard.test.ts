/**
 * The net guard, table-driven. Cases drawn from SSRF cheat sheets (IPv4 spellings, IPv6
 * loopback/mapped/compat, metadata endpoints, userinfo/fragment/backslash confusion, IDN
 * homographs, trailing dots, ports, foreign schemes), each one line: input, expected, why.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  allowEntryCovers,
  compileNetPolicy,
  decideAddress,
  decideUrl,
  denyEntryOverlaps,
  parseAllowEntry,
  type AllowEntry,
  type NetPolicy,
} from '../../src/guards/net-guard.js';

const ALLOW = [
  'api.github.com',
  '*.example.com',
  'http://legacy.example.org',
  'https://api.x.com:8443',
  'bücher.de',
  '8.8.8.8',
  '127.0.0.1',
  'http://[::1]:8080',
  'localhost',
  'metadata.google.internal',
  '169.254.169.254',
  'svc.corp',
];
const DENY = ['*.blocked.example.com', '1.1.1.1'];

const policy = compileNetPolicy(ALLOW, { deniedDomains: DENY });
const privatePolicy = compileNetPolicy(ALLOW, { deniedDomains: DENY, allowPrivateNetworks: true });

type Expect = 'allow' | string;

// [url, expected rule ('allow' or a rule id), why]
const URL_CASES: Array<[string, Expect, string]> = [
  // --- plain matches
  ['https://api.github.com/', 'allow', 'exact host entry'],
  ['https://api.github.com/repos/x?y=1#z', 'allow', 'path, query, fragment are irrelevant'],
  ['HTTPS://API.GITHUB.COM/', 'allow', 'scheme and host are case-insensitive'],
  ['https://api.github.com./', 'allow', 'a trailing dot names the same FQDN'],
  ['https://api.github.com:443/', 'allow', 'explicit default port'],
  ['https://api.github.com:0443/', 'allow', 'leading zeros: the parser makes it 443'],
  ['https://%61pi.github.com/', 'allow', 'percent-encoded host is decoded; the same host is fetched'],
  ['https://api。github。com/', 'allow', 'ideographic full stops map to "."'],
  ['https://ａｐｉ.github.com/', 'allow', 'fullwidth letters NFKC-map to ASCII'],
  ['https://ap\u00adi.github.com/', 'allow', 'IDNA deletes the soft hyphen: same host'],
  ['https://api.git\u200bhub.com/', 'allow', 'IDNA deletes the zero-width space: same host'],
  ['https://api.github.com\\@evil.com/', 'allow', 'backslash is "/" in special URLs: host is api.github.com'],
  ['https:/\\api.github.com/', 'allow', 'WHATWG tolerates /\\ after the scheme: same host'],
  ['https:api.github.com/', 'allow', 'WHATWG tolerates missing slashes for special schemes'],
  ['https://@api.github.com/', 'allow', 'empty userinfo is dropped by the parser'],
  ['https://api.github.com?@evil.com', 'allow', '"@" in the query: host is api.github.com'],
  // --- wildcard
  ['https://a.example.com/', 'allow', 'wildcard, one level'],
  ['https://a.b.example.com/', 'allow', 'wildcard, any depth'],
  ['https://exa_mple.example.com/', 'allow', 'underscore is tolerated in DNS labels'],
  ['https://example.com/', 'net.host_not_allowed', 'wildcard does not include the apex'],
  ['https://notexample.com/', 'net.host_not_allowed', 'suffix match needs a dot boundary'],
  ['https://a.example.com.evil.com/', 'net.host_not_allowed', 'allowed name as a prefix of another domain'],
  ['https://example.com.evil.com/', 'net.host_not_allowed', 'apex as a prefix of another domain'],
  ['https://evilexample.com/', 'net.host_not_allowed', 'no dot before the suffix'],
  // --- exact hosts only
  ['https://api.github.com.evil.com/', 'net.host_not_allowed', 'allowed host as a prefix'],
  ['https://evilapi.github.com/', 'net.host_not_allowed', 'sibling of the exact host'],
  ['https://github.com/', 'net.host_not_allowed', 'parent of the exact host'],
  ['https://x.api.github.com/', 'net.host_not_allowed', 'an exact entry has no subdomains'],
  ['https://evil.com/', 'net.host_not_allowed', 'not listed'],
  // --- userinfo / delimiter confusion
  ['https://api.github.com@evil.com/', 'net.userinfo', 'host is evil.com; credentials in URL refused'],
  ['https://u:p@api.github.com/', 'net.userinfo', 'credentials in URL refused even for an allowed host'],
  ['https://api.github.com%2f@evil.com/', 'net.userinfo', 'encoded slash stays in userinfo; host is evil.com'],
  ['https://a.example.com:443@evil.com/', 'net.userinfo', '"host:port" before "@" is userinfo'],
  ['https://evil.com#@api.github.com/', 'net.host_not_allowed', 'fragment: host is evil.com'],
  ['https://evil.com?@api.github.com/', 'net.host_not_allowed', 'query: host is evil.com'],
  ['https://evil.com\\api.github.com', 'net.host_not_allowed', 'backslash ends the host: evil.com'],
  ['https://evil.com\\@api.github.com', 'net.host_not_allowed', 'backslash ends the host: evil.com'],
  // --- schemes
  ['http://api.github.com/', 'net.scheme_not_allowed', 'an entry without scheme means https only'],
  ['http://a.example.com/', 'net.scheme_not_allowed', 'wildcard entries are https only too'],
  ['ftp://api.github.com/', 'net.scheme_not_allowed', 'ftp never'],
  ['file:///etc/passwd', 'net.scheme_not_allowed', 'file never'],
  ['file://api.github.com/etc/passwd', 'net.scheme_not_allowed', 'file with a host, never'],
  ['gopher://127.0.0.1:70/_SLAVEOF', 'net.scheme_not_allowed', 'gopher smuggling'],
  ['dict://127.0.0.1:11211/stat', 'net.scheme_not_allowed', 'dict protocol'],
  ['ldap://api.github.com/', 'net.scheme_not_allowed', 'ldap'],
  ['data:text/html,<script>1</script>', 'net.scheme_not_allowed', 'data URL'],
  ['javascript:alert(1)', 'net.scheme_not_allowed', 'javascript URL'],
  ['ws://api.github.com/', 'net.scheme_not_allowed', 'websocket'],
  ['wss://api.github.com/', 'net.scheme_not_allowed', 'secure websocket'],
  ['jar:https://api.github.com!/x', 'net.scheme_not_allowed', 'jar wrapper'],
  ['http://legacy.example.org/', 'allow', 'http entry'],
  ['http://legacy.example.org:80/', 'allow', 'http entry, explicit default port'],
  ['https://legacy.example.org/', 'net.scheme_not_allowed', 'an http entry does not imply https'],
  ['http://legacy.example.org:8080/', 'net.port_not_allowed', 'http entry allows port 80 only'],
  // --- ports
  ['https://api.github.com:8443/', 'net.port_not_allowed', 'no port in entry = 443 only'],
  ['https://api.github.com:80/', 'net.port_not_allowed', 'https to port 80 is still not 443'],
  ['https://api.github.com:22/', 'net.port_not_allowed', 'port scanning'],
  ['https://api.x.com:8443/', 'allow', 'entry names 8443'],
  ['https://api.x.com/', 'net.port_not_allowed', 'entry names 8443 only, not 443'],
  ['https://api.x.com:443/', 'net.port_not_allowed', 'entry names 8443 only'],
  ['https://api.github.com:65536/', 'net.invalid_url', 'port out of range'],
  ['https://api.github.com:-1/', 'net.invalid_url', 'negative port'],
  ['https://api.github.com:8o/', 'net.invalid_url', 'non-numeric port'],
  // --- IDN
  ['https://bücher.de/', 'allow', 'Unicode host matches the IDN entry'],
  ['https://xn--bcher-kva.de/', 'allow', 'A-label form matches the IDN entry'],
  ['https://BÜCHER.de/', 'allow', 'Unicode case folding'],
  ['https://\u0430pi.github.com/', 'net.host_not_allowed', 'Cyrillic a homograph is another host'],
  ['https://api.githu\u0185.com/', 'net.host_not_allowed', 'Latin b-with-topbar homograph'],
  ['https://xn--a.com/', 'net.invalid_url', 'invalid punycode'],
  // --- IP literals (entries list 8.8.8.8, 127.0.0.1, http://[::1]:8080, 169.254.169.254)
  ['https://8.8.8.8/', 'allow', 'public IP entry'],
  ['https://0x08080808/', 'allow', 'hex spelling canonicalised to 8.8.8.8'],
  ['https://134744072/', 'allow', 'decimal spelling canonicalised to 8.8.8.8'],
  ['https://127.0.0.1/', 'net.private_address', 'listed, but private networks are off'],
  ['https://127.1/', 'net.private_address', 'short form is 127.0.0.1'],
  ['https://0x7f.1/', 'net.private_address', 'hex short form is 127.0.0.1'],
  ['https://0x7f.0x0.0x0.0x1/', 'net.private_address', 'dotted hex'],
  ['https://017700000001/', 'net.private_address', 'octal is 127.0.0.1'],
  ['https://0177.0.0.1/', 'net.private_address', 'dotted octal'],
  ['https://2130706433/', 'net.private_address', 'decimal is 127.0.0.1'],
  ['https://127.000.000.001/', 'net.private_address', 'zero-padded'],
  ['https://１２７.０.０.１/', 'net.private_address', 'fullwidth digits'],
  ['https://169.254.169.254/latest/meta-data/', 'net.cloud_metadata', 'metadata, even though listed'],
  ['https://0xa9fea9fe/', 'net.cloud_metadata', 'hex metadata address'],
  ['https://2852039166/', 'net.cloud_metadata', 'decimal metadata address'],
  ['http://[::1]:8080/', 'net.private_address', 'listed IPv6 loopback, private networks off'],
  ['http://[0:0:0:0:0:0:0:1]:8080/', 'net.private_address', 'long-form IPv6 loopback'],
  ['https://[::ffff:127.0.0.1]/', 'net.host_not_allowed', 'v4-mapped is a different literal; not listed'],
  ['https://[::ffff:a9fe:a9fe]/', 'net.host_not_allowed', 'v4-mapped metadata; not listed'],
  ['https://[::127.0.0.1]/', 'net.host_not_allowed', 'v4-compatible; not listed'],
  ['https://10.0.0.1/', 'net.host_not_allowed', 'RFC 1918; not listed'],
  ['https://0.0.0.0/', 'net.host_not_allowed', 'unspecified; not listed'],
  ['https://0/', 'net.host_not_allowed', '"0" is 0.0.0.0'],
  ['https://[::]/', 'net.host_not_allowed', 'IPv6 unspecified'],
  ['https://[fe80::1%25eth0]/', 'net.invalid_url', 'zone ids are not URLs'],
  ['https://1.2.3.256/', 'net.invalid_url', 'IPv4 octet overflow'],
  ['https://example.0x10/', 'net.invalid_url', 'numeric last label must be an IPv4'],
  // --- internal names
  ['https://localhost/', 'net.internal_host', 'listed, but internal names need private networks'],
  ['https://LOCALHOST./', 'net.internal_host', 'case and trailing dot do not help'],
  ['https://svc.corp/', 'net.internal_host', '.corp is a private-use suffix'],
  ['https://foo.localhost/', 'net.host_not_allowed', 'not listed'],
  ['https://metadata.google.internal/', 'net.cloud_metadata', 'metadata name, even though listed'],
  ['https://127.0.0.1.nip.io/', 'net.host_not_allowed', 'DNS-to-private trick: not listed (decideAddress catches it otherwise)'],
  // --- operator deny list
  ['https://x.blocked.example.com/', 'net.host_denied_by_policy', 'deny beats the wildcard allow'],
  ['https://blocked.example.com/', 'net.host_denied_by_policy', 'deny wildcards include the apex'],
  ['https://1.1.1.1/', 'net.host_denied_by_policy', 'denied IP'],
  ['https://[::ffff:101:101]/', 'net.host_denied_by_policy', 'v4-mapped spelling of a denied IP'],
  // --- malformed
  ['', 'net.invalid_url', 'empty'],
  [' https://api.github.com/', 'net.invalid_url', 'leading space (WHATWG would strip it)'],
  ['https://api.git\thub.com/', 'net.invalid_url', 'tab inside the host (WHATWG would delete it)'],
  ['https://api.github.com/\n', 'net.invalid_url', 'newline'],
  ['https://api.github.com/\u0000', 'net.invalid_url', 'NUL'],
  ['/relative/path', 'net.invalid_url', 'relative URL'],
  ['api.github.com', 'net.invalid_url', 'no scheme'],
  ['//api.github.com/', 'net.invalid_url', 'scheme-relative'],
  ['https://', 'net.invalid_url', 'no host'],
  ['https://a..example.com/', 'net.invalid_url', 'empty label'],
  ['https://..example.com/', 'net.invalid_url', 'leading empty labels'],
  ['https://api.github.com../', 'net.invalid_url', 'two trailing dots'],
  ['https://*.example.com/', 'net.invalid_url', '"*" is not a host character'],
  ['https://a!b.example.com/', 'net.invalid_url', 'WHATWG allows "!" but DNS does not'],
  ['https://%2e/', 'net.invalid_url', 'host is "."'],
  ['https://api.github.com%00.evil.com/', 'net.invalid_url', 'encoded NUL'],
  [`https://${'a'.repeat(64)}.example.com/`, 'net.invalid_url', 'label longer than 63'],
  [`https://${'a.'.repeat(130)}example.com/`, 'net.invalid_url', 'name longer than 253'],
  [`https://api.github.com/${'x'.repeat(9000)}`, 'net.invalid_url', 'URL longer than 8192'],
];

const PRIVATE_CASES: Array<[string, Expect, string]> = [
  ['https://127.0.0.1/', 'allow', 'listed loopback, private networks on'],
  ['https://2130706433/', 'allow', 'same, decimal'],
  ['http://[::1]:8080/', 'allow', 'listed IPv6 loopback'],
  ['https://localhost/', 'allow', 'listed internal name'],
  ['https://svc.corp/', 'allow', 'listed private-use suffix'],
  ['https://169.254.169.254/', 'net.cloud_metadata', 'metadata stays denied'],
  ['https://metadata.google.internal/', 'net.cloud_metadata', 'metadata name stays denied'],
  ['https://10.0.0.1/', 'net.host_not_allowed', 'private networks on does not allow unlisted hosts'],
  ['https://x.blocked.example.com/', 'net.host_denied_by_policy', 'deny list still applies'],
];

const METHOD_CASES: Array<[string, Expect, string]> = [
  ['GET', 'allow', 'standard'],
  ['get', 'allow', 'case-insensitive, normalised to GET'],
  ['HEAD', 'allow', 'standard'],
  ['POST', 'allow', 'standard'],
  ['PUT', 'allow', 'standard'],
  ['PATCH', 'allow', 'standard'],
  ['DELETE', 'allow', 'standard'],
  ['OPTIONS', 'allow', 'standard'],
  ['CONNECT', 'net.method_not_allowed', 'tunnelling'],
  ['TRACE', 'net.method_not_allowed', 'cross-site tracing'],
  ['TRACK', 'net.method_not_allowed', 'IIS trace'],
  ['PROPFIND', 'net.method_not_allowed', 'WebDAV: not on the list'],
  ['', 'net.invalid_method', 'empty'],
  ['GET ', 'net.invalid_method', 'space is not a token character'],
  ['GET\r\nX-Injected: 1', 'net.invalid_method', 'header injection'],
  ['G(ET', 'net.invalid_method', 'separator'],
];

function ruleOf(d: { allow: boolean; rule: string }): string {
  return d.allow ? 'allow' : d.rule;
}

describe('decideUrl', () => {
  it('has a big table', () => {
    expect(URL_CASES.length).toBeGreaterThanOrEqual(80);
  });

  it.each(URL_CASES)('%s -> %s (%s)', (url, expected) => {
    const d = decideUrl(policy, 'GET', url);
    expect(ruleOf(d)).toBe(expected);
    if (d.allow) {
      expect(['http:', 'https:']).toContain(d.url.protocol);
      expect(d.url.username).toBe('');
    } else {
      expect(d.reason.length).toBeGreaterThan(10);
      expect(d.kind).toBe(d.rule === 'net.invalid_url' || d.rule.startsWith('net.invalid') ? 'invalid' : 'denied');
    }
  });

  it.each(PRIVATE_CASES)('with allowPrivateNetworks: %s -> %s (%s)', (url, expected) => {
    expect(ruleOf(decideUrl(privatePolicy, 'GET', url))).toBe(expected);
  });

  it.each(METHOD_CASES)('method %j -> %s (%s)', (method, expected) => {
    const d = decideUrl(policy, method, 'https://api.github.com/');
    expect(ruleOf(d)).toBe(expected);
    if (d.allow) expect(d.method).toBe(method.toUpperCase());
  });

  it('returns the parsed URL to fetch, and the entry that matched', () => {
    const d = decideUrl(policy, 'GET', 'https://api.github.com\\@evil.com/');
    expect(d.allow && d.url.href).toBe('https://api.github.com/@evil.com/');
    const e = decideUrl(policy, 'post', 'https://a.b.example.com/x');
    expect(e).toMatchObject({ allow: true, method: 'POST', entry: '*.example.com', rule: 'net.allowed' });
  });

  it('reasons name the value and the entries', () => {
    const d = decideUrl(policy, 'GET', 'https://api.x.com/');
    expect(!d.allow && d.reason).toContain('https://api.x.com:8443');
    const h = decideUrl(policy, 'GET', 'https://evil.com/');
    expect(!h.allow && h.reason).toContain('"evil.com"');
    const s = decideUrl(policy, 'GET', 'http://api.github.com/');
    expect(!s.allow && s.reason).toContain('http://api.github.com');
    const p = decideUrl(policy, 'GET', 'https://0x7f.1/');
    expect(!p.allow && p.reason).toContain('127.0.0.1');
  });

  it('an empty allow list allows nothing', () => {
    const empty = compileNetPolicy([]);
    expect(ruleOf(decideUrl(empty, 'GET', 'https://api.github.com/'))).toBe('net.host_not_allowed');
  });
});

// [address, expected, why] for host "api.github.com"
const ADDRESS_CASES: Array<[string, Expect, string]> = [
  ['140.82.112.6', 'allow', 'public IPv4'],
  ['8.8.8.8', 'allow', 'public IPv4'],
  ['172.15.255.255', 'allow', 'just below 172.16/12'],
  ['172.32.0.0', 'allow', 'just above 172.16/12'],
  ['100.63.255.255', 'allow', 'just below CGNAT'],
  ['2606:4700:4700::1111', 'allow', 'public IPv6'],
  ['64:ff9b::808:808', 'allow', 'NAT64 of a public v4'],
  ['2002:808:808::1', 'allow', '6to4 of a public v4'],
  ['127.0.0.1', 'net.private_address', 'loopback'],
  ['127.255.255.254', 'net.private_address', 'all of 127/8'],
  ['10.0.0.5', 'net.private_address', 'RFC 1918'],
  ['172.16.0.1', 'net.private_address', 'RFC 1918'],
  ['172.31.255.255', 'net.private_address', 'RFC 1918 upper edge'],
  ['192.168.1.1', 'net.private_address', 'RFC 1918'],
  ['169.254.1.1', 'net.private_address', 'link-local'],
  ['100.64.0.1', 'net.private_address', 'carrier-grade NAT'],
  ['0.0.0.0', 'net.private_address', 'unspecified reaches localhost on Linux'],
  ['0.1.2.3', 'net.private_address', '0/8'],
  ['255.255.255.255', 'net.private_address', 'broadcast'],
  ['224.0.0.1', 'net.private_address', 'multicast'],
  ['240.0.0.1', 'net.private_address', 'reserved 240/4'],
  ['192.0.2.1', 'net.private_address', 'TEST-NET-1'],
  ['198.18.0.1', 'net.private_address', 'benchmarking'],
  ['192.0.0.8', 'net.private_address', 'IETF protocol assignments'],
  ['169.254.169.254', 'net.cloud_metadata', 'AWS/GCP/Azure metadata'],
  ['169.254.170.2', 'net.cloud_metadata', 'ECS task metadata'],
  ['100.100.100.200', 'net.cloud_metadata', 'Alibaba metadata'],
  ['168.63.129.16', 'net.cloud_metadata', 'Azure WireServer'],
  ['fd00:ec2::254', 'net.cloud_metadata', 'AWS IMDS over IPv6'],
  ['::ffff:169.254.169.254', 'net.cloud_metadata', 'v4-mapped metadata'],
  ['::ffff:a9fe:a9fe', 'net.cloud_metadata', 'v4-mapped metadata, hex'],
  ['::1', 'net.private_address', 'IPv6 loopback'],
  ['0:0:0:0:0:0:0:1', 'net.private_address', 'IPv6 loopback, long form'],
  ['::', 'net.private_address', 'IPv6 unspecified'],
  ['::ffff:127.0.0.1', 'net.private_address', 'v4-mapped loopback'],
  ['::ffff:7f00:1', 'net.private_address', 'v4-mapped loopback, hex'],
  ['::ffff:0:7f00:1', 'net.private_address', 'v4-translated loopback'],
  ['::127.0.0.1', 'net.private_address', 'deprecated v4-compatible'],
  ['::7f00:1', 'net.private_address', 'deprecated v4-compatible, hex'],
  ['fe80::1', 'net.private_address', 'IPv6 link-local'],
  ['fe80::1%eth0', 'net.private_address', 'link-local with zone'],
  ['fc00::1', 'net.private_address', 'unique local'],
  ['fd12:3456::1', 'net.private_address', 'unique local'],
  ['fec0::1', 'net.private_address', 'deprecated site-local'],
  ['ff02::1', 'net.private_address', 'IPv6 multicast'],
  ['64:ff9b::7f00:1', 'net.private_address', 'NAT64 of loopback'],
  ['64:ff9b::a00:1', 'net.private_address', 'NAT64 of RFC 1918'],
  ['64:ff9b:1::1', 'net.private_address', 'local-use NAT64 prefix'],
  ['2002:7f00:1::1', 'net.private_address', '6to4 of loopback'],
  ['2002:a00:1::1', 'net.private_address', '6to4 of RFC 1918'],
  ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'net.private_address', 'Teredo, client 127.0.0.1 (inverted)'],
  ['2001:db8::1', 'net.private_address', 'documentation'],
  ['100::1', 'net.private_address', 'discard-only'],
  ['1.1.1.1', 'net.host_denied_by_policy', 'operator-denied IP from DNS'],
  ['::ffff:1.1.1.1', 'net.host_denied_by_policy', 'operator-denied IP, v4-mapped'],
  ['not-an-ip', 'net.invalid_address', 'garbage from a resolver'],
  ['', 'net.invalid_address', 'empty'],
  ['1.2.3.4.5', 'net.invalid_address', 'too many octets'],
];

describe('decideAddress', () => {
  it.each(ADDRESS_CASES)('%s -> %s (%s)', (address, expected) => {
    const d = decideAddress(policy, 'api.github.com', address);
    expect(ruleOf(d)).toBe(expected);
    if (!d.allow) expect(d.reason).toContain('api.github.com');
  });

  it('names host, address and range', () => {
    const d = decideAddress(policy, 'internal.example.com', '10.1.2.3');
    expect(d).toMatchObject({ allow: false, kind: 'denied', rule: 'net.private_address' });
    expect(!d.allow && d.reason).toMatch(/internal\.example\.com.*10\.1\.2\.3.*private/);
  });

  it('private networks on: private allowed, metadata still denied', () => {
    expect(ruleOf(decideAddress(privatePolicy, 'x', '10.0.0.5'))).toBe('allow');
    expect(ruleOf(decideAddress(privatePolicy, 'x', '::1'))).toBe('allow');
    expect(ruleOf(decideAddress(privatePolicy, 'x', '169.254.169.254'))).toBe('net.cloud_metadata');
    expect(ruleOf(decideAddress(privatePolicy, 'x', '::ffff:a9fe:a9fe'))).toBe('net.cloud_metadata');
  });
});

// [entry, expected: {scheme,host,port,wildcard} or an error substring]
const ENTRY_CASES: Array<[string, Partial<AllowEntry> | { error: string }]> = [
  ['api.github.com', { scheme: 'https', host: 'api.github.com', port: 443, wildcard: false }],
  ['API.GitHub.com.', { host: 'api.github.com' }],
  ['*.example.com', { host: 'example.com', wildcard: true, port: 443 }],
  ['http://legacy.example.org', { scheme: 'http', port: 80 }],
  ['https://api.x.com:8443', { scheme: 'https', port: 8443, explicitPort: true }],
  ['HTTPS://api.x.com:8443/', { scheme: 'https', port: 8443 }],
  ['http://*.example.com:8080', { scheme: 'http', wildcard: true, port: 8080 }],
  ['bücher.de', { host: 'xn--bcher-kva.de' }],
  ['*.bücher.de', { host: 'xn--bcher-kva.de', wildcard: true }],
  ['api。github。com', { host: 'api.github.com' }],
  ['8.8.8.8', { host: '8.8.8.8' }],
  ['0x08080808', { host: '8.8.8.8' }],
  ['[::1]', { host: '[::1]' }],
  ['https://[0:0::1]:8443', { host: '[::1]', port: 8443 }],
  ['', { error: 'empty' }],
  ['*', { error: 'every host' }],
  ['*.com', { error: 'too broad' }],
  ['a.*.example.com', { error: 'first label' }],
  ['*example.com', { error: 'first label' }],
  ['**.example.com', { error: 'first label' }],
  ['*.*.example.com', { error: 'first label' }],
  ['ftp://example.com', { error: 'scheme "ftp:"' }],
  ['ws://example.com', { error: 'scheme "ws:"' }],
  ['file:///etc', { error: 'scheme "file:"' }],
  ['javascript:alert(1)', { error: '"javascript:" URL' }],
  ['example.com/path', { error: 'path' }],
  ['https://example.com/api', { error: 'path' }],
  ['example.com?x', { error: 'path, query' }],
  ['user@example.com', { error: 'userinfo' }],
  ['https://u:p@example.com', { error: 'userinfo' }],
  ['example.com:8443', { error: 'no scheme' }],
  ['https://example.com:0', { error: 'outside 1..65535' }],
  ['https://example.com:65536', { error: 'outside 1..65535' }],
  ['https://example.com:http', { error: 'invalid port' }],
  ['a..example.com', { error: 'empty label' }],
  ['.example.com', { error: 'empty label' }],
  ['example.com..', { error: 'empty label' }],
  [' example.com', { error: 'whitespace' }],
  ['exa mple.com', { error: 'whitespace' }],
  ['*.127.0.0.1', { error: 'IP' }],
  ['::1', { error: 'brackets' }],
  ['[::1', { error: 'unterminated' }],
  ['a!b.com', { error: 'characters' }],
  ['xn--a.com', { error: 'not a valid host' }],
];

describe('parseAllowEntry', () => {
  it.each(ENTRY_CASES)('%j', (entry, expected) => {
    const r = parseAllowEntry(entry);
    if ('error' in expected) {
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error).toContain(expected.error);
        expect(r.error).toContain(JSON.stringify(entry).slice(0, 20).replace(/"$/, ''));
      }
    } else {
      expect(r.ok).toBe(true);
      if (r.ok) expect(r.value).toMatchObject(expected);
    }
  });

  it('compileNetPolicy throws naming the entry', () => {
    expect(() => compileNetPolicy(['api.github.com', 'ftp://x.com'])).toThrow(/allow_domains\[1\].*ftp:\/\/x\.com/);
    expect(() => compileNetPolicy([], { deniedDomains: ['*'] })).toThrow(/deniedDomains\[0\]/);
    expect(compileNetPolicy([], { deniedDomains: ['*.internal'] }).deniedHosts[0]).toMatchObject({ host: 'internal', wildcard: true });
    expect(() => compileNetPolicy(['*.internal'])).toThrow(/too broad/);
  });
});

describe('entry relations (used by the host policy)', () => {
  const e = (s: string): AllowEntry => {
    const r = parseAllowEntry(s, { deny: true });
    if (!r.ok) throw new Error(r.error);
    return r.value;
  };
  it.each([
    ['*.example.com', 'a.example.com', true],
    ['*.example.com', '*.a.example.com', true],
    ['*.example.com', '*.example.com', true],
    ['*.example.com', 'example.com', false],
    ['example.com', 'example.com', true],
    ['example.com', '*.example.com', false],
    ['api.example.com', 'http://api.example.com', false],
    ['https://api.example.com:8443', 'api.example.com', false],
    ['*.a.example.com', '*.example.com', false],
  ] as const)('allowed %s covers %s: %s', (outer, inner, want) => {
    expect(allowEntryCovers(e(outer), e(inner))).toBe(want);
  });
  it.each([
    ['*.corp.example', 'corp.example', true],
    ['*.corp.example', 'x.corp.example', true],
    ['*.corp.example', '*.other.example', false],
    ['*.internal', '*.svc.internal', true],
    ['*.internal', 'metadata.google.internal', true],
    ['x.corp.example', '*.corp.example', true],
    ['*.x.corp.example', '*.corp.example', true],
    ['corp.example', '*.corp.example', false],
    ['evil.com', 'api.github.com', false],
    ['http://api.github.com', 'api.github.com', true],
    ['1.1.1.1', '[::ffff:101:101]', true],
  ] as const)('denied %s overlaps %s: %s', (deny, entry, want) => {
    expect(denyEntryOverlaps(e(deny), e(entry))).toBe(want);
  });
});

// ---------------------------------------------------------------------------------------------
// properties

/** An independent oracle: does some entry of `allow` permit this parsed URL? */
function oracleAllows(allow: string[], url: URL): boolean {
  const host = url.hostname.replace(/\.$/, '');
  const scheme = url.protocol.slice(0, -1);
  const port = url.port === '' ? (scheme === 'http' ? 80 : 443) : Number(url.port);
  return allow.some((raw) => {
    const r = parseAllowEntry(raw);
    if (!r.ok) return false;
    const e = r.value;
    const hostOk = e.wildcard ? host.endsWith(`.${e.host}`) && host !== e.host : host === e.host;
    return hostOk && e.scheme === scheme && e.port === port;
  });
}

describe('decideUrl properties', () => {
  const schemes = ['https', 'http', 'HTTPS', 'ftp', 'file', 'gopher', 'ws', 'wss', 'javascript', 'data', 'dict', 'h\ttps'];
  const seps = ['://', ':/', ':', ':\\\\', ':///', '://\\'];
  const userinfo = ['', 'u@', 'u:p@', ':@', '@', 'api.github.com@', 'a.example.com:443@', 'evil.com%40'];
  const hosts = [
    'api.github.com', 'API.github.com.', 'evil.com', 'a.example.com', 'example.com', 'x.y.example.com', 'notexample.com',
    '127.0.0.1', '0x7f.1', '2130706433', '[::1]', '[::ffff:127.0.0.1]', '169.254.169.254', 'localhost', 'legacy.example.org',
    'api.github.com.evil.com', '%61pi.github.com', 'ａｐｉ.github.com', 'api.x.com', 'bücher.de', '8.8.8.8', '1.1.1.1',
    'x.blocked.example.com', '*.example.com', 'a..example.com', '\u0430pi.github.com', '',
  ];
  const ports = ['', ':443', ':80', ':8443', ':8080', ':0', ':65535', ':99999', ':'];
  const tails = ['', '/', '/x', '#@api.github.com', '?@api.github.com', '\\@api.github.com', '/..%2f', '@evil.com', '\\evil.com'];

  const urlArb = fc
    .tuple(fc.constantFrom(...schemes), fc.constantFrom(...seps), fc.constantFrom(...userinfo), fc.constantFrom(...hosts), fc.constantFrom(...ports), fc.constantFrom(...tails))
    .map((parts) => parts.join(''));

  for (const [name, p] of [['default', policy], ['private networks on', privatePolicy]] as Array<[string, NetPolicy]>) {
    it(`never allows an unmatched host, a foreign scheme, userinfo or a denied host (${name})`, () => {
      fc.assert(
        fc.property(urlArb, fc.constantFrom('GET', 'post', 'TRACE'), (raw, method) => {
          const d = decideUrl(p, method, raw);
          if (!d.allow) return;
          expect(['http:', 'https:']).toContain(d.url.protocol);
          expect(d.url.username).toBe('');
          expect(d.url.password).toBe('');
          expect(oracleAllows(ALLOW, d.url)).toBe(true);
          const host = d.url.hostname.replace(/\.$/, '');
          expect(host === 'blocked.example.com' || host.endsWith('.blocked.example.com')).toBe(false);
          expect(d.url.href).toBe(new URL(raw).href);
        }),
        { numRuns: 3000 },
      );
    });
  }

  it('never allows a non-public literal without allowPrivateNetworks, and never throws on any string', () => {
    fc.assert(
      fc.property(fc.oneof(urlArb, fc.string(), fc.webUrl()), (raw) => {
        const d = decideUrl(policy, 'GET', raw);
        if (!d.allow) return;
        const h = d.url.hostname;
        if (h.startsWith('[') || /^\d+\.\d+\.\d+\.\d+$/.test(h)) expect(h).toBe('8.8.8.8');
      }),
      { numRuns: 3000 },
    );
  });

  it('decideAddress allows exactly the public addresses (default policy)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4Extended()), (addr) => {
        const d = decideAddress(policy, 'h', addr);
        if (d.allow) expect(d.range).toBe('public');
      }),
      { numRuns: 3000 },
    );
  });
});
