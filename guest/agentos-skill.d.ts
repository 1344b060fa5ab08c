// Types for skill authors: the agentos:skill interfaces (wit/skill.wit, 0.1.0 and 0.1.1, which
// only adds `clock`) as a JS/TS skill sees them, and the helper module '@agentos/skills/guest'.
//
// Include this file in a skill's tsconfig ("files": [".../guest/agentos-skill.d.ts"]) or
// reference it (/// <reference types="@agentos/skills/guest" />).
//
// What the guest really sees (checked with both engines):
// - every function is synchronous; a `result<T, error>` returns T or throws;
// - a failed call throws an exception whose `payload` is the `error` variant `{ tag, val }`
//   (an Error in QuickJS, a plain object in StarlingMonkey; use `capabilityError(e)` or the
//   helpers' CapabilityError rather than `instanceof Error`);
// - `list<u8>` arrives as a Uint8Array and may be passed as a Uint8Array or an array of numbers;
// - `u64` (entry sizes) is a number in QuickJS and a BigInt in StarlingMonkey;
// - `option<T>` is `T | undefined` (null is accepted when passing one).
// Both the versioned ('agentos:skill/fs@0.1.0') and unversioned ('agentos:skill/fs') names can be
// imported; build-skill rewrites the latter.

declare module 'agentos:skill/types@0.1.0' {
  export type ErrorTag = 'denied' | 'not-found' | 'invalid' | 'limit' | 'failed';
  /** Why a capability call failed (the WIT `error` variant). */
  export type Error =
    | { tag: 'denied'; val: string }
    | { tag: 'not-found'; val: string }
    | { tag: 'invalid'; val: string }
    | { tag: 'limit'; val: string }
    | { tag: 'failed'; val: string };
  /** What a failed capability call throws. */
  export interface CallFailure {
    readonly payload: Error;
    readonly message: string;
  }
}

declare module 'agentos:skill/net@0.1.0' {
  export type { Error } from 'agentos:skill/types@0.1.0';
  export interface Header {
    name: string;
    value: string;
  }
  export interface Request {
    method: string;
    url: string;
    headers: Header[];
    body?: Uint8Array | number[] | null | undefined;
  }
  export interface Response {
    status: number;
    headers: Header[];
    body: Uint8Array;
  }
  /** Throws (payload: Error) when the host refuses or the request fails. Any HTTP status is a Response. */
  export function fetch(req: Request): Response;
}

declare module 'agentos:skill/fs@0.1.0' {
  export type { Error } from 'agentos:skill/types@0.1.0';
  export type EntryKind = 'file' | 'directory' | 'symlink' | 'other';
  export interface Entry {
    name: string;
    kind: EntryKind;
    /** u64: a number in QuickJS, a BigInt in StarlingMonkey. */
    size: number | bigint;
  }
  /** Paths are absolute host paths. Each function throws (payload: Error) on failure. */
  export function readFile(path: string): Uint8Array;
  export function writeFile(path: string, data: Uint8Array | number[]): void;
  export function listDir(path: string): Entry[];
  export function stat(path: string): Entry;
  export function remove(path: string): void;
  export function makeDir(path: string): void;
}

declare module 'agentos:skill/log@0.1.0' {
  export type Level = 'debug' | 'info' | 'warn' | 'error';
  export function log(level: Level, message: string): void;
}

declare module 'agentos:skill/clock@0.1.1' {
  /** Wall clock: whole milliseconds since the Unix epoch (UTC), like Date.now(). */
  export function now(): number;
  /** Monotonic: whole milliseconds since this instance was created. */
  export function monotonic(): number;
}

declare module 'agentos:skill/types@0.1.1' {
  export * from 'agentos:skill/types@0.1.0';
}
declare module 'agentos:skill/net@0.1.1' {
  export * from 'agentos:skill/net@0.1.0';
}
declare module 'agentos:skill/fs@0.1.1' {
  export * from 'agentos:skill/fs@0.1.0';
}
declare module 'agentos:skill/log@0.1.1' {
  export * from 'agentos:skill/log@0.1.0';
}

declare module 'agentos:skill/clock' {
  export * from 'agentos:skill/clock@0.1.1';
}
declare module 'agentos:skill/types' {
  export * from 'agentos:skill/types@0.1.0';
}
declare module 'agentos:skill/net' {
  export * from 'agentos:skill/net@0.1.0';
}
declare module 'agentos:skill/fs' {
  export * from 'agentos:skill/fs@0.1.0';
}
declare module 'agentos:skill/log' {
  export * from 'agentos:skill/log@0.1.0';
}

/** Conveniences on top of the raw interfaces (guest/helpers.js, bundled by build-skill). */
declare module '@agentos/skills/guest' {
  import type { ErrorTag } from 'agentos:skill/types@0.1.0';
  import type { EntryKind } from 'agentos:skill/fs@0.1.0';

  /** What a command handler receives besides its args. */
  export interface CommandContext {
    command: string;
  }
  /** The `commands` export of a skill: each handler gets the parsed args and returns a JSON-able value. */
  export type Commands = Record<string, (args: any, ctx: CommandContext) => unknown>;

  /** A capability call failed; `tag`/`val` are the variant the host returned. */
  export class CapabilityError extends Error {
    constructor(tag: ErrorTag, val: string, operation?: string);
    readonly tag: ErrorTag;
    readonly val: string;
    readonly payload: { tag: ErrorTag; val: string };
  }
  /** The `{tag, val}` of a failed capability call from any caught value, else undefined. */
  export function capabilityError(e: unknown): { tag: ErrorTag; val: string } | undefined;

  export interface Entry {
    name: string;
    kind: EntryKind;
    size: number;
  }
  export function readBytes(path: string): Uint8Array;
  export function readText(path: string): string;
  export function readJson<T = unknown>(path: string): T;
  export function writeBytes(path: string, data: Uint8Array | number[]): void;
  export function writeText(path: string, text: string): void;
  export function writeJson(path: string, value: unknown): void;
  export function list(path: string): Entry[];
  export function stat(path: string): Entry;
  export function exists(path: string): boolean;
  export function remove(path: string): void;
  export function mkdir(path: string): void;

  export interface FetchInit {
    method?: string;
    headers?: Record<string, string> | [string, string][];
    body?: string | Uint8Array | null;
  }
  export interface BytesResponse {
    status: number;
    ok: boolean;
    /** Lower-case names; repeated headers joined with ', '. */
    headers: Record<string, string>;
    body: Uint8Array;
  }
  export interface TextResponse {
    status: number;
    ok: boolean;
    headers: Record<string, string>;
    text: string;
  }
  export function fetchBytes(url: string, init?: FetchInit): BytesResponse;
  export function fetchText(url: string, init?: FetchInit): TextResponse;
  /** Parsed JSON body; throws on a non-2xx status or a body that is not JSON. */
  export function fetchJson<T = unknown>(url: string, init?: FetchInit): T;

  export function encodeUtf8(text: string): Uint8Array;
  export function decodeUtf8(bytes: Uint8Array): string;

  export const log: {
    debug(...parts: unknown[]): void;
    info(...parts: unknown[]): void;
    warn(...parts: unknown[]): void;
    error(...parts: unknown[]): void;
  };
}
