// UTF-8 for the other web modules: the engine's TextEncoder/TextDecoder where it has them
// (StarlingMonkey), else text-encoding-utf-8 (the Encoding Standard's utf-8 codec, with fatal and
// ignoreBOM), which encoding.js also installs as the globals.
import { TextDecoder as PolyDecoder, TextEncoder as PolyEncoder } from 'text-encoding-utf-8/lib/encoding.lib.mjs';

export const Encoder = typeof globalThis.TextEncoder === 'function' ? globalThis.TextEncoder : PolyEncoder;

// text-encoding-utf-8 predates encodeInto.
if (typeof Encoder.prototype.encodeInto !== 'function') {
  Object.defineProperty(Encoder.prototype, 'encodeInto', {
    value: function encodeInto(source, destination) {
      if (!(destination instanceof Uint8Array)) throw new TypeError('encodeInto: the destination must be a Uint8Array');
      const s = String(source);
      let read = 0;
      let written = 0;
      // Whole code points only, as the standard says.
      for (const ch of s) {
        const bytes = this.encode(ch);
        if (written + bytes.length > destination.length) break;
        destination.set(bytes, written);
        written += bytes.length;
        read += ch.length;
      }
      return { read, written };
    },
    configurable: true,
    writable: true,
  });
}
// The Encoding Standard's labels of utf-8 (text-encoding-utf-8 knows only 'utf-8').
const UTF8_LABELS = ['unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'utf-8', 'utf8', 'x-unicode20utf8'];

class Utf8Decoder extends PolyDecoder {
  constructor(label = 'utf-8', options = undefined) {
    const l = String(label).replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, '').toLowerCase();
    if (!UTF8_LABELS.includes(l)) throw new RangeError(`TextDecoder: the encoding '${label}' is not supported (utf-8 only)`);
    super('utf-8', options);
  }
}

export const Decoder = typeof globalThis.TextDecoder === 'function' ? globalThis.TextDecoder : Utf8Decoder;

const encoder = new Encoder();
const decoder = new Decoder();
export const encodeUtf8 = (s) => encoder.encode(s);
export const decodeUtf8 = (b) => decoder.decode(b);
