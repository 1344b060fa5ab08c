/**
 * Where `net.fetch` connects: name lookup, and the keep-alive cache of pinned undici Clients.
 *
 * Lookup: a host name is resolved ONCE per hop through the `resolver` seam; the caller checks
 * every answer, and the socket is then pinned to the checked list (`pinnedLookup`): net/tls ask
 * it instead of DNS, so a rebinding answer has no second lookup to slip into. An IP-literal URL
 * is not resolved at all.
 *
 * The cache (one per capability, so one per skill and installed version: connections are never
 * shared between skills):
 * - An undici `Client` is pinned for life to the address list it was created with, so it is
 *   handed out only under the key `origin (scheme, host, port) + the sorted checked addresses`
 *   (`poolKey`): the same addresses in another order are the same set; any other answer
 *   (rebinding, a changed record, one address more or less) means another key, a new Client, a
 *   new connection. The host name is part of the key, so two names on one address never share a
 *   connection (Host header, TLS servername and session are per name).
 * - A Client carries one request at a time and is only handed out when idle: concurrent calls to
 *   one origin get their own connections, never a queue behind a slow one.
 * - A Client goes back (`release(pc, true)`) only after its response body was read to the end;
 *   anything else destroys it, so a half-read or aborted response never poisons the next request.
 * - At most `maxIdle` idle Clients, least recently used dropped first; undici closes an idle
 *   socket after `keepAliveMs` (a server's shorter `Keep-Alive: timeout` hint wins, a longer one
 *   does not), and a sweep destroys Clients idle that long. `close()` destroys everything, idle or
 *   busy. `keepAliveMs: 0` or `maxIdle: 0` turns reuse off (a Client per hop).
 * - No proxy from the environment: private Clients, never the global dispatcher.
 */

import { promises as dnsPromises, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import type { Client } from 'undici';
import { lazyRequire } from '../lazy.js';
import { dnsFailure, fail, type Failure } from './net-errors.js';

/** undici is about half of the library's import time; only a skill's first request needs it. */
const undici = lazyRequire<typeof import('undici')>('undici');

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export type NetResolver = (hostname: string) => Promise<ResolvedAddress[]>;

/** `dns.promises.lookup(host, { all: true })`, in the resolver's order. */
export async function defaultResolver(hostname: string): Promise<ResolvedAddress[]> {
  const answers: LookupAddress[] = await dnsPromises.lookup(hostname, { all: true, verbatim: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
}

/** The IP of an IP-literal URL host (brackets removed), or undefined for a name. */
export function literalIp(hostname: string): string | undefined {
  const h = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return isIP(h) ? h : undefined;
}

/**
 * The resolver's answers for `hostname` (not yet checked), or why there are none: `not-found`
 * for no answer, `failed` for a resolver error. An abort of `signal` is thrown, not mapped.
 */
export async function lookupHost(resolver: NetResolver, hostname: string, signal: AbortSignal): Promise<ResolvedAddress[] | Failure> {
  let answers: ResolvedAddress[];
  try {
    answers = await raceAbort(
      Promise.resolve().then(() => resolver(hostname)),
      signal,
    );
  } catch (err) {
    if (signal.aborted) throw err;
    return dnsFailure(hostname, err);
  }
  if (!Array.isArray(answers) || answers.length === 0) return fail('not-found', `host '${hostname}' not found`);
  return answers;
}

type PinnedLookup = (
  hostname: string,
  options: { family?: number | string; all?: boolean } | number | undefined,
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
) => void;

/**
 * A `lookup` for net/tls that answers from the checked list only: the socket can connect to a
 * checked address and nothing else. It never consults DNS.
 */
export function pinnedLookup(addresses: readonly ResolvedAddress[]): PinnedLookup {
  return (_hostname, options, callback) => {
    const family = typeof options === 'number' ? options : options?.family;
    const wanted = family === 4 || family === 'IPv4' ? 4 : family === 6 || family === 'IPv6' ? 6 : 0;
    const list = wanted === 0 ? addresses : addresses.filter((a) => a.family === wanted);
    const first = list[0];
    if (first === undefined) {
      const err: NodeJS.ErrnoException = new Error(`no checked IPv${wanted} address`);
      err.code = 'ENOTFOUND';
      callback(err, '', 0);
      return;
    }
    if (typeof options === 'object' && options?.all) {
      callback(null, list.map((a) => ({ address: a.address, family: a.family })));
    } else {
      callback(null, first.address, first.family);
    }
  };
}

/** The cache key: a Client may only carry a request whose own, fresh, checked answer is its address set. */
export function poolKey(url: URL, addresses: readonly ResolvedAddress[]): string {
  return `${url.origin} ${addresses
    .map((a) => a.address)
    .sort()
    .join(' ')}`;
}

/** A pinned undici Client: one connection, to `key`'s addresses only. */
export interface PooledClient {
  client: Client;
  /** `origin + sorted checked addresses`: the only key under which this Client is handed out. */
  key: string;
  /** Requests already sent on it (> 0: the next one goes over a reused connection). */
  uses: number;
  /** When it went back to the cache (performance.now()). */
  idleSince: number;
}

export interface ConnectionCacheOptions {
  /** Connect, headers and body timeouts of each Client (the call's deadline bounds them anyway). */
  timeoutMs: number;
  /** Idle age after which a connection is closed; 0: no reuse. */
  keepAliveMs: number;
  /** Idle Clients kept (LRU); 0: no reuse. */
  maxIdle: number;
}

export class ConnectionCache {
  private readonly reuse: boolean;
  private isClosed = false;
  /** Every Client, busy or idle, destroyed by close(). */
  private readonly clients = new Set<Client>();
  /** Idle Clients, least recently used first. Only ever holds Clients whose last body was read to the end. */
  private readonly idle: PooledClient[] = [];
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: ConnectionCacheOptions) {
    this.reuse = opts.keepAliveMs > 0 && opts.maxIdle > 0;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** The most recently used idle Client for `key`, taken out of the cache. */
  checkout(key: string): PooledClient | undefined {
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const pc = this.idle[i]!;
      if (pc.key !== key) continue;
      this.idle.splice(i, 1);
      if (pc.client.closed || pc.client.destroyed) {
        this.discard(pc);
        continue;
      }
      return pc;
    }
    return undefined;
  }

  /** A new Client for `url`, whose sockets can only reach `addresses`. */
  open(url: URL, addresses: readonly ResolvedAddress[], key: string): PooledClient {
    const { timeoutMs, keepAliveMs } = this.opts;
    const client = new (undici().Client)(url.origin, {
      connect: {
        // The pin: whatever net/tls ask, the answer is the checked list. No DNS from here on,
        // for this connection and for any reconnection of this Client.
        lookup: pinnedLookup(addresses),
        // Certificate checked against the name, not the address.
        ...(literalIp(url.hostname) !== undefined ? {} : { servername: url.hostname }),
        timeout: timeoutMs,
      },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      // Idle connections close after keepAliveMs; a server's Keep-Alive hint may shorten that, not lengthen it.
      keepAliveTimeout: this.reuse ? keepAliveMs : 1,
      keepAliveMaxTimeout: this.reuse ? keepAliveMs : 1,
      pipelining: 1,
    });
    this.clients.add(client);
    return { client, key, uses: 0, idleSince: 0 };
  }

  /** Destroys a Client (and its socket). */
  discard(pc: PooledClient): void {
    this.clients.delete(pc.client);
    pc.client.destroy().catch(() => undefined);
  }

  /** Back to the cache if `reusable` (its response was read to the end) and reuse is on; destroyed otherwise. */
  release(pc: PooledClient, reusable: boolean): void {
    if (!reusable || !this.reuse || this.isClosed || pc.client.closed || pc.client.destroyed) {
      this.discard(pc);
      return;
    }
    pc.idleSince = performance.now();
    this.idle.push(pc);
    while (this.idle.length > this.opts.maxIdle) this.discard(this.idle.shift()!);
    this.armSweep();
  }

  /** Destroys every Client, idle or busy; nothing goes back to the cache after this. */
  async close(): Promise<void> {
    this.isClosed = true;
    if (this.sweepTimer !== undefined) clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    this.idle.length = 0;
    const pending = [...this.clients].map((c) => c.destroy().catch(() => undefined));
    this.clients.clear();
    await Promise.all(pending);
  }

  /** While the cache holds Clients: destroy those idle for keepAliveMs (undici closed their sockets by then). */
  private armSweep(): void {
    if (this.sweepTimer !== undefined || this.idle.length === 0) return;
    const { keepAliveMs } = this.opts;
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = undefined;
      const now = performance.now();
      for (let i = this.idle.length - 1; i >= 0; i--) {
        const pc = this.idle[i]!;
        if (now - pc.idleSince >= keepAliveMs) {
          this.idle.splice(i, 1);
          this.discard(pc);
        }
      }
      this.armSweep();
    }, keepAliveMs);
    // Never keeps the process (or a dropped capability) alive.
    this.sweepTimer.unref();
  }
}

/** `promise`, or the signal's reason as soon as `signal` aborts (the promise is left to settle unobserved). */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
