// structuredClone where the engine has none (QuickJS): @ungap/structured-clone (the HTML
// structured serialisation: Date, RegExp, Map, Set, typed arrays, errors, cycles).
import structuredCloneImpl from '@ungap/structured-clone';

if (typeof globalThis.structuredClone !== 'function') {
  Object.defineProperty(globalThis, 'structuredClone', {
    value: function structuredClone(value, options) {
      // The web's structuredClone refuses functions and symbols (DataCloneError).
      try {
        return structuredCloneImpl(value, { lossy: false, ...(options ?? {}) });
      } catch (e) {
        const err = new Error(`structuredClone: ${e && e.message ? e.message : 'the value cannot be cloned'}`);
        err.name = 'DataCloneError';
        throw err;
      }
    },
    configurable: true,
    writable: true,
  });
}
