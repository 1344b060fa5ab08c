/**
 * Shared fixtures of the net capability tests (test/capabilities/net*.test.ts, http-headers.test.ts):
 * node:http servers on 127.0.0.1 (port 0) that record what they saw, capabilities closed after
 * each test, and small request/response helpers.
 *
 * Loopback is a private address: a test that must REACH a server says so explicitly with
 * `allowPrivateNetworks: true` (the `reach()` helper); tests that must NOT reach it use a policy
 * without that allowance, or without the host, and assert the server saw zero requests.
 *
 * Each test file registers `afterEach(closeNetFixtures)`.
 */
import http from 'node:http';
import type https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createNetCapability, type NetCapability, type NetCapabilityOptions } from '../../src/capabilities/net.js';
import type { CallContext, CapResult, NetRequest, NetResponse } from '../../src/capabilities/types.js';
import { compileNetPolicy } from '../../src/guards/net-guard.js';

export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface TestServer {
  port: number;
  origin: string;
  seen: Seen[];
  readonly hits: number;
  server: http.Server | https.Server;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void;

export const servers: Array<http.Server | https.Server> = [];
export const caps: NetCapability[] = [];
export const envBackup: Record<string, string | undefined> = {};

/** Closes what a test opened (capabilities, servers) and restores the environment: `afterEach(closeNetFixtures)`. */
export async function closeNetFixtures(): Promise<void> {
  for (const [k, v] of Object.entries(envBackup)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
    delete envBackup[k];
  }
  await Promise.all(caps.splice(0).map((c) => c.close()));
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
}

export function listen(server: http.Server | https.Server, scheme: 'http' | 'https' = 'http'): Promise<TestServer> {
  servers.push(server);
  const seen: Seen[] = [];
  server.prependListener('request', (req: http.IncomingMessage) => {
    // recorded before the handler runs; body filled once read
    const entry: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.alloc(0) };
    seen.push(entry);
    (req as http.IncomingMessage & { entry?: Seen }).entry = entry;
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        port,
        origin: `${scheme}://127.0.0.1:${port}`,
        seen,
        get hits() {
          return seen.length;
        },
        server,
      });
    });
  });
}

export function startServer(handler: Handler): Promise<TestServer> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const entry = (req as http.IncomingMessage & { entry?: Seen }).entry;
      if (entry) entry.body = body;
      handler(req, res, body);
    });
  });
  return listen(server);
}

export function text(res: http.ServerResponse, status: number, body: string, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain', ...headers });
  res.end(body);
}

export const ok: Handler = (_req, res) => text(res, 200, 'hello');

/** A capability for tests; closed after each test. */
export function cap(allow: string[], opts: Partial<NetCapabilityOptions> & { allowPrivateNetworks?: boolean } = {}): NetCapability {
  const { allowPrivateNetworks, ...rest } = opts;
  const c = createNetCapability({
    policy: compileNetPolicy(allow, { allowPrivateNetworks: allowPrivateNetworks ?? false }),
    ...rest,
  });
  caps.push(c);
  return c;
}

/** A capability that may reach loopback: the private-network allowance made explicit. */
export function reach(allow: string[], opts: Partial<NetCapabilityOptions> = {}): NetCapability {
  return cap(allow, { ...opts, allowPrivateNetworks: true });
}

export function ctx(signal: AbortSignal = new AbortController().signal): CallContext {
  return { signal };
}

export function get(url: string, headers: Array<[string, string]> = []): NetRequest {
  return { method: 'GET', url, headers: headers.map(([name, value]) => ({ name, value })) };
}

export function bodyText(r: CapResult<NetResponse>): string {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.tag}: ${r.error.val}`);
  return Buffer.from(r.value.body).toString('utf8');
}

export function header(r: CapResult<NetResponse>, name: string): string[] {
  if (!r.ok) return [];
  return r.value.headers.filter((h) => h.name === name).map((h) => h.value);
}

/** A resolver that records its calls and answers from a script. */
export function scriptedResolver(...answers: Array<Array<{ address: string; family: 4 | 6 }>>) {
  const calls: string[] = [];
  const resolver = async (hostname: string) => {
    calls.push(hostname);
    const a = answers[Math.min(calls.length - 1, answers.length - 1)];
    return a ?? [];
  };
  return { calls, resolver };
}

export const v4 = (address: string) => ({ address, family: 4 as const });
export const v6 = (address: string) => ({ address, family: 6 as const });

export function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (cond()) resolve();
      else if (Date.now() - start > ms) reject(new Error('condition not met in time'));
      else setTimeout(tick, 10);
    };
    tick();
  });
}

export async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Counts the TCP connections a server accepts and how many of them have closed. */
export function track(server: http.Server | https.Server) {
  const sockets: Socket[] = [];
  let closed = 0;
  server.on('connection', (s: Socket) => {
    sockets.push(s);
    s.on('close', () => closed++);
  });
  return {
    sockets,
    get connections() {
      return sockets.length;
    },
    get closed() {
      return closed;
    },
  };
}
