// atob / btoa where the engine has none: abab (jsdom's, per the HTML Standard), throwing
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

for (const name of ['atob', 'btoa']) {
  if (typeof globalThis[name] !== 'function') {
    Object.defineProperty(globalThis, name, { value: impl[name], configurable: true, writable: true });
  }
}
