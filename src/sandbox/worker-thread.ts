/**
 * Entry point of a skill worker thread (runs inside the thread; the host's side is
 * worker-handle.ts): one component instance, driven over the channel.
 *
 * The guest's imports are synchronous: each one sends a `call` to the host and blocks in
 * Atomics.wait until the host's guard and I/O have answered. Log lines never cross the channel
 * one by one: they are buffered here under a cap and travel with the result.
 */
import { Buffer } from 'node:buffer';
import { randomFillSync } from 'node:crypto';
import { workerData } from 'node:worker_threads';
import { ResourceLimitError } from '../errors.js';
import { ChannelEnd, measure } from './channel.js';
import type {
  CallMsg,
  CallOf,
  DoneMsg,
  HostFn,
  HostToWorker,
  InvokeMsg,
  LogLevel,
  LogLine,
  ReplyValue,
  WorkerBoot,
  WorkerToHost,
} from './protocol.js';
import { SEED_ACK, SEED_COMMAND } from './protocol.js';
import { HANDLE_TABLES_HOOK, InstanceState, type Snapshot } from './instance-reset.js';
import { boundTextDecoder, liftBound, LiftTooLargeError } from './lift-bound.js';
import { SERVED_WIT_VERSIONS } from '../wit-version.js';
import type { FsEntry } from '../capabilities/types.js';
import type { LocalFs } from '../capabilities/fs-local.js';
import type { FsHostFn } from '../capabilities/fs-host.js';
import { InvocationTally } from './tally.js';

// Nothing this thread prints may reach the host's stdout (it can be a protocol channel, e.g.
// MCP): send it to stderr here, so the host needs no pipe.
process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;

// jco's glue wraps a few exports with WebAssembly.promising (JSPI) inside try/catch and falls back
// to the plain function; where JSPI is absent (Node 20/22) each of those throws a TypeError that
// V8 formats by re-parsing a huge function: two thirds of an instantiation. The fallback is the
// identity, so provide it up front. (The sync build never suspends; nothing else reads it.)
if (typeof Reflect.get(WebAssembly, 'promising') !== 'function') Reflect.set(WebAssembly, 'promising', (f: unknown) => f);

const boot = workerData as WorkerBoot;
const channel = new ChannelEnd<WorkerToHost, HostToWorker>(boot.sab, boot.port, 'worker', boot.bounds);
// Before the glue is imported: each guest string it lifts is bounded before it reaches the JS heap.
boundTextDecoder(liftBound(boot));

interface GuestExports {
  invoke(command: string, args: string): string;
}
type Instantiate = (
  getCoreModule: (name: string) => WebAssembly.Module,
  imports: Record<string, Record<string, unknown>>,
  instantiateCore?: (m: WebAssembly.Module, i: WebAssembly.Imports) => WebAssembly.Instance,
) => GuestExports;

// ---- logs, capped per invocation ----
let logs: LogLine[] = [];
let logBytes = 0;
let logsDropped = 0;
function takeLogs(): { logs: LogLine[]; logsDropped: number } {
  const out = { logs, logsDropped };
  logs = [];
  logBytes = 0;
  logsDropped = 0;
  return out;
}

// ---- host calls ----
/** Allowed fs calls are served here when the skill may use fs (fs-local.ts); the rest go to the host. */
const localFs: LocalFs | undefined = boot.fs
  ? (await import('../capabilities/fs-local.js')).createLocalFs(boot.fs, new InvocationTally(boot.tally), channel.bounds)
  : undefined;

/** Set when a reply from the host could not be read: the invocation then ends as `channel`. */
let channelFault: string | undefined;

/**
 * Sends `header` to the host and blocks for its reply. Returns the ok reply's value and bytes, or
 * throws the WIT error variant (jco lowers a thrown non-Error as err).
 */
function call<F extends HostFn>(header: CallOf<F>, payload?: Uint8Array): { v: ReplyValue<F>; payload: Uint8Array | undefined };
function call(header: CallMsg, payload?: Uint8Array): { v: unknown; payload: Uint8Array | undefined } {
  // Guest code running outside an invocation (a pre-seeding component answering the seed call)
  // has nobody on the host side to serve it: refuse without touching the channel.
  if (!inInvocation) throw { tag: 'denied', val: 'no capability outside an invocation' };
  const m = measure(header, payload, channel.bounds);
  if (localFs && !m.over && header.fn.startsWith('fs.') && 'path' in header) {
    const a = localFs(header as CallOf<FsHostFn>, payload);
    if (a) {
      if (!a.ok) throw a.err;
      return { v: a.v, payload: a.payload };
    }
  }
  // A call too big to cross (a huge write, a huge request): only its size goes; the host answers
  // `limit` and fails the invocation.
  if (m.over) channel.send({ header: { t: 'call', fn: header.fn, oversize: m.over } });
  else channel.send({ header, payload, json: m.json });
  // Asleep until the reply, no polling: allowed fs calls no longer come here (fs-local.ts), and a
  // net reply takes >= ~120 us, so a 300 us poll mostly burned a core the main thread needed for
  // the request (loopback fetch invoke, 4 paired rounds: 528-879 us polling, 570-787 without).
  const reply = channel.receiveSync();
  const h = reply.header;
  if (h.t !== 'reply') {
    channelFault ??= h.t === 'malformed' ? h.message : `unexpected ${String(h.t)} message from the host`;
    throw { tag: 'failed', val: `the host's reply to ${header.fn} could not be read` };
  }
  if (!h.ok) throw h.err;
  // The host (trusted) answers `F` with `F`'s value (protocol.ts HostFunctionShapes).
  return { v: h.v, payload: reply.payload };
}

const toEntry = (e: FsEntry) => ({ name: e.name, kind: e.kind, size: BigInt(e.size) });

const fsImports = {
  readFile: (path: string) => call({ t: 'call', fn: 'fs.read-file', path }).payload ?? new Uint8Array(0),
  writeFile: (path: string, data: Uint8Array) => {
    call({ t: 'call', fn: 'fs.write-file', path }, data);
  },
  listDir: (path: string) => call({ t: 'call', fn: 'fs.list-dir', path }).v.map(toEntry),
  stat: (path: string) => toEntry(call({ t: 'call', fn: 'fs.stat', path }).v),
  remove: (path: string) => {
    call({ t: 'call', fn: 'fs.remove', path });
  },
  makeDir: (path: string) => {
    call({ t: 'call', fn: 'fs.make-dir', path });
  },
};

interface WitRequest {
  method: string;
  url: string;
  headers: { name: string; value: string }[];
  body?: Uint8Array | undefined;
}
const netImports = {
  fetch: (req: WitRequest) => {
    const r = call({ t: 'call', fn: 'net.fetch', req: { method: req.method, url: req.url, headers: req.headers } }, req.body);
    return { status: r.v.status, headers: r.v.headers, body: r.payload ?? new Uint8Array(0) };
  },
};

const logImports = {
  log: (level: LogLevel, message: string) => {
    const size = message.length + 8;
    if (logs.length >= boot.maxLogLines || logBytes + size > boot.maxLogBytes) {
      logsDropped++;
      return;
    }
    logs.push({ level, message: String(message) });
    logBytes += size;
  },
};

/**
 * agentos:skill/clock (from 0.1.1): served here, in the worker, with no channel round trip. Both clocks
 * are floored to whole milliseconds (timing side channels: the guest shares this process with
 * the host and other skills). The monotonic clock counts from the instance's creation, so it
 * tells nothing about how long this worker has lived.
 */
let instanceOrigin = performance.now();
const clockImports = {
  now: () => Math.floor(Date.now()),
  monotonic: () => Math.floor(performance.now() - instanceOrigin),
};

// jco's instantiation code looks imports up without the version; provide every spelling.
const imports: Record<string, Record<string, unknown>> = {};
for (const v of ['', ...SERVED_WIT_VERSIONS.map((version) => `@${version}`)]) {
  imports[`agentos:skill/fs${v}`] = fsImports;
  imports[`agentos:skill/net${v}`] = netImports;
  imports[`agentos:skill/log${v}`] = logImports;
  imports[`agentos:skill/types${v}`] = {};
  imports[`agentos:skill/clock${v}`] = clockImports;
}

// ---- the instance ----
/** The state objects of the current instance (every core instance's memories, tables, globals). */
let state = new InstanceState();
function instantiateCore(m: WebAssembly.Module, i: WebAssembly.Imports): WebAssembly.Instance {
  const inst = new WebAssembly.Instance(m, i);
  state.collect(inst, i);
  return inst;
}
// The glue hands over its resource handle tables while instantiating (glue-hook.ts).
Reflect.set(globalThis, HANDLE_TABLES_HOOK, (tables: unknown) => state.setHandleTables(tables));

const { instantiate } = (await import(boot.jsUrl)) as { instantiate: Instantiate };
let guest: GuestExports;
let inInvocation = false;
/** False once the component showed it predates seeding (it keeps its engine's own generator). */
let seedable = true;

/** The instance's state right after instantiation, before seeding; undefined: re-instantiate instead. */
let snapshot: Snapshot | undefined;
/** 'snapshot', or why this component's instances are re-instantiated for a fresh state. */
let freshBy = 'snapshot';

function instantiateGuest(): void {
  state = new InstanceState();
  snapshot = undefined;
  instanceOrigin = performance.now();
  guest = instantiate((name) => {
    const m = boot.modules[name];
    if (!m) throw new Error(`core module ${name} missing`);
    return m;
  }, imports, instantiateCore);
}

/** CSPRNG bytes for the next 64 seeds, drawn in one call (one randomBytes per reset cost ~6 us). */
const seedPool = Buffer.alloc(64 * 32);
let seedAt = seedPool.length;
/** 32 fresh CSPRNG bytes (hex), each used once. */
function nextSeed(): string {
  if (seedAt === seedPool.length) {
    randomFillSync(seedPool);
    seedAt = 0;
  }
  const hex = seedPool.toString('hex', seedAt, seedAt + 32);
  // Spent: zeroed, so no later read of the pool can see a seed already given out.
  seedPool.fill(0, seedAt, seedAt + 32);
  seedAt += 32;
  return hex;
}

/**
 * Keys the new instance's randomness from this process's CSPRNG (guest/random.js): a component is
 * a snapshot, so without this every instance replays the PRNG state baked in at build time.
 */
function seedGuest(): boolean {
  let acked = false;
  try {
    acked = guest.invoke(SEED_COMMAND, nextSeed()) === SEED_ACK;
  } catch {
    acked = false;
  }
  takeLogs();
  return acked;
}

/** Saves the new instance's state (before seeding: every reset is seeded anew), when it can be exact. */
function takeSnapshot(): void {
  if (!boot.freshInstance) return;
  if (boot.notResettable) {
    freshBy = boot.notResettable;
    return;
  }
  snapshot = state.save({ tablesFixed: boot.tablesFixed });
  if (!snapshot) freshBy = state.unsafe ?? 'the state cannot be saved';
}

function fresh(): number {
  const t0 = performance.now();
  channel.setFlag(false);
  instantiateGuest();
  takeSnapshot();
  if (seedable && !seedGuest()) {
    // Built before seeding existed: its skill code may have seen the reserved command, so start
    // over from a clean instance and never send it again.
    seedable = false;
    instantiateGuest();
    takeSnapshot();
  }
  channel.setFlag(true);
  return performance.now() - t0;
}

/**
 * A fresh state for the next caller: the instance put back to its snapshot, with a new seed and
 * a new clock origin, as a new instance would have; or a new instance where that cannot be exact.
 */
function renew(): void {
  if (snapshot) {
    channel.setFlag(false);
    if (snapshot.restore()) {
      instanceOrigin = performance.now();
      if (!seedable || seedGuest()) {
        channel.setFlag(true);
        return;
      }
    }
  }
  fresh();
}

/** A trap with memory at its cap is the memory limit, whatever the engine said. */
function nearMemoryCap(): boolean {
  const pageSlack = 2 * 65536;
  return state.memoryList.some((m) => m.buffer.byteLength + pageSlack >= boot.memoryBytes);
}

/** A trap's own text that means the engine ran out of memory (not the guest's words). */
function isOutOfMemoryMessage(msg: string): boolean {
  return /out of memory|memory allocation failed|could not allocate/i.test(msg);
}

/** The engine's own OOM report, in the engines' exact words (QuickJS / StarlingMonkey / bad_result). */
function isEngineOutOfMemory(payload: string): boolean {
  let f: { kind?: unknown; message?: unknown; name?: unknown };
  try {
    f = JSON.parse(payload) as typeof f;
  } catch {
    return false;
  }
  if (!f || typeof f !== 'object' || typeof f.message !== 'string') return false;
  if (f.kind === 'error') return f.message === 'out of memory' && (f.name === undefined || f.name === 'InternalError');
  if (f.kind === 'bad_result') return f.message.endsWith(': out of memory');
  return false;
}

function overCap(text: string, max: number): boolean {
  return text.length > max || (text.length * 3 > max && Buffer.byteLength(text) > max);
}

function runInvoke(msg: InvokeMsg): DoneMsg {
  channelFault = undefined;
  const done = invokeGuest(msg);
  if (channelFault === undefined) return done;
  return { t: 'done', ok: false, kind: 'channel', message: channelFault, logs: done.logs, logsDropped: done.logsDropped };
}

/** Sends `done`; one over the channel's bounds (results and logs are capped, but JSON escapes grow) becomes `result_size`. */
function sendDone(done: DoneMsg): void {
  try {
    channel.send({ header: done });
  } catch (e) {
    if (!(e instanceof ResourceLimitError)) throw e;
    channel.send({ header: { t: 'done', ok: false, kind: 'result_size', message: e.message, logs: [], logsDropped: 0 } });
  }
}

function invokeGuest(msg: InvokeMsg): DoneMsg {
  inInvocation = true;
  try {
    const result = guest.invoke(msg.command, msg.args);
    const max = boot.maxResultBytes;
    if (overCap(result, max)) {
      const message = `result of ${Buffer.byteLength(result)} bytes is over the ${boot.maxResultBytes}-byte limit`;
      return { t: 'done', ok: false, kind: 'result_size', message, ...takeLogs() };
    }
    return { t: 'done', ok: true, result, ...takeLogs() };
  } catch (e) {
    const err = e as { payload?: unknown; message?: string } | undefined;
    if (err && typeof err === 'object' && 'payload' in err && typeof err.payload === 'string') {
      // The guest returned err(string): its own failure, the instance is intact.
      if (isEngineOutOfMemory(err.payload)) return { t: 'done', ok: false, kind: 'memory', message: err.payload, ...takeLogs() };
      // An error text is output too: the result cap applies to it.
      if (overCap(err.payload, boot.maxResultBytes)) {
        const message = `error text of ${Buffer.byteLength(err.payload)} bytes is over the ${boot.maxResultBytes}-byte limit`;
        return { t: 'done', ok: false, kind: 'result_size', message, ...takeLogs() };
      }
      return { t: 'done', ok: false, kind: 'guest', message: err.payload, ...takeLogs() };
    }
    const message = e instanceof Error ? e.message : String(e);
    const kind =
      e instanceof LiftTooLargeError
        ? 'memory'
        : e instanceof RangeError && /call stack/i.test(message)
        ? 'trap'
        : nearMemoryCap() || isOutOfMemoryMessage(message)
          ? 'memory'
          : 'trap';
    return { t: 'done', ok: false, kind, message, ...takeLogs() };
  } finally {
    inInvocation = false;
  }
}

try {
  const ms = fresh();
  channel.send({ header: { t: 'ready', instantiateMs: ms, freshBy: boot.freshInstance ? freshBy : 'reused (no fresh state)' } });
} catch (e) {
  channel.send({ header: { t: 'boot-failed', message: e instanceof Error ? e.message : String(e) } });
  process.exit(1);
}

/**
 * Instance lifecycle. With `freshInstance`, an invocation never sees what another caller's left:
 * after an invocation without a session the instance is renewed at once (reset to its snapshot,
 * or replaced; after the reply, off the caller's path). After an invocation of session S the instance is kept for a
 * moment, so S's next call runs warm; any other caller gets a fresh one first, and if nothing
 * comes within SESSION_IDLE_MS the instance is replaced in the background anyway.
 */
const SESSION_IDLE_MS = 50;
let session: string | undefined; // the session whose state the current instance holds
for (;;) {
  const msg = session === undefined ? channel.receiveSync() : channel.receiveSync(SESSION_IDLE_MS);
  if (!msg) {
    session = undefined;
    renew();
    continue;
  }
  const header = msg.header;
  if (header.t === 'malformed') {
    sendDone({ t: 'done', ok: false, kind: 'channel', message: header.message, logs: [], logsDropped: 0 });
    continue;
  }
  if (header.t !== 'invoke') continue;
  if (boot.freshInstance) {
    if (session !== undefined && header.session !== session) renew();
    channel.setFlag(false);
  }
  const done = runInvoke(header);
  const poisoned = !done.ok && (done.kind === 'trap' || done.kind === 'memory');
  sendDone(done);
  // A trapped instance cannot be entered again; a fresh one also drops all guest state.
  session = undefined;
  if (poisoned) fresh();
  else if (boot.freshInstance) {
    if (header.session === undefined) renew();
    else session = header.session;
  }
}
