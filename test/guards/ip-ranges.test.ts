import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { addressRange, classifyAddress, isPublicAddress, parseIpLiteralHost } from '../../src/guards/ip-ranges.js';

// [address, range, why]
const RANGES: Array<[string, string, string]> = [
  ['8.8.8.8', 'public', 'Google DNS'],
  ['1.1.1.1', 'public', 'Cloudflare DNS'],
  ['192.175.48.1', 'public', 'AS112 anycast is globally routed'],
  ['127.0.0.1', 'loopback', 'loopback'],
  ['10.255.255.255', 'private', 'RFC 1918'],
  ['172.20.1.1', 'private', 'RFC 1918'],
  ['192.168.0.1', 'private', 'RFC 1918'],
  ['169.254.0.1', 'linkLocal', 'RFC 3927'],
  ['100.127.255.255', 'carrierGradeNat', 'RFC 6598'],
  ['0.0.0.0', 'unspecified', '0/8'],
  ['255.255.255.255', 'broadcast', 'limited broadcast'],
  ['239.255.255.250', 'multicast', 'SSDP'],
  ['203.0.113.9', 'documentation', 'TEST-NET-3'],
  ['198.19.255.255', 'benchmarking', 'RFC 2544'],
  ['240.0.0.1', 'reserved', 'class E'],
  ['169.254.169.254', 'cloudMetadata', 'IMDS'],
  ['fd00:ec2::254', 'cloudMetadata', 'IMDS v6'],
  ['2606:4700::1111', 'public', 'global unicast'],
  ['::1', 'loopback', 'v6 loopback'],
  ['::', 'unspecified', 'v6 unspecified'],
  ['fe80::abcd', 'linkLocal', 'v6 link-local'],
  ['fdff::1', 'uniqueLocal', 'ULA'],
  ['fec0::1', 'siteLocal', 'deprecated site-local'],
  ['ff05::2', 'multicast', 'v6 multicast'],
  ['::7f00:1', 'ipv4Compatible', 'deprecated compat block'],
  ['::ffff:10.1.2.3', 'private', 'mapped: judged by the v4'],
  ['::ffff:8.8.8.8', 'public', 'mapped public v4'],
  ['64:ff9b::c0a8:1', 'private', 'NAT64 of 192.168.0.1'],
  ['64:ff9b:1::1', 'nat64Local', 'RFC 8215 local-use'],
  ['2002:c0a8:1::', 'private', '6to4 of 192.168.0.1'],
  ['2001:db8:1::1', 'documentation', 'RFC 3849'],
  ['2001:2::1', 'benchmarking', 'RFC 5180'],
  ['2001:10::1', 'orchid', 'ORCHID'],
  ['100::1', 'discard', 'RFC 6666'],
  ['4000::1', 'reserved', 'outside 2000::/3'],
];

describe('classifyAddress', () => {
  it.each(RANGES)('%s is %s (%s)', (addr, range) => {
    expect(addressRange(addr)).toBe(range);
    expect(isPublicAddress(addr)).toBe(range === 'public');
  });

  it('reports the embedded IPv4', () => {
    expect(classifyAddress('::ffff:a9fe:a9fe')).toMatchObject({
      range: 'cloudMetadata',
      public: false,
      embedded: { via: 'ipv4Mapped', ipv4: '169.254.169.254' },
    });
    expect(classifyAddress('2001:0:4136:e378:8000:63bf:3fff:fdd2')?.embedded).toEqual({ via: 'teredo', ipv4: '192.0.2.45' });
  });

  it.each(['', 'example.com', '1.2.3.4.5', '::g', '[::1', 'localhost', '999.1.1.1'])('%j is not an address', (a) => {
    expect(classifyAddress(a)).toBeNull();
    expect(isPublicAddress(a)).toBe(false);
  });

  it('accepts brackets, zones and case', () => {
    expect(classifyAddress('[::1]')?.range).toBe('loopback');
    expect(classifyAddress('fe80::1%eth0')?.address).toBe('fe80::1');
    expect(classifyAddress('FD00:EC2:0::254')?.range).toBe('cloudMetadata');
  });
});

// [host as written in a URL, canonical or null]
const LITERALS: Array<[string, string | null]> = [
  ['127.0.0.1', '127.0.0.1'],
  ['127.1', '127.0.0.1'],
  ['0x7f.1', '127.0.0.1'],
  ['0x7f000001', '127.0.0.1'],
  ['017700000001', '127.0.0.1'],
  ['0177.0.0.1', '127.0.0.1'],
  ['2130706433', '127.0.0.1'],
  ['127.000.000.001', '127.0.0.1'],
  ['１２７.０.０.１', '127.0.0.1'],
  ['127。0。0。1', '127.0.0.1'],
  ['0', '0.0.0.0'],
  ['1.2.3', '1.2.0.3'],
  ['[::ffff:127.0.0.1]', '::ffff:7f00:1'],
  ['[0:0:0:0:0:0:0:1]', '::1'],
  ['::1', '::1'],
  ['example.com', null],
  ['127.0.0.1.nip.io', null],
  ['127.0.0.1:80', null],
  ['u@127.0.0.1', null],
  ['127.0.0.1/x', null],
  ['1.2.3.256', null],
  ['', null],
];

describe('parseIpLiteralHost', () => {
  it.each(LITERALS)('%j -> %j', (host, want) => {
    expect(parseIpLiteralHost(host)).toBe(want);
  });

  it('agrees with the URL parser for every IPv4 spelling fast-check can make', () => {
    fc.assert(
      fc.property(fc.ipV4Extended(), (spelled) => {
        const viaUrl = new URL(`http://${spelled}/`).hostname;
        expect(parseIpLiteralHost(spelled)).toBe(viaUrl);
        expect(classifyAddress(spelled)?.address).toBe(viaUrl);
      }),
      { numRuns: 2000 },
    );
  });
});
