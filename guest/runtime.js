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
// - The web platform's basics, the same in both engines (web/*.js): Date and performance.now
//   read the host's clocks, console.* writes the skill's log lines, Promise jobs run inside the
//   invocation (so async handlers and `await fetch()` work). build-skill adds fetch, URL,
//   TextEncoder... when the skill mentions them (and the engine lacks a conforming one).

import { SEED_ACK, SEED_COMMAND, installRandom, seed } from './random.js';
import { clockLive, installClock } from './web/clock.js';
import { consoleLive, installConsole, reportUncaught } from './web/console.js';
import { drainJobs, installJobs, setUncaughtReporter, settle } from './web/jobs.js';

const stringify = JSON.stringify;
const parse = JSON.parse;
const hasOwn = Object.prototype.hasOwnProperty;
const toStr = String;
const keys = Object.keys;
const ErrorCtor = Error;
const isSafeInteger = Number.isSafeInteger;
const NumberCtor = Number;
const TAGS = ['denied', 'not-found', 'invalid', 'limit', 'failed'];

installClock();
installRandom();
installConsole();
installJobs();
setUncaughtReporter(reportUncaught);

/** Runs promise jobs the skill's module queued while it was initialised (at build time). */
export function settleModule() {
  drainJobs();
}

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
    // From here on the instance runs in a host: its clock and log imports answer.
    clockLive();
    consoleLive();
    return SEED_ACK;
  }
  let out;
  try {
    out = dispatch(mod, command, argsJson);
  } catch (e) {
    drainQuietly();
    throw failureText(e);
  }
  // Work the skill started without awaiting it runs now, as it would before the next event.
  drainQuietly();
  // `typeof` cannot be redefined: whatever happened above, only a string leaves.
  if (typeof out !== 'string') throw fallbackFailure('bad_result', 'the command produced no text');
  return out;
}

/** @returns {string} */
function dispatch(mod, command, argsJson) {
  const raw = mod.invoke;
  if (typeof raw === 'function') {
    const r = awaited(raw(command, argsJson), command);
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
  const result = awaited(commands[command](args, { command }), command);
  return toJson(result, command);
}

/** A handler's promise run to its end inside this invocation (web/jobs.js); other values as they are. */
function awaited(result, command) {
  if (result === null || (typeof result !== 'object' && typeof result !== 'function') || typeof result.then !== 'function') {
    return result;
  }
  const out = settle(result);
  if (out === undefined) {
    throw new Failure(
      'bad_result',
      `command '${command}' returned a promise that never settled: it waits for something a skill cannot have (a timer, an engine-native promise)`,
    );
  }
  if (!out.ok) throw out.error;
  return out.value;
}

function drainQuietly() {
  try {
    drainJobs();
  } catch {
    // a job that throws past its own handlers cannot change the result any more
  }
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
