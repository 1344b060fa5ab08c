// Round trip of one message main -> worker -> main: the host's SharedArrayBuffer channel
// (Atomics.waitAsync on the main side, Atomics.wait in the worker) against plain postMessage,
// and against the same channel polled for a few microseconds before falling back to waitAsync;
// and the start of a bare worker thread.
import { once } from 'node:events';
import { join } from 'node:path';
import { MessageChannel, Worker } from 'node:worker_threads';
import { CHILDREN, DIST } from '../lib/env.mjs';
import { latency, summarizeMs } from '../lib/stats.mjs';

const WORKER = join(CHILDREN, 'channel-worker.mjs');

export const name = 'channel';

export async function run() {
  const out = await channelRoundTrip();
  // Starting a bare worker thread (same resourceLimits as a skill worker) until its first message.
  const starts = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    const w = new Worker(`require('node:worker_threads').parentPort.postMessage(1)`, {
      eval: true,
      resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
    });
    await new Promise((r) => w.once('message', r));
    starts.push(performance.now() - t);
    await w.terminate();
  }
  out.bare_worker_start = summarizeMs(starts);
  return out;
}

async function channelRoundTrip(opts = {}) {
  const { ChannelEnd, createChannelBuffer } = await import(`${DIST}/sandbox/channel.js`);
  const sab = createChannelBuffer();
  const { port1, port2 } = new MessageChannel();
  const w = new Worker(WORKER, { workerData: { mode: 'channel', sab, port: port2, dist: DIST }, transferList: [port2] });
  const ch = new ChannelEnd(sab, port1, 'main');
  await ch.receive();
  const header = { t: 'call', fn: 'fs.read-file', path: '/tmp/agentos-bench/small.txt' };
  const sabChannel = await latency(async () => {
    ch.send({ header });
    await ch.receive();
  }, opts);
  // Same channel, but the main side polls the sequence counter for up to 50 us first.
  const sabSpin = await latency(async () => {
    ch.send({ header });
    const until = performance.now() + 0.05;
    while (!ch.hasMessage() && performance.now() < until);
    await ch.receive();
  }, opts);
  ch.send({ header: { t: 'stop' } });
  await once(w, 'exit');
  port1.close();

  const w2 = new Worker(WORKER, { workerData: { mode: 'post' } });
  await once(w2, 'message');
  const post = await latency(async () => {
    w2.postMessage(header);
    await once(w2, 'message');
  }, opts);
  w2.postMessage('stop');
  await once(w2, 'exit');
  return { sab_channel: sabChannel, sab_channel_spin50us: sabSpin, post_message: post };
}
