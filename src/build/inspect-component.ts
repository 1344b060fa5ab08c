/**
 * What a WebAssembly component imports, and the rule that a skill may import nothing but the
 * `agentos:skill/*` interfaces.
 *
 * Only the top-level import section matters: everything nested inside a component (core modules,
 * inner components) must be satisfied from within it, so the top-level imports are exactly what
 * the host would have to provide.
 *
 * Fast path: read the top-level import section straight from the component binary (about 0.3 ms
 * for a 12 MB component). Anything this strict reader does not recognise (an unknown name
 * encoding, a value import, a section that does not add up) falls back to jco's `componentWit`
 * (wasm-tools), which costs 20-170 ms but understands every encoding jco does. Both give names as
 * written in the component, e.g. `agentos:skill/fs@0.1.0`.
 */
import { describeSkillInterfaces, SKILL_INTERFACES, SKILL_PACKAGE } from '../wit-version.js';

/** Every interface a skill may import starts with this. */
export const ALLOWED_IMPORT_PREFIX = `${SKILL_PACKAGE}/`;

/** A component imports something other than `agentos:skill/*` (callers wrap it in their own error). */
export class ForbiddenImportsError extends Error {
  readonly forbidden: string[];
  constructor(forbidden: string[], where: string) {
    super(
      `${where} imports ${forbidden.map((i) => `'${i}'`).join(', ')}; a skill may import only ` +
        `${ALLOWED_IMPORT_PREFIX}* interfaces (${describeSkillInterfaces()})`,
    );
    this.name = 'ForbiddenImportsError';
    this.forbidden = forbidden;
  }
}

/** The names of the interfaces (and any other items) a component imports, in section order. */
export async function componentImports(bytes: Uint8Array): Promise<string[]> {
  checkHeader(bytes);
  const fast = readTopLevelImports(bytes);
  if (fast) return fast;
  // jco is imported lazily: loading it costs about 100 ms and the fast path almost always wins.
  const { componentWit } = await import('@bytecodealliance/jco');
  return importsFromWit(await componentWit(bytes));
}

/**
 * True if the host can satisfy this import name: an interface of a version that has it (see
 * wit-version.ts); anything else (a wasi:* interface, an interface no version has) is refused.
 */
export function isSkillImport(name: string): boolean {
  const m = /^agentos:skill\/([a-z][a-z0-9-]*)(?:@(\d+\.\d+\.\d+))?$/.exec(name);
  if (!m) return false;
  const iface = m[1] as string;
  // Own keys only: 'agentos:skill/constructor' is no interface.
  if (!Object.hasOwn(SKILL_INTERFACES, iface)) return false;
  return m[2] === undefined || (SKILL_INTERFACES[iface] as readonly string[]).includes(m[2]);
}

/** Throws ForbiddenImportsError naming every import the host does not serve. */
export function assertSkillImports(imports: string[], where: string): void {
  const forbidden = imports.filter((i) => !isSkillImport(i));
  if (forbidden.length > 0) throw new ForbiddenImportsError(forbidden, where);
}

// ---------------------------------------------------------------------------------------------

const MAGIC = [0x00, 0x61, 0x73, 0x6d];
const SECTION_IMPORT = 10;

function checkHeader(b: Uint8Array): void {
  if (b.length < 8 || MAGIC.some((m, i) => b[i] !== m)) {
    throw new Error('not a WebAssembly binary (bad magic number)');
  }
  const layer = (b[6] ?? 0) | ((b[7] ?? 0) << 8);
  if (layer !== 1) {
    throw new Error('a core WebAssembly module, not a component (build skills with build-skill)');
  }
}

class Truncated extends Error {}

/** Reads the top-level import names, or returns undefined if anything looks unfamiliar. */
function readTopLevelImports(b: Uint8Array): string[] | undefined {
  let p = 8;
  const byte = (): number => {
    if (p >= b.length) throw new Truncated();
    return b[p++] as number;
  };
  const u32 = (): number => {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const x = byte();
      result += (x & 0x7f) * 2 ** shift;
      if ((x & 0x80) === 0) return result;
    }
    throw new Truncated();
  };
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const names: string[] = [];
  try {
    while (p < b.length) {
      const id = byte();
      const size = u32();
      const end = p + size;
      if (end > b.length) return undefined;
      if (id === SECTION_IMPORT) {
        let count = u32();
        while (count-- > 0) {
          // importname': 0x00 len name. Other encodings (0x01 + version suffix, legacy forms)
          // are left to wasm-tools.
          if (byte() !== 0x00) return undefined;
          const len = u32();
          if (p + len > end) return undefined;
          names.push(decoder.decode(b.subarray(p, p + len)));
          p += len;
          // externdesc
          const sort = byte();
          if (sort === 0x00) {
            if (byte() !== 0x11) return undefined; // core module
            u32();
          } else if (sort === 0x01 || sort === 0x04 || sort === 0x05) {
            u32(); // func, component, instance: a type index
          } else if (sort === 0x03) {
            const bound = byte(); // type: eq <idx> | sub resource
            if (bound === 0x00) u32();
            else if (bound !== 0x01) return undefined;
          } else {
            return undefined; // values and anything newer
          }
        }
        if (p !== end) return undefined;
      }
      p = end;
    }
  } catch (e) {
    if (e instanceof Truncated || e instanceof TypeError) return undefined;
    throw e;
  }
  return names;
}

/** `import x;` / `import name: func(...)` lines of the root world printed by wasm-tools. */
function importsFromWit(wit: string): string[] {
  const out: string[] = [];
  for (const m of wit.matchAll(/^\s*import\s+%?([^\s;:{(]+(?::[^\s;:{(/]+\/[^\s;{(]+)?)/gm)) {
    if (m[1]) out.push(m[1]);
  }
  return out;
}

export const __test = { readTopLevelImports, importsFromWit };
