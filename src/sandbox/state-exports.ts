/**
 * Makes a core module's whole state visible to the host, so an instance can be reset to a
 * snapshot (instance-reset.ts) instead of re-instantiated: every memory, table and mutable
 * global the module defines but does not export gets an extra export under a reserved name
 * (NUL-prefixed: no component's export can be spelled like it; jco's glue looks exports up by
 * name and never sees these). State a module imports is defined by another module (captured
 * there) or created by the JS glue (captured from the import object at instantiation).
 */
import { MalformedModuleError, Reader, readLimits, SECTION, sections, skipConstExpr, skipTableType, skipValType, writeU32 } from './wasm-sections.js';

export const STATE_EXPORT_PREFIX = '\u0000agentos:state:';

const KIND = { func: 0, table: 1, memory: 2, global: 3, tag: 4 } as const;

/** Sections that must come after the export section (start, element, data count, code, data). */
const AFTER_EXPORT = new Set<number>([SECTION.start, SECTION.element, SECTION.dataCount, SECTION.code, SECTION.data]);

export interface StateExposure {
  bytes: Uint8Array<ArrayBuffer>;
  /** Exports added: defined memories, tables and mutable globals that were internal. */
  added: number;
}

/** `b` with every defined memory, table and mutable global exported (or `b` itself when all already are). */
export function exposeState(b: Uint8Array<ArrayBuffer>): StateExposure {
  const spans = sections(b);
  const imported = { table: 0, memory: 0, global: 0 };
  const defined = { table: 0, memory: 0 };
  const mutableGlobals: number[] = [];
  const exported = { table: new Set<number>(), memory: new Set<number>(), global: new Set<number>() };
  let exportSpan: (typeof spans)[number] | undefined;
  let exportCount = 0;
  for (const s of spans) {
    const r = new Reader(b, s.body, s.end);
    if (s.id === SECTION.import) {
      const n = r.count(3);
      for (let i = 0; i < n; i++) {
        r.name();
        r.name();
        const kind = r.byte();
        if (kind === KIND.func) r.u32();
        else if (kind === KIND.table) {
          skipTableType(r);
          readLimits(r, 'table');
          imported.table++;
        } else if (kind === KIND.memory) {
          readLimits(r, 'memory');
          imported.memory++;
        } else if (kind === KIND.global) {
          skipValType(r);
          r.byte();
          imported.global++;
        } else if (kind === KIND.tag) {
          r.byte();
          r.u32();
        } else throw new MalformedModuleError(`unknown import kind ${kind}`);
      }
    } else if (s.id === SECTION.table) defined.table = r.u32();
    else if (s.id === SECTION.memory) defined.memory = r.u32();
    else if (s.id === SECTION.global) {
      const n = r.count(3);
      for (let i = 0; i < n; i++) {
        skipValType(r);
        const mut = r.byte();
        skipConstExpr(r);
        if (mut === 1) mutableGlobals.push(imported.global + i);
        else if (mut !== 0) throw new MalformedModuleError(`unknown global mutability ${mut}`);
      }
    } else if (s.id === SECTION.export) {
      exportSpan = s;
      exportCount = r.count(3);
      for (let i = 0; i < exportCount; i++) {
        r.name();
        const kind = r.byte();
        const idx = r.u32();
        if (kind === KIND.table) exported.table.add(idx);
        else if (kind === KIND.memory) exported.memory.add(idx);
        else if (kind === KIND.global) exported.global.add(idx);
      }
    }
  }
  const extra: { kind: number; idx: number }[] = [];
  for (let i = 0; i < defined.memory; i++) if (!exported.memory.has(imported.memory + i)) extra.push({ kind: KIND.memory, idx: imported.memory + i });
  for (let i = 0; i < defined.table; i++) if (!exported.table.has(imported.table + i)) extra.push({ kind: KIND.table, idx: imported.table + i });
  for (const g of mutableGlobals) if (!exported.global.has(g)) extra.push({ kind: KIND.global, idx: g });
  if (extra.length === 0) return { bytes: b, added: 0 };

  const entries: number[] = [];
  writeU32(exportCount + extra.length, entries);
  const oldEntries = exportSpan ? b.subarray(exportSpan.body + leb32Length(b, exportSpan.body), exportSpan.end) : new Uint8Array(0);
  const tail: number[] = [];
  for (const e of extra) {
    const name = new TextEncoder().encode(`${STATE_EXPORT_PREFIX}${e.kind}:${e.idx}`);
    writeU32(name.length, tail);
    for (const c of name) tail.push(c);
    tail.push(e.kind);
    writeU32(e.idx, tail);
  }
  const bodyLen = entries.length + oldEntries.length + tail.length;
  const header = [SECTION.export];
  writeU32(bodyLen, header);
  const section = new Uint8Array(header.length + bodyLen);
  section.set(header, 0);
  section.set(entries, header.length);
  section.set(oldEntries, header.length + entries.length);
  section.set(tail, header.length + entries.length + oldEntries.length);

  // Replace the export section, or insert one where it belongs.
  const cut = exportSpan ? { from: exportSpan.start, to: exportSpan.end } : insertionPoint(spans, b.length);
  const out = new Uint8Array(cut.from + section.length + (b.length - cut.to));
  out.set(b.subarray(0, cut.from), 0);
  out.set(section, cut.from);
  out.set(b.subarray(cut.to), cut.from + section.length);
  return { bytes: out, added: extra.length };
}

function leb32Length(b: Uint8Array, pos: number): number {
  let n = 1;
  while (b[pos + n - 1]! & 0x80) n++;
  return n;
}

function insertionPoint(spans: ReturnType<typeof sections>, end: number): { from: number; to: number } {
  const next = spans.find((s) => AFTER_EXPORT.has(s.id));
  const at = next ? next.start : end;
  return { from: at, to: at };
}
