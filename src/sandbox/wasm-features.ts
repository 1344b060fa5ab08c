/**
 * Node 20's V8 keeps the wasm extended-const proposal behind a flag, and QuickJS components use
 * it (`i32.add` in constant expressions). The flag is process-wide and must be set in the main
 * thread before the first compile; workers inherit it. Node 21+ has it on by default.
 */
import v8 from 'node:v8';

let done = false;

export function ensureWasmFeatures(): void {
  if (done) return;
  done = true;
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 21) v8.setFlagsFromString('--experimental-wasm-extended-const');
}
