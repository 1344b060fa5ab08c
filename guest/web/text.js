// UTF-8 for the other web modules: the engine's TextEncoder/TextDecoder where it has them
// (StarlingMonkey), else text-encoding-utf-8 (the Encoding Standard's utf-8 codec, with fatal and
// ignoreBOM), which encoding.js also installs as the globals.
import { TextDecoder as PolyDecoder, TextEncoder as PolyEncoder } from 'text-encoding-utf-8/lib/encoding.lib.mjs';

export const Encoder = typeof globalThis.TextEncoder === 'function' ? globalThis.TextEncoder : PolyEncoder;
export const Decoder = typeof globalThis.TextDecoder === 'function' ? globalThis.TextDecoder : PolyDecoder;

const encoder = new Encoder();
const decoder = new Decoder();
export const encodeUtf8 = (s) => encoder.encode(s);
export const decodeUtf8 = (b) => decoder.decode(b);
