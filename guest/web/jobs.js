// Promises a skill can await inside one synchronous `invoke`.
//
// Every host call is synchronous, so an async handler can always run to its end before invoke
// returns, provided someone runs the promise jobs. QuickJS built with componentize-qjs --sync
// never runs them; StarlingMonkey runs them only after the export has returned, too late for its
// result. So the build lowers async functions and async generators to generators
// (esbuild `supported`), which take their promises from the global `Promise`; here that is
// promise-polyfill (A+, all/allSettled/any/race/finally) with its job queue in JS, which the
// runtime drains right after the handler returns.

// promise-polyfill captures `setTimeout` when it loads; QuickJS has none. It is only the default
// scheduler, replaced below, so a placeholder is set for the load and removed again.
import { hadTimeout } from './jobs-preload.js';
import PolyfillPromise from 'promise-polyfill/src/index.js';

if (!hadTimeout) delete globalThis.setTimeout;

/** Pending jobs, a queue read from `head`. */
let jobs = [];
let head = 0;

function enqueue(fn) {
  jobs.push(fn);
}

/** Reported like a browser's uncaught error in a microtask; set by the console module. */
let onUncaught = () => {};
export function setUncaughtReporter(fn) {
  onUncaught = fn;
}

export function installJobs() {
  PolyfillPromise._immediateFn = enqueue;
  // A rejection handled a few jobs later is normal; nothing to report at the moment it happens.
  PolyfillPromise._unhandledRejectionFn = () => {};
  Object.defineProperty(PolyfillPromise.prototype, Symbol.toStringTag, { value: 'Promise', configurable: true });
  Object.defineProperty(globalThis, 'Promise', { value: PolyfillPromise, configurable: true, writable: true });
  Object.defineProperty(globalThis, 'queueMicrotask', {
    value: function queueMicrotask(callback) {
      if (typeof callback !== 'function') throw new TypeError("queueMicrotask: the argument is not a function");
      enqueue(() => {
        try {
          callback();
        } catch (e) {
          onUncaught(e);
        }
      });
    },
    configurable: true,
    writable: true,
  });
}

/** Runs every pending job, and the jobs they queue, until none is left. */
export function drainJobs() {
  while (head < jobs.length) {
    const job = jobs[head];
    jobs[head++] = undefined;
    job();
    if (head > 1024 && head * 2 > jobs.length) {
      jobs = jobs.slice(head);
      head = 0;
    }
  }
  jobs = [];
  head = 0;
}

/**
 * Drives `value` (a thenable) to its end: `{ ok: true, value }`, `{ ok: false, error }`, or
 * undefined if it is still pending once no job is left (it waits on something a skill cannot
 * have: a timer, an engine-native promise).
 */
export function settle(value) {
  let out;
  PolyfillPromise.resolve(value).then(
    (v) => {
      out = { ok: true, value: v };
    },
    (e) => {
      out = { ok: false, error: e };
    },
  );
  drainJobs();
  return out;
}
