/**
 * Fresh state without re-instantiating: the state of a component instance as the host sees it,
 * saved right after instantiation (before seeding) and put back after each invocation.
 *
 * The state is every Memory, Table and Global any core instance exports or is given at
 * instantiation (the loader's state-exports.ts made each module's internal memories, tables and
 * mutable globals exports, and the glue's own Globals — the component's instance flags — are
 * caught in the import objects), plus the glue's resource handle tables (hooked by the loader).
 * A restore that cannot be exact answers false and the caller re-instantiates instead: memory
 * that grew (wasm memory never shrinks; see MAX_GROWN_BYTES), a table that grew, a global the JS API cannot read (v128), a handle table that
 * changed.
 */

/**
 * Growth a reset tolerates (the grown tail zeroed). 0: wasm memory cannot shrink, so a grown
 * memory would show the next caller its size (memory.size: how much the previous caller grew
 * it, a channel between callers); such an instance is replaced instead.
 */
export const MAX_GROWN_BYTES = 0;

/** The glue hands its resource handle tables to this well-known global (see loader.ts GLUE_HOOK). */
export const HANDLE_TABLES_HOOK = Symbol.for('agentos.handleTables');

type HandleTable = number[] & { _createdReps?: Set<number> };

interface SavedMemory {
  m: WebAssembly.Memory;
  bytes: Uint8Array;
}
interface SavedTable {
  t: WebAssembly.Table;
  entries: unknown[];
}
interface SavedGlobal {
  g: WebAssembly.Global;
  value: unknown;
}

export class InstanceState {
  private readonly memories = new Set<WebAssembly.Memory>();
  private readonly tables = new Set<WebAssembly.Table>();
  private readonly globals = new Set<WebAssembly.Global>();
  private handleTables: HandleTable[] | undefined;
  /** Why the state cannot be saved (found while collecting), if so. */
  unsafe: string | undefined;

  /** Every state object of one core instance: its exports and what it was given. */
  collect(instance: WebAssembly.Instance, imports: WebAssembly.Imports | undefined): void {
    for (const v of Object.values(instance.exports)) this.add(v);
    for (const ns of Object.values(imports ?? {})) for (const v of Object.values(ns)) this.add(v);
  }

  setHandleTables(tables: unknown): void {
    if (Array.isArray(tables)) this.handleTables = tables as HandleTable[];
  }

  /** Memories collected (the memory-limit check reads them). */
  get memoryList(): WebAssembly.Memory[] {
    return [...this.memories];
  }

  private add(v: unknown): void {
    if (v instanceof WebAssembly.Memory) this.memories.add(v);
    else if (v instanceof WebAssembly.Table) this.tables.add(v);
    else if (v instanceof WebAssembly.Global) this.globals.add(v);
  }

  /**
   * The snapshot of everything collected, or undefined (with `unsafe` set) when it cannot be exact.
   * `tablesFixed`: no module can write a table after instantiation (code-facts.ts), so the
   * tables are left out (comparing ~800 entries, one JS call each, was ~22 us of every reset).
   */
  save(opts: { tablesFixed?: boolean } = {}): Snapshot | undefined {
    if (this.unsafe) return undefined;
    const memories: SavedMemory[] = [...this.memories].map((m) => ({ m, bytes: new Uint8Array(m.buffer).slice() }));
    const tables: SavedTable[] = [];
    for (const t of opts.tablesFixed ? [] : this.tables) {
      const entries: unknown[] = new Array(t.length);
      for (let i = 0; i < t.length; i++) entries[i] = t.get(i);
      tables.push({ t, entries });
    }
    const globals: SavedGlobal[] = [];
    for (const g of this.globals) {
      let value: unknown;
      try {
        value = g.value;
      } catch {
        this.unsafe = 'a global the host cannot read (v128)';
        return undefined;
      }
      // Only mutable globals can change; an immutable one refuses the write.
      try {
        g.value = value;
        globals.push({ g, value });
      } catch {
        // immutable
      }
    }
    const handles = this.handleTables?.map((t) => (t ? { t, items: [...t], reps: new Set(t._createdReps ?? []) } : undefined));
    return new Snapshot(memories, tables, globals, this.handleTables, handles);
  }
}

export class Snapshot {
  constructor(
    private readonly memories: SavedMemory[],
    private readonly tables: SavedTable[],
    private readonly globals: SavedGlobal[],
    private readonly handleTables: HandleTable[] | undefined,
    private readonly handles: ({ t: HandleTable; items: number[]; reps: Set<number> } | undefined)[] | undefined,
  ) {}

  /** Bytes copied by one restore (without a grown tail). */
  get bytes(): number {
    return this.memories.reduce((n, s) => n + s.bytes.length, 0);
  }

  /**
   * Puts the saved state back. False when that cannot be exact (the instance must then be
   * replaced); the instance is then in an unspecified state and must not be used.
   */
  restore(maxGrownBytes = MAX_GROWN_BYTES): boolean {
    if (!this.handlesUnchanged()) return false;
    for (const s of this.memories) if (s.m.buffer.byteLength - s.bytes.length > maxGrownBytes) return false;
    for (const s of this.tables) if (s.t.length !== s.entries.length) return false;
    for (const s of this.memories) {
      const now = new Uint8Array(s.m.buffer);
      now.set(s.bytes);
      // Memory cannot shrink: the grown tail goes back to zeros, as a fresh grow would give.
      if (now.length > s.bytes.length) now.fill(0, s.bytes.length);
    }
    for (const s of this.tables) {
      const t = s.t;
      for (let i = 0; i < s.entries.length; i++) if (t.get(i) !== s.entries[i]) t.set(i, s.entries[i] as never);
    }
    for (const s of this.globals) s.g.value = s.value;
    return true;
  }

  /** The glue's handle tables are as right after instantiation (no resource left behind). */
  private handlesUnchanged(): boolean {
    if (!this.handleTables || !this.handles) return true;
    if (this.handleTables.length !== this.handles.length) return false;
    for (let i = 0; i < this.handles.length; i++) {
      const saved = this.handles[i];
      const t = this.handleTables[i];
      if (!saved) {
        if (t) return false;
        continue;
      }
      if (t !== saved.t || t.length !== saved.items.length) return false;
      for (let j = 0; j < t.length; j++) if (t[j] !== saved.items[j]) return false;
      // Reps a table has seen: no data, but put back so nothing accumulates across callers.
      if (t._createdReps && t._createdReps.size !== saved.reps.size) {
        t._createdReps.clear();
        for (const r of saved.reps) t._createdReps.add(r);
      }
    }
    return true;
  }
}
