/** Tables of the pure decisions of issue 14: secret substitution, net allow rules, redaction forms, policy caps. */
import { describe, expect, it } from 'vitest';
import { compileSecretRules, decideSecrets, placeholdersIn, substitute } from '../../src/guards/secret-guard.js';
import { compileNetPolicy, decideUrl, parseNetAllowRule } from '../../src/guards/net-guard.js';
import { SecretRedactor, secretValueProblem } from '../../src/secret-redactor.js';
import { checkManifestAgainstPolicy } from '../../src/policy.js';
import { stringify } from 'yaml';
import { diffPermissions, parseManifest as parseManifestText } from '../../src/manifest.js';

const parseManifest = (m: unknown) => parseManifestText(stringify(m), 'skill.yaml');

const rules = compileSecretRules({
  TOKEN: { allow: ['https://api.example.com'] },
  WIDE: { allow: ['*.example.org', 'http://legacy.example.net:8080'] },
});

describe('decideSecrets: which header gets which secret, per hop', () => {
  // [url, headers, hop, expected: 'inject:<i>=<names>' | 'drop:<i>' | 'send' | '<rule>']
  const table: [string, [string, string][], 'first' | 'redirect', string][] = [
    ['https://api.example.com/x', [['authorization', 'Bearer {{secret:TOKEN}}']], 'first', 'inject:0=TOKEN'],
    ['https://api.example.com:443/x', [['authorization', 'Bearer {{secret:TOKEN}}']], 'first', 'inject:0=TOKEN'],
    ['https://API.EXAMPLE.COM/x', [['authorization', 'Bearer {{secret:TOKEN}}']], 'first', 'inject:0=TOKEN'],
    ['https://api.example.com/x', [['x-a', 'a'], ['x-k', '{{secret:TOKEN}}:{{secret:TOKEN}}']], 'first', 'inject:1=TOKEN'],
    ['http://api.example.com/x', [['authorization', 'Bearer {{secret:TOKEN}}']], 'first', 'secret.origin_not_allowed'],
    ['https://api.example.com:8443/x', [['authorization', 'Bearer {{secret:TOKEN}}']], 'first', 'secret.origin_not_allowed'],
    ['https://evil.example.com/x', [['authorization', 'Bearer {{secret:TOKEN}}']], 'first', 'secret.origin_not_allowed'],
    ['https://sub.api.example.com/x', [['authorization', 'Bearer {{secret:TOKEN}}']], 'first', 'secret.origin_not_allowed'],
    ['https://a.example.org/', [['x-k', '{{secret:WIDE}}']], 'first', 'inject:0=WIDE'],
    ['https://example.org/', [['x-k', '{{secret:WIDE}}']], 'first', 'secret.origin_not_allowed'],
    ['http://legacy.example.net:8080/', [['x-k', '{{secret:WIDE}}']], 'first', 'inject:0=WIDE'],
    ['https://api.example.com/', [['x-k', '{{secret:NOPE}}']], 'first', 'secret.undeclared'],
    ['https://api.example.com/', [['x-k', '{{secret:TOKEN}} {{secret:WIDE}}']], 'first', 'secret.origin_not_allowed'],
    // redirect hops: what the first hop denies, a redirect drops
    ['https://evil.example.com/', [['authorization', 'Bearer {{secret:TOKEN}}'], ['x-plain', 'p']], 'redirect', 'drop:0'],
    ['https://api.example.com/next', [['authorization', 'Bearer {{secret:TOKEN}}']], 'redirect', 'inject:0=TOKEN'],
    ['https://api.example.com/', [['x-k', '{{secret:NOPE}}']], 'redirect', 'secret.undeclared'],
    // placeholder syntax
    ['https://api.example.com/', [['x-k', '{{secret:}}']], 'first', 'secret.malformed_placeholder'],
    ['https://api.example.com/', [['x-k', '{{ secret:TOKEN }}']], 'first', 'secret.malformed_placeholder'],
    ['https://api.example.com/', [['x-k', '{{secret:TO-KEN}}']], 'first', 'secret.malformed_placeholder'],
    ['https://api.example.com/', [['x-k', '{{SECRET:TOKEN}}']], 'first', 'secret.malformed_placeholder'],
    ['https://api.example.com/', [['x-k', '{{secret:TOKEN}']], 'first', 'secret.malformed_placeholder'],
    ['https://api.example.com/', [['x-k', '{secret:TOKEN}']], 'first', 'send'],
    ['https://api.example.com/', [['x-k', '{{other}}']], 'first', 'send'],
    ['https://api.example.com/', [['x-k', 'plain']], 'first', 'send'],
  ];
  it.each(table)('%s %j (%s) -> %s', (url, headers, hop, expected) => {
    const d = decideSecrets(rules, headers, new URL(url), hop);
    if (!d.allow) {
      expect(d.rule).toBe(expected);
      expect(d.reason).not.toMatch(/undefined/);
      return;
    }
    const got = [...[...d.inject].map(([i, n]) => `inject:${i}=${n.join(',')}`), ...[...d.drop].map((i) => `drop:${i}`)];
    expect(got.length ? got.join(' ') : 'send').toBe(expected);
  });

  it('denials name the secret and where it may go, never a value', () => {
    const d = decideSecrets(rules, [['authorization', 'Bearer {{secret:TOKEN}}']], new URL('https://evil.example.com/'), 'first');
    expect(d.allow).toBe(false);
    if (!d.allow) expect(d.reason).toBe('secret TOKEN may not be sent to https://evil.example.com (requires.secrets.TOKEN.allow: "https://api.example.com")');
  });

  it('placeholders and substitution', () => {
    expect(placeholdersIn('a {{secret:A}} b {{secret:B_2}} {{secret:A}}')).toEqual({ names: ['A', 'B_2'] });
    expect(substitute('Bearer {{secret:A}}/{{secret:A}}', new Map([['A', 'v$&$1']]))).toBe('Bearer v$&$1/v$&$1');
  });
});

describe('net allow rules: URLPattern and methods, in decideUrl', () => {
  const policy = compileNetPolicy(['whole.example.com'], {}, [
    { url: 'https://api.github.com/repos/*', methods: ['GET'] },
    { url: 'https://api.github.com/repos/:owner/:repo/issues', methods: ['POST'] },
    { url: 'https://*.example.net/v1/(a|b)/*' },
    { url: 'http://legacy.example.org:8080/only' },
  ]);
  // [method, url, expected rule ('net.allowed' or the denial rule)]
  const table: [string, string, string][] = [
    ['GET', 'https://api.github.com/repos/octo/hello', 'net.allowed'],
    ['get', 'https://api.github.com/repos/octo/hello/issues?state=open', 'net.allowed'],
    ['HEAD', 'https://api.github.com/repos/octo/hello', 'net.method_not_allowed_by_rule'],
    ['DELETE', 'https://api.github.com/repos/octo/hello', 'net.method_not_allowed_by_rule'],
    ['POST', 'https://api.github.com/repos/octo/hello/issues', 'net.allowed'],
    ['POST', 'https://api.github.com/repos/octo/hello/issues/1', 'net.method_not_allowed_by_rule'],
    ['GET', 'https://api.github.com/user', 'net.path_not_allowed'],
    ['GET', 'https://api.github.com/repos', 'net.path_not_allowed'],
    ['GET', 'https://api.github.com/REPOS/x', 'net.path_not_allowed'],
    ['GET', 'https://api.github.com/repos/../user', 'net.path_not_allowed'],
    ['GET', 'https://api.github.com/repos/a%2F..%2F..%2Fuser', 'net.encoded_path'],
    ['GET', 'https://api.github.com:443/repos/x', 'net.allowed'],
    ['GET', 'https://api.github.com:8443/repos/x', 'net.host_not_allowed'],
    ['GET', 'http://api.github.com/repos/x', 'net.host_not_allowed'],
    ['GET', 'https://evil.com/repos/x', 'net.host_not_allowed'],
    ['GET', 'https://api.github.com.evil.com/repos/x', 'net.host_not_allowed'],
    ['GET', 'https://x@api.github.com/repos/x', 'net.userinfo'],
    ['PUT', 'https://a.example.net/v1/a/z', 'net.allowed'],
    ['PUT', 'https://a.b.example.net/v1/b/z', 'net.allowed'],
    ['PUT', 'https://a.example.net/v1/c/z', 'net.path_not_allowed'],
    ['GET', 'https://example.net/v1/a/z', 'net.host_not_allowed'],
    ['GET', 'http://legacy.example.org:8080/only', 'net.allowed'],
    ['GET', 'http://legacy.example.org:8080/only/more', 'net.path_not_allowed'],
    ['GET', 'http://legacy.example.org/only', 'net.host_not_allowed'],
    // allow_domains still allows any method and path
    ['DELETE', 'https://whole.example.com/anything', 'net.allowed'],
  ];
  it.each(table)('%s %s -> %s', (method, url, expected) => {
    const d = decideUrl(policy, method, url);
    expect(d.allow ? d.rule : d.rule).toBe(expected);
    if (!d.allow && expected.startsWith('net.path') ) expect(d.reason).toMatch(/allow\[\d\] "https:\/\/api\.github\.com|allow\[\d\] "https:\/\/\*\.example|allow\[3\]/);
  });

  it('a denial names the rule', () => {
    const d = decideUrl(policy, 'DELETE', 'https://api.github.com/repos/a/b');
    expect(!d.allow && d.reason).toMatch(/allow\[0\] "https:\/\/api\.github\.com\/repos\/\*" \[GET\]/);
    const ok = decideUrl(policy, 'GET', 'https://api.github.com/repos/a/b');
    expect(ok.allow && ok.entry).toBe('allow[0] "https://api.github.com/repos/*"');
  });

  it('the deny list and private-network rules apply to rules too', () => {
    const p = compileNetPolicy([], { deniedDomains: ['api.github.com'] }, [{ url: 'https://api.github.com/*' }]);
    expect(decideUrl(p, 'GET', 'https://api.github.com/x')).toMatchObject({ allow: false, rule: 'net.host_denied_by_policy' });
    const q = compileNetPolicy([], {}, [{ url: 'http://127.0.0.1:8080/*' }, { url: 'https://metadata.google.internal/*' }]);
    expect(decideUrl(q, 'GET', 'http://127.0.0.1:8080/x')).toMatchObject({ allow: false, rule: 'net.private_address' });
    expect(decideUrl(q, 'GET', 'https://metadata.google.internal/x')).toMatchObject({ allow: false, rule: 'net.cloud_metadata' });
  });

  // Rules that must not parse: [rule, message part]
  const bad: [{ url: string; methods?: string[] }, RegExp][] = [
    [{ url: '/relative/*' }, /not a valid absolute URLPattern/],
    [{ url: '*://api.github.com/*' }, /http:\/\/ or https:\/\//],
    [{ url: '(http|https)://api.github.com/*' }, /http:\/\/ or https:\/\//],
    [{ url: 'ftp://api.github.com/*' }, /http:\/\/ or https:\/\//],
    [{ url: 'https://*/x' }, /host or "\*\.host"/],
    [{ url: 'https://api.*.com/x' }, /host or "\*\.host"/],
    [{ url: 'https://:sub.example.com/x' }, /host or "\*\.host"/],
    [{ url: 'https://*.com/x' }, /too broad/],
    [{ url: 'https://api.github.com:*/x' }, /port of url must be a number/],
    [{ url: 'https://api.github.com/*', methods: [] }, /non-empty list/],
    [{ url: 'https://api.github.com/*', methods: ['CONNECT'] }, /not one of/],
    [{ url: 'https://api.github.com/*', methods: ['TRACE'] }, /not one of/],
    [{ url: '' }, /non-empty/],
  ];
  it.each(bad)('refused: %j', (rule, message) => {
    const r = parseNetAllowRule(rule, 0);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(message);
  });
});

describe('redactor: the value and its encodings', () => {
  const v = 'ghp_Abc123+/=xyz?&';
  const r = new SecretRedactor();
  r.add(v);
  const cases: [string, string][] = [
    ['exact', `token ${v} end`],
    ['json-escaped', JSON.stringify({ t: v })],
    ['url-encoded', `q=${encodeURIComponent(v)}`],
    ['hex', Buffer.from(v).toString('hex')],
    ['HEX', Buffer.from(v).toString('hex').toUpperCase()],
    ['base64', Buffer.from(v).toString('base64')],
    ['base64url', Buffer.from(v).toString('base64url')],
    ['base64 after 1 byte', Buffer.from(`x${v}`).toString('base64')],
    ['base64 after 2 bytes', Buffer.from(`xy${v}`).toString('base64')],
    ['base64 of Bearer', Buffer.from(`Bearer ${v}`).toString('base64')],
    ['basic auth base64url', Buffer.from(`user:${v}`).toString('base64url')],
  ];
  it.each(cases)('%s', (_n, text) => {
    const out = r.text(text);
    expect(out).toContain('[REDACTED]');
    expect(out).not.toContain(v);
    expect(Buffer.from(r.bytes(Buffer.from(text))).toString()).toBe(out);
  });
  it('values that cannot be secrets', () => {
    expect(secretValueProblem('1234567')).toMatch(/shorter than 8/);
    expect(secretValueProblem('12345678')).toBeUndefined();
    expect(secretValueProblem('abc\r\ndefgh')).toMatch(/control/);
    expect(secretValueProblem(' abcdefgh')).toMatch(/whitespace/);
  });
});

describe('policy caps and permission review for rules and secrets', () => {
  const manifest = parseManifest({
    id: 'x.y',
    name: 'x',
    version: '1.0.0',
    description: '',
    component: 'dist/skill.wasm',
    commands: { run: {} },
    requires: {
      permissions: { net: { allow: [{ url: 'https://api.github.com/repos/*', methods: ['GET'] }] } },
      secrets: { GITHUB_TOKEN: { description: 'read', allow: ['https://api.github.com'] } },
    },
  });
  it('allowedDomains and deniedDomains cap rule origins and secret destinations like domains', () => {
    expect(checkManifestAgainstPolicy(manifest, { allowedDomains: ['api.github.com'] })).toEqual([]);
    const out = checkManifestAgainstPolicy(manifest, { allowedDomains: ['api.example.com'] });
    expect(out).toHaveLength(2);
    expect(out[0]).toMatch(/^requires\.permissions\.net\.allow\[0\] "https:\/\/api\.github\.com\/repos\/\*" is not covered/);
    expect(out[1]).toMatch(/^requires\.secrets\.GITHUB_TOKEN\.allow\[0\] "https:\/\/api\.github\.com" is not covered/);
    expect(checkManifestAgainstPolicy(manifest, { deniedDomains: ['*.github.com'] })).toHaveLength(2);
  });
  it('the install diff names a new secret, a new destination and a new rule', () => {
    const prev = parseManifest({ id: 'x.y', name: 'x', version: '1.0.0', description: '', component: 'dist/skill.wasm', commands: { run: {} } });
    expect(diffPermissions(prev, manifest)).toEqual([
      'net: new rule GET https://api.github.com/repos/*',
      'secrets: new secret GITHUB_TOKEN (may be sent to https://api.github.com)',
    ]);
    const wider = structuredClone(manifest);
    wider.requires.secrets!['GITHUB_TOKEN']!.allow.push('https://uploads.github.com');
    expect(diffPermissions(manifest, wider)).toEqual(['secrets: GITHUB_TOKEN may now also be sent to https://uploads.github.com']);
  });
  it('manifest refuses a bad secret name, an empty allow and a bad rule, by key path', () => {
    const bad = (requires: unknown) => () =>
      parseManifest({ id: 'x.y', name: 'x', version: '1.0.0', description: '', component: 'dist/skill.wasm', commands: { run: {} }, requires });
    expect(bad({ secrets: { 'bad-name': { allow: ['api.x.com'] } } })).toThrow(/requires\.secrets\.bad-name: secret name must match/);
    expect(bad({ secrets: { OK: { allow: [] } } })).toThrow(/requires\.secrets\.OK\.allow/);
    expect(bad({ secrets: { OK: { allow: ['api.x.com'], value: 'x' } } })).toThrow(/unknown key 'value'/);
    expect(bad({ permissions: { net: { allow: [{ url: 'https://*/x' }] } } })).toThrow(/requires\.permissions\.net\.allow\[0\]/);
  });
});
