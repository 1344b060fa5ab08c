/**
 * The core wasm modules a component carries, read straight from its binary (no transpile): the
 * bytes of every core-module section, at the top level and inside nested components. These are
 * exactly the modules a host would compile, so install can bound them cheaply (under 1 ms for a
 * 12 MB component) before anything is stored.
 *
 * Also how often each is instantiated: the bounds on a module's declarations hold per instance,
 * so a component that instantiates one module many times would multiply them. Toolchains
 * instantiate each core module once; anything else is refused (ModuleInstancesError).
 */
import { IntegrityError, ResourceLimitError } from '../errors.js';
import {
  MalformedModuleError,
  moduleLimitError,
  moduleLimits,
  moduleShape,
  moduleViolations,
  type ModuleViolation,
} from '../sandbox/module-limits.js';
import { Reader } from '../sandbox/wasm-sections.js';

const SECTION_CORE_MODULE = 1;
const SECTION_CORE_INSTANCE = 2;
const SECTION_COMPONENT = 4;
const SECTION_ALIAS = 6;
const CORE_SORT_MODULE = 0x11;
/** Nesting deeper than this is not something a toolchain emits. */
const MAX_DEPTH = 16;

export function componentCoreModules(bytes: Uint8Array): { name: string; bytes: Uint8Array }[] {
  const out: { name: string; bytes: Uint8Array }[] = [];
  walk(bytes, 0, out, 'component');
  return out;
}

function walk(b: Uint8Array, depth: number, out: { name: string; bytes: Uint8Array }[], where: string): void {
  if (depth > MAX_DEPTH) throw new MalformedModuleError(`${where}: components nested more than ${MAX_DEPTH} deep`);
  if (b.length < 8 || b[0] !== 0 || b[1] !== 0x61 || b[2] !== 0x73 || b[3] !== 0x6d || b[6] !== 1 || b[7] !== 0) {
    throw new MalformedModuleError(`${where}: not a WebAssembly component`);
  }
  // The module reader's cursor (LEB128, bounds), its errors prefixed with where they happened.
  const r = new Reader(b, 8, b.length, where);
  const u32 = (): number => r.u32();
  const byte = (): number => r.byte();
  const skipName = (): void => r.name();
  let nested = 0;
  const local: { name: string; bytes: Uint8Array }[] = [];
  const instances: number[] = [];
  while (r.pos < b.length) {
    const id = byte();
    const size = u32();
    if (size > b.length - r.pos) throw new MalformedModuleError(`${where}: section at byte ${r.pos} runs past the end`);
    const end = r.pos + size;
    const body = b.subarray(r.pos, end);
    if (id === SECTION_CORE_MODULE) {
      const m = { name: `core module ${out.length}`, bytes: body };
      out.push(m);
      local.push(m);
      instances.push(0);
    } else if (id === SECTION_COMPONENT) walk(body, depth + 1, out, `${where} > component ${nested++}`);
    else if (id === SECTION_CORE_INSTANCE) {
      for (let n = u32(); n > 0; n--) {
        const kind = byte();
        if (kind === 0x00) {
          const idx = u32();
          if (idx >= local.length) throw new ModuleInstancesError(`${where}: instantiates core module ${idx}, which it does not define`);
          if (++instances[idx]! > 1) {
            throw new ModuleInstancesError(`${where}: instantiates ${local[idx]!.name} more than once`);
          }
          for (let a = u32(); a > 0; a--) {
            skipName();
            if (byte() !== 0x12) throw new MalformedModuleError(`${where}: unknown instantiation argument`);
            u32();
          }
        } else if (kind === 0x01) {
          for (let e = u32(); e > 0; e--) {
            skipName();
            byte(); // core sort
            u32();
          }
        } else throw new MalformedModuleError(`${where}: unknown core instance kind ${kind}`);
      }
      if (r.pos !== end) throw new MalformedModuleError(`${where}: core instance section does not add up`);
    } else if (id === SECTION_ALIAS) {
      for (let n = u32(); n > 0; n--) {
        const sort = byte();
        if (sort === 0x00 && byte() === CORE_SORT_MODULE) {
          throw new ModuleInstancesError(`${where}: core modules taken from elsewhere (alias) are not supported`);
        }
        const target = byte();
        if (target === 0x00 || target === 0x01) {
          u32();
          skipName();
        } else if (target === 0x02) {
          u32();
          u32();
        } else throw new MalformedModuleError(`${where}: unknown alias target ${target}`);
      }
      if (r.pos !== end) throw new MalformedModuleError(`${where}: alias section does not add up`);
    }
    r.pos = end;
  }
}

/** A component instantiates one core module more than once, or one it does not define. */
export class ModuleInstancesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModuleInstancesError';
  }
}

/**
 * Install's check: the component's core modules are readable and within `moduleLimits` for the
 * skill's memory cap. Throws IntegrityError (unreadable modules) or ResourceLimitError.
 */
export function assertComponentModules(bytes: Uint8Array, memoryMb: number, file: string, skillId: string): void {
  const ctx = { skillId };
  let violations: ModuleViolation[];
  try {
    const modules = componentCoreModules(bytes).map((m) => ({ ...m, shape: moduleShape(m.bytes) }));
    violations = moduleViolations(modules, moduleLimits(memoryMb * 1024 * 1024));
  } catch (e) {
    if (e instanceof ModuleInstancesError) {
      throw new ResourceLimitError('module_shape', 1, `skill '${skillId}' cannot be installed: ${e.message}`, { ...ctx, cause: e });
    }
    if (!(e instanceof MalformedModuleError)) throw e;
    throw new IntegrityError('well-formed core modules', 'malformed', `${file} has a core module the host cannot read: ${e.message}`, {
      ...ctx,
      cause: e,
    });
  }
  if (violations.length > 0) throw moduleLimitError(violations, memoryMb, ctx);
}
