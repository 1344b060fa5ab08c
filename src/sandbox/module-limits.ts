/**
 * Bounds on what a skill's core wasm modules may declare, checked before anything is compiled
 * or instantiated, and the rewrite that makes the bounds hold at run time.
 *
 * Why: a module's declarations are allocations the engine makes on its behalf. A table of
 * millions of funcref entries is a JS-heap array: V8 fails that allocation inside the worker and
 * aborts the whole process. An initial memory larger than the skill's cap is allocated as asked.
 * So every declared size is read from the bytes (wasm-sections.ts, a strict parser of the
 * section headers: V8 validates everything else at compile time) and checked against limits,
 * and every memory and table gets a declared maximum, so `memory.grow` / `table.grow` fail
 * instead of growing past it. Componentized JS engines declare memories with no maximum, and
 * Worker `resourceLimits` do not count wasm memory: the declared maximum is the only hard cap.
 *
 * Pure: bytes in, violations / rewritten bytes out. No I/O.
 */
import { ResourceLimitError, type SkillErrorContext } from '../errors.js';
import {
  type LimitsDecl,
  MalformedModuleError,
  moduleShape,
  type ModuleShape,
  readLimits,
  Reader,
  SECTION,
  sections,
  skipTableType,
  WASM_PAGE,
  writeU32,
} from './wasm-sections.js';

// The parser's names, for the modules that import them from here (loader, component walker).
export { type LimitsDecl, MalformedModuleError, moduleShape, type ModuleShape, WASM_PAGE } from './wasm-sections.js';

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
        const typeStart = r.pos;
        skipTableType(r);
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

/**
 * `capModule` with one cap for every memory: at most `maxBytes` (whole pages, at least one) each,
 * tables at the default maximum. For tools that run one module alone (the in-process benchmark);
 * the loader uses `checkAndCapModules`, which checks every other bound too. An initial size over
 * the cap is refused (throws), never kept as declared.
 */
export function capModuleMemory(module: Uint8Array, maxBytes: number): Uint8Array<ArrayBuffer> {
  const maxPages = Math.max(1, Math.floor(maxBytes / WASM_PAGE));
  return capModule(module, () => maxPages, DEFAULT_MODULE_LIMITS.maxTableElements);
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
