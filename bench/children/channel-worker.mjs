// Echo peer for the channel microbenchmark: the host's own ChannelEnd on both sides, or plain
// postMessage, with no skill, guard or pool in between.
import { parentPort, workerData } from 'node:worker_threads';

const { mode, sab, port, dist } = workerData;
if (mode === 'channel') {
  const { ChannelEnd } = await import(`${dist}/sandbox/channel.js`);
  const ch = new ChannelEnd(sab, port, 'worker');
  ch.send({ header: { t: 'ready' } });
  for (;;) {
    const m = ch.receiveSync();
    if (m.header.t === 'stop') break;
    ch.send({ header: { t: 'reply', ok: true }, payload: m.payload });
  }
} else {
  parentPort.on('message', (m) => {
    if (m === 'stop') process.exit(0);
    parentPort.postMessage(m);
  });
  parentPort.postMessage('ready');
}
