/**
 * Caps a core wasm module's linear memories by rewriting its memory section.
 *
 * Componentized JS engines declare memories with no maximum, and Worker `resourceLimits` do not
 * count wasm memory, so the only hard cap is the module's own declared maximum: with it,
 * `memory.grow` fails past the cap (QuickJS reports out-of-memory, StarlingMonkey traps).
 */

const WASM_PAGE = 65536;
const MEMORY_SECTION = 5;

function readU32(bytes: Uint8Array, pos: number): [value: number, next: number] {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = bytes[pos++];
    if (b === undefined) throw new Error('truncated LEB128');
    result += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7;
    if (shift > 35) throw new Error('LEB128 too long');
  }
}

function writeU32(value: number): number[] {
  const out: number[] = [];
  do {
    let b = value % 128;
    value = Math.floor(value / 128);
    if (value !== 0) b |= 0x80;
    out.push(b);
  } while (value !== 0);
  return out;
}

/** Returns a copy of `module` whose own memories have at most `maxBytes` (whole pages). */
export function capModuleMemory(module: Uint8Array, maxBytes: number): Uint8Array<ArrayBuffer> {
  const maxPages = Math.max(1, Math.floor(maxBytes / WASM_PAGE));
  if (module[0] !== 0 || module[1] !== 0x61 || module[2] !== 0x73 || module[3] !== 0x6d) {
    throw new Error('not a core wasm module');
  }
  let pos = 8;
  while (pos < module.length) {
    const id = module[pos]!;
    const [size, bodyStart] = readU32(module, pos + 1);
    const bodyEnd = bodyStart + size;
    if (id === MEMORY_SECTION) {
      const body: number[] = [];
      let [count, p] = readU32(module, bodyStart);
      body.push(...writeU32(count));
      while (count-- > 0) {
        const flags = module[p++]!;
        if (flags & 0x04) throw new Error('memory64 is not supported');
        let min: number;
        [min, p] = readU32(module, p);
        let oldMax = Infinity;
        if (flags & 0x01) [oldMax, p] = readU32(module, p);
        const max = Math.max(min, Math.min(oldMax, maxPages));
        body.push(flags | 0x01, ...writeU32(min), ...writeU32(max));
      }
      const section = [MEMORY_SECTION, ...writeU32(body.length), ...body];
      const out = new Uint8Array(pos + section.length + (module.length - bodyEnd));
      out.set(module.subarray(0, pos), 0);
      out.set(section, pos);
      out.set(module.subarray(bodyEnd), pos + section.length);
      return out;
    }
    pos = bodyEnd;
  }
  return new Uint8Array(module);
}
