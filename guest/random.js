// Randomness inside a skill, seeded by the host for every fresh instance.
//
// A built component is a snapshot (Wizer) of the engine after the skill's module code ran, so
// the engine's own PRNG state (Math.random, StarlingMonkey's crypto) is baked into the wasm
// file: every instance of every process would replay the same sequence. Instead, right after
// instantiating (and after every reset), the host calls the component's `invoke` once with the
// reserved command SEED_COMMAND and 32 bytes from its CSPRNG (hex) as args. From then on
// Math.random, crypto.getRandomValues and crypto.randomUUID draw from a ChaCha20 keystream keyed
// by that seed (RFC 8439, @noble/ciphers): unpredictable to anyone without the seed, different in
// every instance. The reserved name cannot reach a skill: manifest command names exclude NUL,
// and the host only runs commands its manifest declares.

import { chacha20 } from '@noble/ciphers/chacha.js';

export const SEED_COMMAND = '\u0000agentos:seed';
/** What `invoke(SEED_COMMAND, ...)` returns, so the host knows the instance took the seed. */
export const SEED_ACK = 'agentos:seeded';

/** Largest request crypto.getRandomValues serves (the Web Crypto limit). */
const MAX_RANDOM_VALUES = 65536;
const BLOCK_BYTES = 64;
const BUFFER_BLOCKS = 16;

let key; // Uint8Array(32) once seeded
let nonce;
let counter = 0;
let buffer = new Uint8Array(0);
let pos = 0;
const zeros = new Uint8Array(BLOCK_BYTES * BUFFER_BLOCKS);

/** Keys the generator with the host's seed (64 hex chars); throws on anything else. */
export function seed(hex) {
  if (typeof hex !== 'string' || !/^[0-9a-f]{64}$/.test(hex)) throw new Error('bad seed');
  const k = new Uint8Array(32);
  for (let i = 0; i < 32; i++) k[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  key = k;
  nonce = new Uint8Array(12);
  counter = 0;
  buffer = new Uint8Array(0);
  pos = 0;
}

function refill() {
  // The 32-bit block counter must never wrap: move to the next nonce long before it would.
  if (counter > 0xffff0000) {
    for (let i = 0; i < nonce.length && ++nonce[i] === 0; i++);
    counter = 0;
  }
  buffer = chacha20(key, nonce, zeros, undefined, counter);
  counter += BUFFER_BLOCKS;
  pos = 0;
}

/** Fills `out` (a Uint8Array) with keystream bytes. */
function fill(out) {
  let i = 0;
  while (i < out.length) {
    if (pos >= buffer.length) refill();
    const n = Math.min(out.length - i, buffer.length - pos);
    out.set(buffer.subarray(pos, pos + n), i);
    // Bytes handed out are never handed out again.
    buffer.fill(0, pos, pos + n);
    pos += n;
    i += n;
  }
}

const INTEGER_ARRAYS = [
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
  'Int32Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array',
];

function isIntegerArray(v) {
  return INTEGER_ARRAYS.some((name) => typeof globalThis[name] === 'function' && v instanceof globalThis[name]);
}

/** Replaces the engines' baked-in generators; until the host seeds, the originals answer. */
export function installRandom() {
  const original = Math.random;
  const bytes = new Uint8Array(8);
  Math.random = function random() {
    if (!key) return original();
    fill(bytes);
    // 53 random bits, as V8 and SpiderMonkey give.
    const hi = (bytes[0] | (bytes[1] << 8) | (bytes[2] << 16)) & 0x1fffff; // 21 bits
    const lo = (bytes[3] | (bytes[4] << 8) | (bytes[5] << 16) | (bytes[6] << 24)) >>> 0; // 32 bits
    return (hi * 0x100000000 + lo) / 0x20000000000000;
  };

  const native = typeof globalThis.crypto === 'object' && globalThis.crypto !== null ? globalThis.crypto : undefined;
  const nativeGet = native && typeof native.getRandomValues === 'function' ? native.getRandomValues.bind(native) : undefined;

  function getRandomValues(array) {
    if (!ArrayBuffer.isView(array) || !isIntegerArray(array)) {
      throw new TypeError('crypto.getRandomValues: the argument must be an integer typed array');
    }
    if (array.byteLength > MAX_RANDOM_VALUES) {
      const e = new Error(`crypto.getRandomValues: ${array.byteLength} bytes requested, at most ${MAX_RANDOM_VALUES} allowed`);
      e.name = 'QuotaExceededError';
      throw e;
    }
    if (!key) {
      if (nativeGet) return nativeGet(array);
      throw new Error('crypto.getRandomValues: no randomness before the host seeded this instance');
    }
    fill(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
    return array;
  }

  function randomUUID() {
    const b = new Uint8Array(16);
    getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let s = '';
    for (let i = 0; i < 16; i++) {
      if (i === 4 || i === 6 || i === 8 || i === 10) s += '-';
      s += (b[i] < 16 ? '0' : '') + b[i].toString(16);
    }
    return s;
  }

  const methods = {
    getRandomValues: { value: getRandomValues, configurable: true, writable: true },
    randomUUID: { value: randomUUID, configurable: true, writable: true },
  };
  if (native) {
    try {
      Object.defineProperties(native, methods);
      if (native.getRandomValues === getRandomValues) return;
    } catch {
      // a frozen or exotic crypto object: shadow it below
    }
  }
  // No crypto (QuickJS) or one we cannot change: a crypto whose other members (subtle...) are
  // still the engine's.
  Object.defineProperty(globalThis, 'crypto', {
    value: Object.create(native ?? Object.prototype, methods),
    configurable: true,
    writable: true,
  });
}
