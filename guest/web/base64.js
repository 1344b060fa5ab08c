// atob / btoa where the engine has none or a non-conforming pair: abab (jsdom's, per the HTML Standard), throwing
// InvalidCharacterError as browsers do where abab returns null.
import { atob as ababAtob, btoa as ababBtoa } from 'abab';

function invalid(what) {
  const e = new Error(`${what}: The string to be ${what === 'atob' ? 'decoded is not correctly encoded' : 'encoded contains characters outside of the Latin1 range'}.`);
  e.name = 'InvalidCharacterError';
  return e;
}

const impl = {
  atob(data) {
    if (arguments.length === 0) throw new TypeError("atob: 1 argument required, but only 0 present.");
    const r = ababAtob(String(data));
    if (r === null) throw invalid('atob');
    return r;
  },
  btoa(data) {
    if (arguments.length === 0) throw new TypeError("btoa: 1 argument required, but only 0 present.");
    const r = ababBtoa(String(data));
    if (r === null) throw invalid('btoa');
    return r;
  },
};

/** The engine's own pair, if it throws what the web throws (StarlingMonkey throws RangeError). */
function nativeConforms() {
  if (typeof globalThis.atob !== 'function' || typeof globalThis.btoa !== 'function') return false;
  for (const f of [() => globalThis.atob('a'), () => globalThis.btoa('\u20ac')]) {
    try {
      f();
      return false;
    } catch (e) {
      if (!e || e.name !== 'InvalidCharacterError') return false;
    }
  }
  return true;
}

if (!nativeConforms()) {
  for (const name of ['atob', 'btoa']) {
    Object.defineProperty(globalThis, name, { value: impl[name], configurable: true, writable: true });
  }
}
