/**
 * Bounds on what a skill's core wasm modules may declare, checked before anything is compiled
 * or instantiated, and the rewrite that makes the bounds hold at run time.
 *
 * Why: a module's declarations are allocations the engine makes on its behalf. A table of
 * millions of funcref entries is a JS-heap array: V8 fails that allocation inside the worker and
 * aborts the whole process. An initial memory larger than the skill's cap is allocated as asked.
 * So every declared size is read from the bytes (a strict hand parser of the section headers: V8
 * validates everything else at compile time) and checked against limits, and every memory and
 * table gets a declared maximum, so `memory.grow` / `table.grow` fail instead of growing past it.
 *
 * Pure: bytes in, shapes / violations / rewritten bytes out. No I/O.
 */
import { ResourceLimitError, type SkillErrorContext } from '../errors.js';

export const WASM_PAGE = 65536;

/** The module's bytes are not a well-formed module this parser accepts. */
export class MalformedModuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedModuleError';
  }
}

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

/** Per-component bounds (sums are over every core module of the component). */
export interface ModuleLimits {
  /** The skill's memory cap: initial pages of every memory together, and each memory's maximum. */
  memoryBytes: number;
  /** Entries of one table, initial and maximum (the maximum is rewritten down to this). */
  maxTableElements: number;
  /** Initial entries of every table together. */
  maxTotalTableElements: number;
  maxMemories: number;
  maxTables: number;
  maxElementEntries: number;
  maxGlobals: number;
  maxFunctions: number;
  maxImports: number;
  maxExports: number;
  maxTypes: number;
  maxCodeBytes: number;
  maxDataSegments: number;
}

/**
 * Measured on the engines' own output after transpile (all modules of one skill together):
 *   QuickJS (13 modules): 3 memories (23-25 pages, two of 0), 3 tables of 781 entries (largest
 *     745), 780 element entries, 33 globals, 1746 functions, 310 imports, 224 exports, 229 types,
 *     ~7.7k data segments of 0.4 MB, 1.3 MB of code.
 *   StarlingMonkey (3 modules): 1 memory of 145 pages, 2 tables of 7704 entries (largest 7696),
 *     7703 element entries, 2 globals, 12683 functions, 17 imports, 19 exports, 146 types,
 *     10000 data segments of 2.8 MB, 9.2 MB of code.
 * The limits leave 7x to 100x headroom and keep every declared table to about 1 MiB of heap.
 */
export const DEFAULT_MODULE_LIMITS: Omit<ModuleLimits, 'memoryBytes'> = {
  maxTableElements: 100_000,
  maxTotalTableElements: 200_000,
  maxMemories: 4,
  maxTables: 32,
  maxElementEntries: 200_000,
  maxGlobals: 10_000,
  maxFunctions: 200_000,
  maxImports: 10_000,
  maxExports: 10_000,
  maxTypes: 20_000,
  maxCodeBytes: 64 * 1024 * 1024,
  maxDataSegments: 100_000,
};

export function moduleLimits(memoryBytes: number, overrides: Partial<ModuleLimits> = {}): ModuleLimits {
  return { ...DEFAULT_MODULE_LIMITS, memoryBytes, ...overrides };
}

/** One bound a component's modules exceed. */
export interface ModuleViolation {
  /** `memory` for memory sizes (raise memory_mb), `module_shape` for everything else. */
  kind: 'memory' | 'module_shape';
  /** The core module (file name) and the item, e.g. `skill.core.wasm memory 0 initial`. */
  where: string;
  actual: number;
  max: number;
  message: string;
}

// ---------------------------------------------------------------------------------------------
// parsing

const SECTION = {
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

class Reader {
  pos: number;
  constructor(
    readonly b: Uint8Array,
    pos: number,
    readonly end: number,
  ) {
    this.pos = pos;
  }
  byte(): number {
    if (this.pos >= this.end) throw new MalformedModuleError(`truncated at byte ${this.pos}`);
    return this.b[this.pos++]!;
  }
  /** Unsigned LEB128 of at most 32 bits: 5 bytes, the last with no bits above bit 31. */
  u32(): number {
    let result = 0;
    for (let i = 0; i < 5; i++) {
      const x = this.byte();
      if (i === 4 && x & 0xf0) throw new MalformedModuleError(`u32 LEB128 overflows at byte ${this.pos - 1}`);
      result += (x & 0x7f) * 2 ** (7 * i);
      if ((x & 0x80) === 0) return result;
    }
    throw new MalformedModuleError(`u32 LEB128 longer than 5 bytes at byte ${this.pos - 1}`);
  }
  /** Skips a signed LEB128 of at most `bits` bits. */
  skipSigned(bits: number): void {
    const maxBytes = Math.ceil(bits / 7);
    for (let i = 0; i < maxBytes; i++) if ((this.byte() & 0x80) === 0) return;
    throw new MalformedModuleError(`s${bits} LEB128 longer than ${maxBytes} bytes at byte ${this.pos - 1}`);
  }
  skip(n: number): void {
    if (n > this.end - this.pos) throw new MalformedModuleError(`truncated: ${n} bytes wanted at byte ${this.pos}`);
    this.pos += n;
  }
  /** A count of items each at least `minItemBytes` long: claims that cannot fit are refused early. */
  count(minItemBytes: number): number {
    const n = this.u32();
    if (n * minItemBytes > this.end - this.pos) {
      throw new MalformedModuleError(`count ${n} at byte ${this.pos} does not fit in its section`);
    }
    return n;
  }
  name(): void {
    this.skip(this.u32());
  }
}

/** reftype: funcref/externref (and the other abstract shorthands), or (ref null? heaptype). */
function skipRefType(r: Reader): void {
  const t = r.byte();
  if (t === 0x63 || t === 0x64) r.skipSigned(33);
  else if (t < 0x69 || t > 0x74) throw new MalformedModuleError(`unknown reference type 0x${t.toString(16)}`);
}

function skipValType(r: Reader): void {
  const t = r.b[r.pos];
  if (t !== undefined && t >= 0x7b && t <= 0x7f) {
    r.pos++;
    return;
  }
  skipRefType(r);
}

function readLimits(r: Reader, what: 'memory' | 'table'): LimitsDecl {
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
function skipConstExpr(r: Reader): void {
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

function readTable(r: Reader): LimitsDecl {
  if (r.b[r.pos] === 0x40) throw new MalformedModuleError('tables with initialiser expressions are not supported');
  skipRefType(r);
  return readLimits(r, 'table');
}

interface SectionSpan {
  id: number;
  /** Start of the section (its id byte) and of its body; end of its body. */
  start: number;
  body: number;
  end: number;
}

function sections(b: Uint8Array): SectionSpan[] {
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

// ---------------------------------------------------------------------------------------------
// checking

export interface NamedModule {
  name: string;
  bytes: Uint8Array;
}

/**
 * Every bound the component's modules exceed (empty: within limits). Sums are over all modules:
 * they are instantiated together as one skill. Memories count where they are defined; an
 * imported memory is another module's memory (a skill's component imports no memory from the
 * host), so only its declared minimum is checked.
 */
export function moduleViolations(
  modules: readonly (NamedModule & { shape: ModuleShape })[],
  limits: ModuleLimits,
): ModuleViolation[] {
  const out: ModuleViolation[] = [];
  const capPages = Math.floor(limits.memoryBytes / WASM_PAGE);
  const capMb = limits.memoryBytes / (1024 * 1024);
  const over = (kind: ModuleViolation['kind'], where: string, actual: number, max: number, what: string) => {
    if (actual > max) out.push({ kind, where, actual, max, message: `${where}: ${what} ${actual} is over the limit of ${max}` });
  };
  const total = { pages: 0, memories: 0, tables: 0, tableElements: 0, elements: 0, globals: 0, functions: 0, imports: 0, exports: 0, types: 0, code: 0, data: 0, dataSegments: 0 };
  for (const { name, shape } of modules) {
    shape.memories.forEach((m, i) => {
      if (m.min > capPages) {
        out.push({
          kind: 'memory',
          where: `${name} memory ${i}`,
          actual: m.min * WASM_PAGE,
          max: limits.memoryBytes,
          message: `${name} memory ${i}: initial size ${mib(m.min * WASM_PAGE)} is over the ${capMb} MiB memory cap (memory_mb)`,
        });
      }
      total.pages += m.min;
    });
    shape.importedMemories.forEach((m, i) => {
      if (m.min > capPages) {
        out.push({
          kind: 'memory',
          where: `${name} imported memory ${i}`,
          actual: m.min * WASM_PAGE,
          max: limits.memoryBytes,
          message: `${name} imported memory ${i}: required size ${mib(m.min * WASM_PAGE)} is over the ${capMb} MiB memory cap (memory_mb)`,
        });
      }
    });
    [...shape.importedTables, ...shape.tables].forEach((t, i) => {
      over('module_shape', `${name} table ${i}`, t.min, limits.maxTableElements, 'initial entries');
    });
    for (const t of shape.tables) total.tableElements += t.min;
    total.memories += shape.memories.length;
    total.tables += shape.tables.length;
    total.elements += shape.elementEntries;
    total.globals += shape.globals;
    total.functions += shape.functions;
    total.imports += shape.imports;
    total.exports += shape.exports;
    total.types += shape.types;
    total.code += shape.codeBytes;
    total.data += shape.dataBytes;
    total.dataSegments += shape.dataSegments;
  }
  const all = 'all core modules';
  if (total.pages > capPages) {
    out.push({
      kind: 'memory',
      where: `${all} memories`,
      actual: total.pages * WASM_PAGE,
      max: limits.memoryBytes,
      message: `${all}: initial memories of ${mib(total.pages * WASM_PAGE)} together are over the ${capMb} MiB memory cap (memory_mb)`,
    });
  }
  if (total.data > limits.memoryBytes) {
    out.push({
      kind: 'memory',
      where: `${all} data segments`,
      actual: total.data,
      max: limits.memoryBytes,
      message: `${all}: data segments of ${mib(total.data)} together are over the ${capMb} MiB memory cap (memory_mb)`,
    });
  }
  over('module_shape', `${all} memories`, total.memories, limits.maxMemories, 'memory count');
  over('module_shape', `${all} tables`, total.tables, limits.maxTables, 'table count');
  over('module_shape', `${all} tables`, total.tableElements, limits.maxTotalTableElements, 'initial table entries');
  over('module_shape', `${all} element segments`, total.elements, limits.maxElementEntries, 'entries');
  over('module_shape', `${all} globals`, total.globals, limits.maxGlobals, 'count');
  over('module_shape', `${all} functions`, total.functions, limits.maxFunctions, 'count');
  over('module_shape', `${all} imports`, total.imports, limits.maxImports, 'count');
  over('module_shape', `${all} exports`, total.exports, limits.maxExports, 'count');
  over('module_shape', `${all} types`, total.types, limits.maxTypes, 'count');
  over('module_shape', `${all} code sections`, total.code, limits.maxCodeBytes, 'bytes');
  over('module_shape', `${all} data segments`, total.dataSegments, limits.maxDataSegments, 'count');
  return out;
}

function mib(bytes: number): string {
  return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB`;
}

// ---------------------------------------------------------------------------------------------
// rewriting

function writeU32(value: number, out: number[]): void {
  do {
    let b = value % 128;
    value = Math.floor(value / 128);
    if (value !== 0) b |= 0x80;
    out.push(b);
  } while (value !== 0);
}

/**
 * A copy of a module (already within `moduleViolations`) whose own memories and tables carry a
 * maximum: each memory min(declared max, its share of the cap), each table min(declared max,
 * maxTableElements). Lowered, never raised: imports of these (which may declare a maximum of
 * their own) still link. `memoryPagesFor(i)` gives memory i's maximum in pages.
 */
export function capModule(
  b: Uint8Array,
  memoryPagesFor: (index: number, decl: LimitsDecl) => number,
  maxTableElements: number,
): Uint8Array<ArrayBuffer> {
  const parts: Uint8Array[] = [];
  let copied = 0;
  for (const s of sections(b)) {
    if (s.id !== SECTION.memory && s.id !== SECTION.table) continue;
    const r = new Reader(b, s.body, s.end);
    const body: number[] = [];
    const n = r.count(2);
    writeU32(n, body);
    for (let i = 0; i < n; i++) {
      if (s.id === SECTION.table) {
        if (b[r.pos] === 0x40) throw new MalformedModuleError('tables with initialiser expressions are not supported');
        const typeStart = r.pos;
        skipRefType(r);
        for (let p = typeStart; p < r.pos; p++) body.push(b[p]!);
      }
      const decl = readLimits(r, s.id === SECTION.memory ? 'memory' : 'table');
      const cap = s.id === SECTION.memory ? memoryPagesFor(i, decl) : maxTableElements;
      const max = Math.min(decl.max ?? Infinity, cap);
      if (max < decl.min) throw new MalformedModuleError(`initial size ${decl.min} is over the cap ${cap}`);
      body.push(0x01);
      writeU32(decl.min, body);
      writeU32(max, body);
    }
    if (r.pos !== s.end) throw new MalformedModuleError(`section ${s.id} has trailing bytes`);
    const head: number[] = [s.id];
    writeU32(body.length, head);
    parts.push(b.subarray(copied, s.start), Uint8Array.from(head), Uint8Array.from(body));
    copied = s.end;
  }
  parts.push(b.subarray(copied));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface CheckedModules {
  /** The modules with their memories and tables capped, ready to compile. */
  modules: { name: string; bytes: Uint8Array<ArrayBuffer>; shape: ModuleShape }[];
  violations: ModuleViolation[];
}

/**
 * Parses, checks and caps a component's core modules. Each memory may grow to what the cap
 * leaves beside the other memories' initial sizes (with one memory, the whole cap). Several
 * memories could each grow that far: their number is bounded (`maxMemories`) and QuickJS's two
 * extra memories are 0-page stubs. Throws MalformedModuleError (naming the module) on
 * unparsable bytes.
 */
export function checkAndCapModules(modules: readonly NamedModule[], limits: ModuleLimits): CheckedModules {
  const shaped = modules.map((m) => {
    try {
      return { ...m, shape: moduleShape(m.bytes) };
    } catch (e) {
      if (e instanceof MalformedModuleError) throw new MalformedModuleError(`${m.name}: ${e.message}`);
      throw e;
    }
  });
  const violations = moduleViolations(shaped, limits);
  if (violations.length > 0) return { modules: [], violations };
  const capPages = Math.floor(limits.memoryBytes / WASM_PAGE);
  const initial = shaped.reduce((n, m) => n + m.shape.memories.reduce((k, d) => k + d.min, 0), 0);
  return {
    violations,
    modules: shaped.map((m) => ({
      name: m.name,
      shape: m.shape,
      bytes: capModule(m.bytes, (_i, d) => capPages - (initial - d.min), limits.maxTableElements),
    })),
  };
}

/** The typed error for a component whose modules exceed `violations` (at least one). */
export function moduleLimitError(violations: ModuleViolation[], memoryMb: number, ctx: SkillErrorContext): ResourceLimitError {
  const first = violations[0]!;
  const shown = violations.slice(0, 5).map((v) => v.message);
  if (violations.length > shown.length) shown.push(`and ${violations.length - shown.length} more`);
  return new ResourceLimitError(
    first.kind,
    first.kind === 'memory' ? memoryMb : first.max,
    `skill '${ctx.skillId}' declares more than it may use: ${shown.join('; ')}`,
    ctx,
  );
}
