// GET a page through agentos:skill/net. The host decides whether the URL is allowed
// (requires.permissions.net.allow_domains) every time the skill asks, redirects included.
import { decodeUtf8, fetchBytes, log, type Commands } from '@agentos/skills/guest';

const MAX_BODY = 4096;

interface FetchArgs {
  domain: string;
  path?: string;
  scheme?: 'https' | 'http';
  url?: string;
}

export const commands = {
  fetch(args: FetchArgs) {
    const url = args.url ?? `${args.scheme ?? 'https'}://${args.domain}${normalisePath(args.path)}`;
    log.debug('GET', url);
    const res = fetchBytes(url, { headers: { 'user-agent': 'agentos-skill-example/1.0' } });
    return {
      url,
      status: res.status,
      contentType: res.headers['content-type'] ?? null,
      bytes: res.body.length,
      truncated: res.body.length > MAX_BODY,
      body: decodeUtf8(res.body.subarray(0, MAX_BODY)),
    };
  },
} satisfies Commands;

function normalisePath(path: string | undefined): string {
  if (!path) return '/';
  return path.startsWith('/') ? path : `/${path}`;
}
