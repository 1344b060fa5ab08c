/**
 * The host <-> worker channel on its own: a real SharedArrayBuffer and a real MessageChannel,
 * two ends in this thread (the main end's `receive` and the worker end's `receiveSync`), and one
 * real worker thread driving the built channel across threads.
 */
import { Buffer } from 'node:buffer';
import { MessageChannel, Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { ResourceLimitError } from '../../src/errors.js';
import { CHANNEL_LAYOUT, ChannelEnd, channelBounds, createChannelBuffer, type ChannelBounds } from '../../src/sandbox/channel.js';

const REGION = 1024;
const opened: MessageChannel[] = [];

function pair(bounds?: Partial<ChannelBounds>, region = REGION) {
  const sab = createChannelBuffer(region);
  const ports = new MessageChannel();
  opened.push(ports);
  return {
    sab,
    port1: ports.port1,
    main: new ChannelEnd(sab, ports.port1, 'main', bounds),
    worker: new ChannelEnd(sab, ports.port2, 'worker', bounds),
  };
}

/** How the last message to the worker went: 0 inline in the region, 1 on the port. */
const via = (sab: SharedArrayBuffer) => new Int32Array(sab, 0, CHANNEL_LAYOUT.CONTROL_BYTES / 4)[CHANNEL_LAYOUT.VIA];

/** Announces, as the main end would, a message the worker end reads: what a broken peer could write. */
function forge(sab: SharedArrayBuffer, f: { via: 0 | 1; jsonLen?: number; binLen?: number; bytes?: string }) {
  const ctrl = new Int32Array(sab, 0, CHANNEL_LAYOUT.CONTROL_BYTES / 4);
  if (f.bytes !== undefined) Buffer.from(sab, CHANNEL_LAYOUT.CONTROL_BYTES).write(f.bytes, 0, 'utf8');
  ctrl[CHANNEL_LAYOUT.VIA] = f.via;
  ctrl[CHANNEL_LAYOUT.JSON_LEN] = f.jsonLen ?? Buffer.byteLength(f.bytes ?? '');
  ctrl[CHANNEL_LAYOUT.BIN_LEN] = f.binLen ?? 0;
  Atomics.add(ctrl, CHANNEL_LAYOUT.SEQ_TO_WORKER, 1);
}

afterEach(() => {
  for (const c of opened.splice(0)) {
    c.port1.close();
    c.port2.close();
  }
});

describe('channel: a message crosses intact, inline or on the port', () => {
  // Header `{"t":"x","s":"..."}` is 16 bytes + the string; the payload fills the rest.
  const header = (n: number) => ({ t: 'x', s: 'a'.repeat(n) });
  const headerBytes = (n: number) => JSON.stringify(header(n)).length;

  it.each([
    ['empty payload, small header', 10, 0, 0],
    ['header + payload exactly the region', 100, REGION - headerBytes(100), 0],
    ['one byte over the region', 100, REGION - headerBytes(100) + 1, 1],
    ['header alone exactly the region', REGION - 16, 0, 0],
    ['header alone one byte over', REGION - 15, 0, 1],
    ['large payload', 10, 64 * 1024, 1],
  ])('%s', (_name, n, payloadBytes, expectedVia) => {
    const c = pair();
    const payload = payloadBytes ? new Uint8Array(payloadBytes).map((_, i) => i % 251) : undefined;
    expect(c.worker.hasMessage()).toBe(false);
    c.main.send({ header: header(n), payload });
    expect(via(c.sab)).toBe(expectedVia);
    expect(c.worker.hasMessage()).toBe(true);
    const got = c.worker.receiveSync(0)!;
    expect(got.header).toEqual(header(n));
    if (payload) expect(Buffer.from(got.payload!).equals(Buffer.from(payload))).toBe(true);
    else expect(got.payload).toBeUndefined();
    expect(c.worker.hasMessage()).toBe(false);
  });

  it('non-ASCII headers are measured in UTF-8 bytes at the boundary', () => {
    const c = pair();
    // 'ü' is 2 bytes in UTF-8: a header of REGION bytes, not REGION - n UTF-16 units.
    const s = 'ü'.repeat((REGION - 16) / 2);
    c.main.send({ header: { t: 'x', s } });
    expect(via(c.sab)).toBe(0);
    expect(c.worker.receiveSync(0)!.header).toEqual({ t: 'x', s });
    c.main.send({ header: { t: 'x', s: `${s}a` } });
    expect(via(c.sab)).toBe(1);
    expect(c.worker.receiveSync(0)!.header).toEqual({ t: 'x', s: `${s}a` });
  });

  it('a payload read from the region is a copy: the next message does not change it', () => {
    const c = pair();
    c.main.send({ header: { t: 'x' }, payload: new Uint8Array([1, 2, 3]) });
    const first = c.worker.receiveSync(0)!;
    c.main.send({ header: { t: 'x' }, payload: new Uint8Array([9, 9, 9]) });
    c.worker.receiveSync(0);
    expect([...first.payload!]).toEqual([1, 2, 3]);
  });

  it('ping-pong both ways, the main end awaiting without blocking', async () => {
    const c = pair();
    const pending = c.main.receive();
    c.worker.send({ header: { t: 'pong', n: 1 } });
    expect((await pending)!.header).toEqual({ t: 'pong', n: 1 });
    c.main.send({ header: { t: 'ping', n: 2 } });
    expect(c.worker.receiveSync()!.header).toEqual({ t: 'ping', n: 2 });
  });

  it('receiveSync with a timeout returns undefined when nothing came', () => {
    const c = pair();
    expect(c.worker.receiveSync(1)).toBeUndefined();
  });

  it('the worker flag is seen by the main end', () => {
    const c = pair();
    expect(c.main.peerFlag()).toBe(false);
    c.worker.setFlag(true);
    expect(c.main.peerFlag()).toBe(true);
    c.worker.setFlag(false);
    expect(c.main.peerFlag()).toBe(false);
  });
});

describe('channel: bounds', () => {
  it.each([
    ['header at its bound', { maxHeaderBytes: 100, maxMessageBytes: 1000 }, 100, 0, true],
    ['header one byte over', { maxHeaderBytes: 100, maxMessageBytes: 1000 }, 101, 0, false],
    ['message at its bound', { maxHeaderBytes: 100, maxMessageBytes: 1000 }, 50, 950, true],
    ['message one byte over', { maxHeaderBytes: 100, maxMessageBytes: 1000 }, 50, 951, false],
  ])('%s', (_name, bounds, headerBytes, payloadBytes, fits) => {
    const c = pair(bounds, 4096);
    const header = { t: 'x', s: 'a'.repeat(headerBytes - 16) };
    expect(JSON.stringify(header).length).toBe(headerBytes);
    const send = () => c.main.send({ header, payload: payloadBytes ? new Uint8Array(payloadBytes) : undefined });
    if (fits) {
      send();
      expect(c.worker.receiveSync(0)!.header).toEqual(header);
    } else {
      expect(send).toThrow(ResourceLimitError);
      try {
        send();
      } catch (e) {
        expect((e as ResourceLimitError).limit).toBe('message_size');
      }
      // Nothing was sent: the turn stays with the sender.
      expect(c.worker.hasMessage()).toBe(false);
    }
  });

  it('bounds are clamped to the hard ceilings; the header bound never exceeds the message bound', () => {
    const hard = channelBounds();
    expect(channelBounds({ maxMessageBytes: Number.MAX_SAFE_INTEGER })).toEqual(hard);
    expect(channelBounds({ maxMessageBytes: -1 })).toEqual(hard);
    expect(channelBounds({ maxMessageBytes: 10 })).toEqual({ maxHeaderBytes: 10, maxMessageBytes: 10 });
  });

  it('a receiver does not trust the sender with the bounds: an oversized port message is malformed', () => {
    const c = pair({ maxHeaderBytes: 100, maxMessageBytes: 200 });
    c.port1.postMessage({ json: JSON.stringify({ t: 'x', s: 'a'.repeat(300) }) });
    forge(c.sab, { via: 1 });
    const got = c.worker.receiveSync(0)!;
    expect(got.header.t).toBe('malformed');
    expect(String(got.header.message)).toMatch(/over the channel's bounds/);
  });
});

describe('channel: what cannot be read is malformed, never a throw', () => {
  it.each([
    ['lengths past the region', { via: 0, jsonLen: REGION, binLen: 1 }, /announces 1024 \+ 1 bytes in a 1024-byte region/],
    ['a negative length', { via: 0, jsonLen: -1 }, /announces -1 \+ 0 bytes/],
    ['a header that is not JSON', { via: 0, bytes: '{"t":' }, /header is not JSON/],
    ['a header that is an array', { via: 0, bytes: '[1,2]' }, /not an object with a type/],
    ['a header that is a number', { via: 0, bytes: '42' }, /not an object with a type/],
    ['a header whose type is not a string', { via: 0, bytes: '{"t":1}' }, /not an object with a type/],
    ['a header that is null', { via: 0, bytes: 'null' }, /not an object with a type/],
    ['a port message announced that never came', { via: 1 }, /announced on the port but none arrived/],
  ] as const)('%s', (_name, f, message) => {
    const c = pair();
    forge(c.sab, f);
    const got = c.worker.receiveSync(0)!;
    expect(got.header.t).toBe('malformed');
    expect(String(got.header.message)).toMatch(/^channel: /);
    expect(String(got.header.message)).toMatch(message);
    expect(got.payload).toBeUndefined();
  });

  it.each([
    ['no JSON header', { payload: new Uint8Array(1) }, /has no JSON header/],
    ['a null message', null, /has no JSON header/],
    ['a payload that is not bytes', { json: '{"t":"x"}', payload: 'bytes' }, /payload that is not bytes/],
  ] as const)('a port message with %s', (_name, posted, message) => {
    const c = pair();
    c.port1.postMessage(posted);
    forge(c.sab, { via: 1 });
    const got = c.worker.receiveSync(0)!;
    expect(got.header.t).toBe('malformed');
    expect(String(got.header.message)).toMatch(message);
  });

  it('after a malformed message the channel goes on', () => {
    const c = pair();
    forge(c.sab, { via: 0, bytes: 'nope' });
    expect(c.worker.receiveSync(0)!.header.t).toBe('malformed');
    c.main.send({ header: { t: 'x', n: 1 } });
    expect(c.worker.receiveSync(0)!.header).toEqual({ t: 'x', n: 1 });
  });
});

describe('channel: cancel', () => {
  it('ends a pending receive with undefined, and every later one', async () => {
    const c = pair();
    const pending = c.main.receive();
    c.main.cancel();
    expect(await pending).toBeUndefined();
    expect(await c.main.receive()).toBeUndefined();
  });
});

describe('channel: across a real worker thread (the built channel)', () => {
  it('echoes messages inline and on the port while the worker blocks in receiveSync', async () => {
    const dist = new URL('../../dist/sandbox/channel.js', import.meta.url).href;
    const sab = createChannelBuffer(REGION);
    const { port1, port2 } = new MessageChannel();
    // The worker end: echo every message with its payload reversed, until `stop`.
    const worker = new Worker(
      `const { workerData } = require('node:worker_threads');
       import(${JSON.stringify(dist)}).then(({ ChannelEnd }) => {
         const end = new ChannelEnd(workerData.sab, workerData.port, 'worker');
         // As a skill worker does: say so first (an end only sees messages sent after it exists).
         end.send({ header: { t: 'ready' } });
         for (;;) {
           const m = end.receiveSync();
           if (m.header.t === 'stop') break;
           end.send({ header: { ...m.header, t: 'echo' }, payload: m.payload && new Uint8Array(m.payload).reverse() });
         }
         workerData.port.close();
       });`,
      { eval: true, workerData: { sab, port: port2 }, transferList: [port2] },
    );
    try {
      const main = new ChannelEnd(sab, port1, 'main');
      expect((await main.receive())!.header).toEqual({ t: 'ready' });
      for (const size of [0, 10, REGION - 40, REGION, 200 * 1024]) {
        const payload = size ? new Uint8Array(size).map((_, i) => i % 7) : undefined;
        main.send({ header: { t: 'msg', size }, payload });
        const got = await main.receive();
        expect(got!.header).toEqual({ t: 'echo', size });
        if (payload) expect(Buffer.from(got!.payload!).equals(Buffer.from(payload.reverse()))).toBe(true);
        else expect(got!.payload).toBeUndefined();
      }
      main.send({ header: { t: 'stop' } });
      expect(await new Promise((r) => worker.once('exit', r))).toBe(0);
    } finally {
      await worker.terminate();
      port1.close();
    }
  });
});
