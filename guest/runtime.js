// The guest side of every skill built by build-skill. Not imported by skill authors: the build
// bundles it in front of the skill and exports `invoke` from it:
//
//   import { run } from '<this file>';
//   import * as skill from '<the skill entry>';
//   export function invoke(command, args) { return run(skill, command, args); }
//
// Rules it enforces (both engines, see TOOLCHAIN.md):
// - `invoke` returns a string or throws a string, nothing else. An Error, a capability error
//   variant or any other value escaping a component export either traps (StarlingMonkey traps on
//   a thrown Error; both trap on anything that is not a string) or cannot be lowered.
// - The err string is one line of JSON `{"kind", "message", "name"?, "error"?}`; the host reads it
//   with parseGuestFailure (src/build/guest-failure.ts), where the format is documented.
// - Intrinsics are captured when this module is evaluated, before any skill code runs, so a
//   skill replacing JSON.stringify cannot make the wrapper return a non-string.
// - Randomness is keyed by the host for every instance (random.js), never the snapshot's.
// - Skills have no clock. QuickJS traps on Date.now() (its WASI clock is a trap stub) and
//   StarlingMonkey returns the build time; here both throw an Error saying so.

import { SEED_ACK, SEED_COMMAND, installRandom, seed } from './random.js';

const stringify = JSON.stringify;
const parse = JSON.parse;
const hasOwn = Object.prototype.hasOwnProperty;
const toStr = String;
const keys = Object.keys;
const ErrorCtor = Error;
const isSafeInteger = Number.isSafeInteger;
const NumberCtor = Number;
const TAGS = ['denied', 'not-found', 'invalid', 'limit', 'failed'];

installClockGuards();
installRandom();

/**
 * @param {Record<string, unknown>} mod the skill module namespace
 * @param {string} command
 * @param {string} argsJson
 * @returns {string}
 */
export function run(mod, command, argsJson) {
  if (command === SEED_COMMAND) {
    // The host keys this instance's randomness (see random.js); no skill code runs.
    try {
      seed(argsJson);
    } catch {
      throw fallbackFailure('bad_args', 'bad seed');
    }
    return SEED_ACK;
  }
  let out;
  try {
    out = dispatch(mod, command, argsJson);
  } catch (e) {
    throw failureText(e);
  }
  // `typeof` cannot be redefined: whatever happened above, only a string leaves.
  if (typeof out !== 'string') throw fallbackFailure('bad_result', 'the command produced no text');
  return out;
}

/** @returns {string} */
function dispatch(mod, command, argsJson) {
  const raw = mod.invoke;
  if (typeof raw === 'function') {
    const r = raw(command, argsJson);
    if (typeof r === 'string') return r;
    return toJson(r, command);
  }
  const commands = mod.commands;
  if (commands === null || typeof commands !== 'object') {
    throw new Failure('unknown_command', 'the skill exports neither `commands` nor `invoke`');
  }
  if (!hasOwn.call(commands, command) || typeof commands[command] !== 'function') {
    const names = keys(commands).filter((k) => typeof commands[k] === 'function');
    throw new Failure(
      'unknown_command',
      `unknown command '${command}' (commands: ${names.length > 0 ? names.join(', ') : 'none'})`,
    );
  }
  let args;
  try {
    args = parse(argsJson);
  } catch (e) {
    throw new Failure('bad_args', `args are not valid JSON: ${messageOf(e)}`);
  }
  const result = commands[command](args, { command });
  if (result !== null && (typeof result === 'object' || typeof result === 'function') && typeof result.then === 'function') {
    throw new Failure(
      'bad_result',
      `command '${command}' returned a Promise; handlers must be synchronous (capability calls are synchronous, no await needed)`,
    );
  }
  return toJson(result, command);
}

function toJson(value, command) {
  let text;
  try {
    text = stringify(value, bigintReplacer);
  } catch (e) {
    throw new Failure('bad_result', `the result of '${command}' cannot be turned into JSON: ${messageOf(e)}`);
  }
  // undefined, functions and symbols have no JSON text.
  return typeof text === 'string' ? text : 'null';
}

// u64 values (fs entry sizes) are BigInts in StarlingMonkey.
function bigintReplacer(_key, v) {
  if (typeof v === 'bigint') {
    const n = NumberCtor(v);
    return isSafeInteger(n) ? n : toStr(v);
  }
  return v;
}

class Failure {
  constructor(kind, message) {
    this.kind = kind;
    this.message = message;
  }
}

/** @returns {string} the err text for anything thrown; never throws */
function failureText(e) {
  try {
    if (e instanceof Failure) return stringify({ kind: e.kind, message: e.message });
    const variant = capabilityVariant(e);
    if (variant) {
      const message = e instanceof ErrorCtor && typeof e.message === 'string' && !e.message.includes('(see error.payload)')
        ? e.message
        : `${variant.tag}: ${variant.val}`;
      return stringify({ kind: 'capability', message, error: variant });
    }
    if (e !== null && typeof e === 'object' && typeof e.message === 'string') {
      const name = typeof e.name === 'string' ? e.name : undefined;
      return stringify({ kind: 'error', message: e.message, name });
    }
    return stringify({ kind: 'error', message: typeof e === 'string' ? e : describe(e) });
  } catch {
    return fallbackFailure('error', 'the skill threw a value that cannot be described');
  }
}

function fallbackFailure(kind, message) {
  return '{"kind":"' + kind + '","message":"' + message + '"}';
}

/** The `error` variant carried by a failed capability call, however the skill rethrew it. */
function capabilityVariant(e) {
  if (e === null || typeof e !== 'object') return undefined;
  // Raw component error (`payload` is the variant), the helpers' CapabilityError (same), or the
  // variant itself rethrown.
  const v = 'payload' in e ? e.payload : e;
  if (v !== null && typeof v === 'object' && TAGS.includes(v.tag) && typeof v.val === 'string') {
    return { tag: v.tag, val: v.val };
  }
  return undefined;
}

function messageOf(e) {
  try {
    return e !== null && typeof e === 'object' && typeof e.message === 'string' ? e.message : toStr(e);
  } catch {
    return 'unknown error';
  }
}

function describe(v) {
  try {
    const s = stringify(v, bigintReplacer);
    return typeof s === 'string' ? s : toStr(v);
  } catch {
    return toStr(v);
  }
}

function installClockGuards() {
  const noClock = (what) => {
    throw new ErrorCtor(`${what} is not available in a skill: the sandbox gives skills no clock`);
  };
  const RealDate = Date;
  RealDate.now = () => noClock('Date.now()');
  globalThis.Date = new Proxy(RealDate, {
    construct(target, args, newTarget) {
      if (args.length === 0) noClock('new Date()');
      return Reflect.construct(target, args, newTarget);
    },
    apply() {
      return noClock('Date()');
    },
  });
  const perf = globalThis.performance;
  if (typeof perf === 'object' && perf !== null) {
    const now = { value: () => noClock('performance.now()'), configurable: true, writable: true };
    try {
      Object.defineProperty(perf, 'now', now);
    } catch {
      // QuickJS: `now` is non-configurable, but the global binding is writable.
      try {
        Object.defineProperty(globalThis, 'performance', { value: Object.create(perf, { now }), configurable: true, writable: true });
      } catch {
        // leave it: it traps, which the host survives
      }
    }
  }
}
