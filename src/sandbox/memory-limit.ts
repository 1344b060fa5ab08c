/**
 * Caps a core wasm module's linear memories and tables (kept for tools such as the in-process
 * benchmark; the loader uses module-limits.ts directly, with every other bound checked too).
 *
 * Componentized JS engines declare memories with no maximum, and Worker `resourceLimits` do not
 * count wasm memory, so the only hard cap is the module's own declared maximum: with it,
 * `memory.grow` fails past the cap (QuickJS reports out-of-memory, StarlingMonkey traps).
 */
import { capModule, DEFAULT_MODULE_LIMITS, WASM_PAGE } from './module-limits.js';

/**
 * Returns a copy of `module` whose own memories have at most `maxBytes` (whole pages) and whose
 * tables have a maximum too. A memory whose initial size is over the cap is refused (throws),
 * never kept as declared.
 */
export function capModuleMemory(module: Uint8Array, maxBytes: number): Uint8Array<ArrayBuffer> {
  const maxPages = Math.max(1, Math.floor(maxBytes / WASM_PAGE));
  return capModule(module, () => maxPages, DEFAULT_MODULE_LIMITS.maxTableElements);
}
