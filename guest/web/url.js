// URL / URLSearchParams (WHATWG URL Standard) where the engine has none (QuickJS): core-js's
// implementation, without touching any other global.
import URLImpl from 'core-js-pure/web/url.js';
import URLSearchParamsImpl from 'core-js-pure/web/url-search-params.js';

for (const [name, value] of [['URL', URLImpl], ['URLSearchParams', URLSearchParamsImpl]]) {
  if (typeof globalThis[name] !== 'function') {
    Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  }
}
