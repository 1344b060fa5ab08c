// The host's worker provides WebAssembly.promising as the identity before importing jco's glue
// (Node 20 lacks JSPI; the glue's catch branch assigns the same value). The bench does the same
// in its own thread so the in-process floor and instantiation figures match what a worker pays;
// the instantiate section still measures both ways, and the peers section hides the stub.
export const NATIVE_PROMISING = typeof WebAssembly.promising === 'function';
export const PROMISING_STUB = (fn) => fn;

export function installPromisingStub() {
  if (!NATIVE_PROMISING) WebAssembly.promising = PROMISING_STUB;
}

/** Runs `fn` with WebAssembly.promising absent (unless this Node has it natively), then restores the stub. */
export async function withoutPromisingStub(fn) {
  if (!NATIVE_PROMISING) delete WebAssembly.promising;
  try {
    return await fn();
  } finally {
    installPromisingStub();
  }
}
