/**
 * A strict reader of core WebAssembly module bytes: LEB128, the section walk, and the typed
 * shape of a module (every declaration the limits in module-limits.ts bound). Only the section
 * headers and the declarations that allocate are read; V8 validates everything else when it
 * compiles. Anything this parser does not understand is refused (MalformedModuleError), never
 * skipped: a hostile module must not hide a declaration from the limits.
 *
 * Pure: bytes in, a shape out. No I/O, no policy.
 */

export const WASM_PAGE = 65536;

/** The module's bytes are not a well-formed module this parser accepts. */
export class MalformedModuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedModuleError';
  }
}

/** A memory's (pages) or table's (entries) declared limits. */
export interface LimitsDecl {
  min: number;
  max: number | undefined;
}

export interface ModuleShape {
  types: number;
  imports: number;
  /** Functions defined by the module (the function section). */
  functions: number;
  /** Memories defined by the module (imported ones are in `importedMemories`). */
  memories: LimitsDecl[];
  importedMemories: LimitsDecl[];
  tables: LimitsDecl[];
  importedTables: LimitsDecl[];
  /** Globals defined plus imported. */
  globals: number;
  exports: number;
  elementSegments: number;
  /** Entries over every element segment. */
  elementEntries: number;
  dataSegments: number;
  /** Bytes over every data segment. */
  dataBytes: number;
  /** Size of the code section. */
  codeBytes: number;
}

/** Section ids of a core module (the binary format, section 5.5.2). */
export const SECTION = {
  custom: 0,
  type: 1,
  import: 2,
  function: 3,
  table: 4,
  memory: 5,
  global: 6,
  export: 7,
  start: 8,
  element: 9,
  code: 10,
  data: 11,
  dataCount: 12,
  tag: 13,
} as const;

/**
 * A cursor over `b[pos..end)` that refuses to read past `end` (every failure a
 * MalformedModuleError, its message prefixed with `where: ` when given). Modules and components
 * (build/component-modules.ts) alike.
 */
export class Reader {
  pos: number;
  constructor(
    readonly b: Uint8Array,
    pos: number,
    readonly end: number,
    readonly where?: string,
  ) {
    this.pos = pos;
  }
  private malformed(message: string): MalformedModuleError {
    return new MalformedModuleError(this.where === undefined ? message : `${this.where}: ${message}`);
  }
  byte(): number {
    if (this.pos >= this.end) throw this.malformed(`truncated at byte ${this.pos}`);
    return this.b[this.pos++]!;
  }
  /** Unsigned LEB128 of at most 32 bits: 5 bytes, the last with no bits above bit 31. */
  u32(): number {
    let result = 0;
    for (let i = 0; i < 5; i++) {
      const x = this.byte();
      if (i === 4 && x & 0xf0) throw this.malformed(`u32 LEB128 overflows at byte ${this.pos - 1}`);
      result += (x & 0x7f) * 2 ** (7 * i);
      if ((x & 0x80) === 0) return result;
    }
    throw this.malformed(`u32 LEB128 longer than 5 bytes at byte ${this.pos - 1}`);
  }
  /** Skips a signed LEB128 of at most `bits` bits. */
  skipSigned(bits: number): void {
    const maxBytes = Math.ceil(bits / 7);
    for (let i = 0; i < maxBytes; i++) if ((this.byte() & 0x80) === 0) return;
    throw this.malformed(`s${bits} LEB128 longer than ${maxBytes} bytes at byte ${this.pos - 1}`);
  }
  skip(n: number): void {
    if (n > this.end - this.pos) throw this.malformed(`truncated: ${n} bytes wanted at byte ${this.pos}`);
    this.pos += n;
  }
  /** A count of items each at least `minItemBytes` long: claims that cannot fit are refused early. */
  count(minItemBytes: number): number {
    const n = this.u32();
    if (n * minItemBytes > this.end - this.pos) {
      throw this.malformed(`count ${n} at byte ${this.pos} does not fit in its section`);
    }
    return n;
  }
  name(): void {
    this.skip(this.u32());
  }
}

/** reftype: funcref/externref (and the other abstract shorthands), or (ref null? heaptype). */
export function skipRefType(r: Reader): void {
  const t = r.byte();
  if (t === 0x63 || t === 0x64) r.skipSigned(33);
  else if (t < 0x69 || t > 0x74) throw new MalformedModuleError(`unknown reference type 0x${t.toString(16)}`);
}

export function skipValType(r: Reader): void {
  const t = r.b[r.pos];
  if (t !== undefined && t >= 0x7b && t <= 0x7f) {
    r.pos++;
    return;
  }
  skipRefType(r);
}

/** Limits of a memory or table (flags, min, optional max); memory64 and shared memory are refused. */
export function readLimits(r: Reader, what: 'memory' | 'table'): LimitsDecl {
  const flags = r.byte();
  if (flags & 0x04) throw new MalformedModuleError(`${what}64 is not supported`);
  if (what === 'memory' && flags & 0x02) throw new MalformedModuleError('shared memory is not supported');
  if (flags & ~0x03) throw new MalformedModuleError(`unknown ${what} limits flags 0x${flags.toString(16)}`);
  if (what === 'table' && flags & 0x02) throw new MalformedModuleError(`unknown table limits flags 0x${flags.toString(16)}`);
  const min = r.u32();
  const max = flags & 0x01 ? r.u32() : undefined;
  if (max !== undefined && max < min) throw new MalformedModuleError(`${what} maximum ${max} below its minimum ${min}`);
  return { min, max };
}

/** A constant expression (MVP, extended-const and reference instructions) up to its `end`. */
export function skipConstExpr(r: Reader): void {
  for (let n = 0; n < 1024; n++) {
    const op = r.byte();
    switch (op) {
      case 0x0b:
        return;
      case 0x41:
        r.skipSigned(32);
        break;
      case 0x42:
        r.skipSigned(64);
        break;
      case 0x43:
        r.skip(4);
        break;
      case 0x44:
        r.skip(8);
        break;
      case 0x23: // global.get
      case 0xd2: // ref.func
        r.u32();
        break;
      case 0xd0: // ref.null heaptype
        r.skipSigned(33);
        break;
      case 0x6a: case 0x6b: case 0x6c: case 0x7c: case 0x7d: case 0x7e: // extended-const arithmetic
        break;
      default:
        throw new MalformedModuleError(`opcode 0x${op.toString(16)} in a constant expression is not supported`);
    }
  }
  throw new MalformedModuleError('constant expression too long');
}

/** A table's element type (a table with an initialiser expression is refused). */
export function skipTableType(r: Reader): void {
  if (r.b[r.pos] === 0x40) throw new MalformedModuleError('tables with initialiser expressions are not supported');
  skipRefType(r);
}

function readTable(r: Reader): LimitsDecl {
  skipTableType(r);
  return readLimits(r, 'table');
}

export interface SectionSpan {
  id: number;
  /** Start of the section (its id byte) and of its body; end of its body. */
  start: number;
  body: number;
  end: number;
}

/** The module's sections in order, checked: magic and version, known ids, no duplicate, sizes within the bytes. */
export function sections(b: Uint8Array): SectionSpan[] {
  if (b.length < 8 || b[0] !== 0 || b[1] !== 0x61 || b[2] !== 0x73 || b[3] !== 0x6d) {
    throw new MalformedModuleError('not a WebAssembly module (bad magic number)');
  }
  if (b[4] !== 1 || b[5] !== 0 || b[6] !== 0 || b[7] !== 0) {
    throw new MalformedModuleError('not a core WebAssembly module of version 1');
  }
  const out: SectionSpan[] = [];
  const seen = new Set<number>();
  const r = new Reader(b, 8, b.length);
  while (r.pos < b.length) {
    const start = r.pos;
    const id = r.byte();
    const size = r.u32();
    const body = r.pos;
    r.skip(size);
    if (id > SECTION.tag) throw new MalformedModuleError(`unknown section id ${id} at byte ${start}`);
    if (id !== SECTION.custom) {
      if (seen.has(id)) throw new MalformedModuleError(`duplicate section id ${id} at byte ${start}`);
      seen.add(id);
    }
    out.push({ id, start, body, end: r.pos });
  }
  return out;
}

/** Reads every declaration the limits concern. Throws MalformedModuleError on anything odd. */
export function moduleShape(b: Uint8Array): ModuleShape {
  const shape: ModuleShape = {
    types: 0,
    imports: 0,
    functions: 0,
    memories: [],
    importedMemories: [],
    tables: [],
    importedTables: [],
    globals: 0,
    exports: 0,
    elementSegments: 0,
    elementEntries: 0,
    dataSegments: 0,
    dataBytes: 0,
    codeBytes: 0,
  };
  for (const s of sections(b)) {
    const r = new Reader(b, s.body, s.end);
    switch (s.id) {
      case SECTION.custom:
        continue;
      case SECTION.type:
        shape.types = r.count(1);
        r.pos = s.end; // V8 validates the entries; only their number is bounded here
        continue;
      case SECTION.import: {
        const n = r.count(4);
        shape.imports = n;
        for (let i = 0; i < n; i++) {
          r.name();
          r.name();
          const kind = r.byte();
          if (kind === 0x00) r.u32();
          else if (kind === 0x01) shape.importedTables.push(readTable(r));
          else if (kind === 0x02) shape.importedMemories.push(readLimits(r, 'memory'));
          else if (kind === 0x03) {
            skipValType(r);
            r.byte();
            shape.globals++;
          } else if (kind === 0x04) {
            r.byte();
            r.u32();
          } else throw new MalformedModuleError(`unknown import kind 0x${kind.toString(16)}`);
        }
        break;
      }
      case SECTION.function:
        shape.functions = r.count(1);
        r.pos = s.end;
        continue;
      case SECTION.table: {
        const n = r.count(3);
        for (let i = 0; i < n; i++) shape.tables.push(readTable(r));
        break;
      }
      case SECTION.memory: {
        const n = r.count(2);
        for (let i = 0; i < n; i++) shape.memories.push(readLimits(r, 'memory'));
        break;
      }
      case SECTION.global:
        shape.globals += r.count(3);
        r.pos = s.end;
        continue;
      case SECTION.export:
        shape.exports = r.count(3);
        r.pos = s.end;
        continue;
      case SECTION.element: {
        const n = r.count(3);
        shape.elementSegments = n;
        for (let i = 0; i < n; i++) shape.elementEntries += readElementSegment(r);
        break;
      }
      case SECTION.code:
        r.count(2);
        shape.codeBytes = s.end - s.body;
        r.pos = s.end;
        continue;
      case SECTION.data: {
        const n = r.count(2);
        shape.dataSegments = n;
        for (let i = 0; i < n; i++) {
          const flags = r.u32();
          if (flags === 0) skipConstExpr(r);
          else if (flags === 2) {
            r.u32();
            skipConstExpr(r);
          } else if (flags !== 1) throw new MalformedModuleError(`unknown data segment flags ${flags}`);
          const len = r.u32();
          r.skip(len);
          shape.dataBytes += len;
        }
        break;
      }
      default: // start, data count, tag: nothing to bound
        r.pos = s.end;
        continue;
    }
    if (r.pos !== s.end) throw new MalformedModuleError(`section ${s.id} at byte ${s.start} has ${s.end - r.pos} trailing bytes`);
  }
  return shape;
}

/** One element segment (any of the 8 encodings); returns its number of entries. */
function readElementSegment(r: Reader): number {
  const flags = r.u32();
  if (flags > 7) throw new MalformedModuleError(`unknown element segment flags ${flags}`);
  const passiveOrDeclared = (flags & 1) !== 0;
  const explicitTable = (flags & 2) !== 0;
  const usesExprs = (flags & 4) !== 0;
  if (!passiveOrDeclared && explicitTable) r.u32(); // table index
  if (!passiveOrDeclared) skipConstExpr(r); // offset
  if (passiveOrDeclared || explicitTable) {
    if (usesExprs) skipRefType(r);
    else if (r.byte() !== 0x00) throw new MalformedModuleError('unknown element kind');
  }
  const n = r.count(1);
  for (let i = 0; i < n; i++) {
    if (usesExprs) skipConstExpr(r);
    else r.u32();
  }
  return n;
}

/** Unsigned LEB128, shortest form. */
export function writeU32(value: number, out: number[]): void {
  do {
    let b = value % 128;
    value = Math.floor(value / 128);
    if (value !== 0) b |= 0x80;
    out.push(b);
  } while (value !== 0);
}
