/**
 * The net guard's value types, shared by net-guard.ts and net-allow-rules.ts (which net-guard
 * imports): here so that both import them one way, without a cycle.
 */
import type { IpClassification } from './ip-ranges.js';

export type NetScheme = 'http' | 'https';

/** One allow_domains (or deniedDomains) entry, parsed and canonical (see net-guard.ts). */
export interface AllowEntry {
  /** The entry as written. */
  source: string;
  scheme: NetScheme;
  /** Canonical host (A-labels, lowercase, no trailing dot, IPv6 in brackets); for a wildcard, the part after `*.`. */
  host: string;
  wildcard: boolean;
  /** The one port this entry allows (explicit, or the scheme's default). */
  port: number;
  explicitScheme: boolean;
  explicitPort: boolean;
  /** Set when the host is an IP literal. */
  ip: IpClassification | null;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };
