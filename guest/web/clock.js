// Date, new Date(), Date() and performance.now() read the host's clocks (agentos:skill/clock,
// served by the worker without a round trip to the main thread, in whole milliseconds).
//
// Until the host has seeded the instance (random.js), the module is being initialised at build
// time (Wizer snapshot): there is no host to ask (see BUILD_TIME below).

import { monotonic, now } from 'agentos:skill/clock@0.1.1';

let live = false;

/** Called by the runtime once the host has seeded this instance: host imports now answer. */
export function clockLive() {
  live = true;
}

// While the module is initialised at build time (libraries such as lodash-es read the clock as
// they load) the clock stands still at the build's time, which build-skill writes in; the
// snapshot keeps whatever was computed from it.
/* global __AGENTOS_BUILD_TIME__ */
const BUILD_TIME = typeof __AGENTOS_BUILD_TIME__ === 'number' ? __AGENTOS_BUILD_TIME__ : 0;

function wall() {
  return live ? now() : BUILD_TIME;
}

function mono() {
  return live ? monotonic() : 0;
}

export function installClock() {
  const RealDate = Date;
  const proto = RealDate.prototype;
  const dateNow = function now() {
    return wall('Date.now()');
  };
  const HostDate = new Proxy(RealDate, {
    construct(target, args, newTarget) {
      // `new Date()` is now; any argument (even undefined) keeps its usual meaning.
      if (args.length === 0) return Reflect.construct(target, [wall('new Date()')], newTarget === HostDate ? target : newTarget);
      return Reflect.construct(target, args, newTarget === HostDate ? target : newTarget);
    },
    apply() {
      // `Date()` called as a function: the current time as a string.
      return new RealDate(wall('Date()')).toString();
    },
    get(target, key, receiver) {
      if (key === 'now') return dateNow;
      return Reflect.get(target, key, receiver);
    },
  });
  try {
    Object.defineProperty(RealDate, 'now', { value: dateNow, configurable: true, writable: true });
  } catch {
    // the proxy's `get` answers for it
  }
  Object.defineProperty(proto, 'constructor', { value: HostDate, configurable: true, writable: true });
  Object.defineProperty(globalThis, 'Date', { value: HostDate, configurable: true, writable: true });

  const native = typeof globalThis.performance === 'object' && globalThis.performance !== null ? globalThis.performance : undefined;
  const perfNow = function now() {
    return mono('performance.now()');
  };
  const members = {
    now: { value: perfNow, configurable: true, writable: true, enumerable: true },
    timeOrigin: { get: () => wall('performance.timeOrigin') - mono('performance.timeOrigin'), configurable: true, enumerable: true },
  };
  if (native) {
    try {
      Object.defineProperties(native, members);
      if (native.now === perfNow) return;
    } catch {
      // QuickJS: `now` is not configurable; shadow the whole object below
    }
  }
  const perf = Object.create(native ?? Object.prototype, members);
  Object.defineProperty(perf, 'toJSON', { value: () => ({ timeOrigin: perf.timeOrigin }), configurable: true, writable: true });
  Object.defineProperty(globalThis, 'performance', { value: perf, configurable: true, writable: true });
}
