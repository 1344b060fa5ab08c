// TextEncoder / TextDecoder (utf-8) where the engine has none (QuickJS).
import { Decoder, Encoder } from './text.js';

for (const [name, value] of [['TextEncoder', Encoder], ['TextDecoder', Decoder]]) {
  if (typeof globalThis[name] !== 'function') {
    Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  }
}
