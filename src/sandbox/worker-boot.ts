/**
 * Entry of a skill worker thread started before its skill was loaded (worker-handle.ts
 * `prestartWorkerThread`, used by the CLI's one-shot `invoke`): Node's per-thread start-up
 * (~40 ms) runs while the host is still opening the store and loading the skill.
 *
 * The thread's first message is the boot data a thread started with its skill gets as
 * `workerData`. It is made `workerData` here (the builtin's ES module exports synced to it), then
 * worker-thread.js runs exactly as in a thread started with that data. Nothing else runs here.
 */
import { syncBuiltinESMExports } from 'node:module';
import workerThreads, { parentPort } from 'node:worker_threads';

parentPort!.once('message', (boot: unknown) => {
  (workerThreads as { workerData: unknown }).workerData = boot;
  syncBuiltinESMExports();
  // A failure to load it ends this thread with an 'error', as it would in a thread started with it.
  void import('./worker-thread.js');
});
