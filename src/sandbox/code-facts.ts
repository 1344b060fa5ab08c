/**
 * What a core module's code can change after instantiation beyond memories and globals (which a
 * snapshot holds):
 * - tables: only an instruction can write one (table.set, table.grow, table.fill, table.copy,
 *   table.init): element segments fill tables while instantiating, before the snapshot, and the
 *   glue never writes a table from JS. When no module of a component can, every table is as the
 *   snapshot saw it after any invocation, and a reset need not compare ~800 table entries one JS
 *   call each (~22 us of each reset, BENCHMARKS.md issue 15);
 * - segments: data.drop and elem.drop empty a passive segment for the rest of the instance's
 *   life, and no JS API can put it back, so one caller could leave a mark the next would find
 *   (a later memory.init / table.init traps): such a component is re-instantiated, never reset.
 *   Neither engine's modules have either instruction.
 *
 * This walks every instruction of every function body with its immediates. It answers "cannot"
 * only when it decoded every body exactly, each ending on its own `end` at its declared size;
 * anything it does not know (an opcode, a prefix, a malformed body) answers "can" for both.
 * Pure: bytes in, facts out.
 */
import { MalformedModuleError, SECTION, sections } from './wasm-sections.js';

/** Thrown inside the walk for what this decoder does not know: the answer is then `true`. */
class Unknown extends Error {}

// The walk keeps its cursor in two module variables (bytes, position) and plain functions: on a
// 1.3 MiB code section a Reader object per step ran ~20x slower before V8 optimised it.
let b: Uint8Array = new Uint8Array(0);
let p = 0;
let limit = 0;
/** Set by the walk when it meets data.drop or elem.drop. */
let dropsSegments = false;

function byte(): number {
  if (p >= limit) throw new Unknown();
  return b[p++]!;
}

/** Skips a LEB128 of at most `maxBytes` bytes (u32: 5, s33: 5, 64-bit: 10). */
function leb(maxBytes: number): void {
  for (let i = 0; i < maxBytes; i++) if ((byte() & 0x80) === 0) return;
  throw new Unknown();
}

/** A u32 LEB128's value (for counts and sub-opcodes). */
function u32(): number {
  let result = 0;
  for (let i = 0; i < 5; i++) {
    const x = byte();
    result += (x & 0x7f) * 2 ** (7 * i);
    if ((x & 0x80) === 0) return result;
  }
  throw new Unknown();
}

function skip(n: number): void {
  if (n > limit - p) throw new Unknown();
  p += n;
}

/** The block type of block/loop/if: empty, one value type, or a type index (s33). */
function blockType(): void {
  const t = b[p];
  if (t === 0x40 || (t !== undefined && t >= 0x6f && t <= 0x7f)) {
    p++;
    return;
  }
  if (t === 0x63 || t === 0x64) throw new Unknown(); // typed references (GC proposal)
  leb(5);
}

/** A memarg: alignment (bit 6: a memory index follows) and offset. */
function memArg(): void {
  const align = u32();
  if (align & 0x40) leb(5);
  leb(10);
}

/** 0xFC prefix: saturating truncations, bulk memory, reference-typed tables. */
function fcOp(): boolean {
  const sub = u32();
  if (sub <= 7) return false; // trunc_sat
  switch (sub) {
    case 9: // data.drop
      leb(5);
      dropsSegments = true;
      return false;
    case 11: // memory.fill mem
    case 16: // table.size
      leb(5);
      return false;
    case 8: // memory.init data, mem
    case 10: // memory.copy mem, mem
      leb(5);
      leb(5);
      return false;
    case 12: // table.init elem, table
    case 14: // table.copy table, table
      leb(5);
      leb(5);
      return true;
    case 13: // elem.drop
      leb(5);
      dropsSegments = true;
      return false;
    case 15: // table.grow
    case 17: // table.fill
      leb(5);
      return true;
    default:
      throw new Unknown();
  }
}

/** 0xFD prefix: fixed-width SIMD (and relaxed SIMD). */
function fdOp(): void {
  const sub = u32();
  if (sub <= 11 || sub === 92 || sub === 93) memArg(); // loads, stores, load_zero
  else if (sub === 12 || sub === 13) skip(16); // v128.const, i8x16.shuffle
  else if (sub >= 21 && sub <= 34) skip(1); // extract/replace lane
  else if (sub >= 84 && sub <= 91) {
    memArg(); // load/store lane
    skip(1);
  } else if (!((sub >= 14 && sub <= 20) || (sub >= 35 && sub <= 83) || (sub >= 94 && sub <= 255) || (sub >= 0x100 && sub <= 0x113))) {
    throw new Unknown(); // the rest have no immediates
  }
}

/** 0xFE prefix: threads (atomics). */
function feOp(): void {
  const sub = u32();
  if (sub === 3) skip(1); // atomic.fence
  else if (sub <= 2 || (sub >= 0x10 && sub <= 0x4e)) memArg();
  else throw new Unknown();
}

/** One instruction at the cursor; true if it can write a table. */
function instruction(): boolean {
  const op = byte();
  if (op >= 0x45 && op <= 0xc4) return false; // numeric, sign extension: the bulk of any body
  if (op >= 0x28 && op <= 0x3e) {
    memArg();
    return false;
  }
  switch (op) {
    case 0x00: case 0x01: case 0x05: case 0x0b: case 0x0f: case 0x1a: case 0x1b: case 0xd1: case 0xd3: case 0xd4:
      return false;
    case 0x02: case 0x03: case 0x04:
      blockType();
      return false;
    case 0x0c: case 0x0d: case 0x10: case 0x12: case 0x14: case 0x15: case 0xd2: case 0xd5: case 0xd6:
    case 0x20: case 0x21: case 0x22: case 0x23: case 0x24: case 0x25: case 0x3f: case 0x40:
      leb(5);
      return false;
    case 0x26: // table.set
      return true;
    case 0x0e: { // br_table
      const n = u32();
      for (let i = 0; i <= n; i++) leb(5);
      return false;
    }
    case 0x11: case 0x13: // call_indirect, return_call_indirect: type, table
      leb(5);
      leb(5);
      return false;
    case 0x1c: { // select with types
      const n = u32();
      for (let i = 0; i < n; i++) {
        const t = byte();
        if (t < 0x6f || t > 0x7f) throw new Unknown();
      }
      return false;
    }
    case 0x41:
    case 0xd0: // ref.null heaptype (s33)
      leb(5);
      return false;
    case 0x42:
      leb(10);
      return false;
    case 0x43:
      skip(4);
      return false;
    case 0x44:
      skip(8);
      return false;
    case 0xfc:
      return fcOp();
    case 0xfd:
      fdOp();
      return false;
    case 0xfe:
      feOp();
      return false;
    default:
      throw new Unknown(); // exceptions, GC, anything newer
  }
}

/** Every body of the code section [p, end): whether any writes a table (Unknown when a body does not decode exactly). */
function walkBodies(end: number): boolean {
  let writes = false;
  limit = end;
  const bodies = u32();
  for (let i = 0; i < bodies; i++) {
    const size = u32();
    const bodyEnd = p + size;
    if (bodyEnd > end) throw new Unknown();
    limit = bodyEnd;
    const groups = u32();
    for (let g = 0; g < groups; g++) {
      leb(5);
      const t = byte();
      if (t < 0x6f || t > 0x7f) throw new Unknown(); // typed-reference locals
    }
    let last = -1;
    while (p < bodyEnd) {
      last = b[p]!;
      if (instruction()) writes = true;
    }
    // Decoded exactly: the walk stopped at the body's size, on an `end`.
    if (p !== bodyEnd || last !== 0x0b) throw new Unknown();
    limit = end;
  }
  if (p !== end) throw new Unknown();
  return writes;
}

export interface CodeFacts {
  /** Some instruction can write a table. */
  writesTables: boolean;
  /** Some instruction can drop a passive data or element segment. */
  dropsSegments: boolean;
}

const CAN_DO_ANYTHING: CodeFacts = { writesTables: true, dropsSegments: true };

/** What the function bodies of core module `bytes` can change (see above); "can" for both when not decoded exactly. */
export function codeFacts(bytes: Uint8Array): CodeFacts {
  let code: { body: number; end: number } | undefined;
  try {
    code = sections(bytes).find((s) => s.id === SECTION.code);
  } catch (e) {
    if (e instanceof MalformedModuleError) return CAN_DO_ANYTHING;
    throw e;
  }
  if (!code) return { writesTables: false, dropsSegments: false };
  b = bytes;
  p = code.body;
  dropsSegments = false;
  try {
    const writesTables = walkBodies(code.end);
    return { writesTables, dropsSegments };
  } catch (e) {
    if (e instanceof Unknown) return CAN_DO_ANYTHING;
    throw e;
  } finally {
    b = new Uint8Array(0);
  }
}
