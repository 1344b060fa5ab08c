// Evaluated before promise-polyfill (see jobs.js): gives it a `setTimeout` to capture.
export const hadTimeout = typeof globalThis.setTimeout === 'function';
if (!hadTimeout) globalThis.setTimeout = () => 0;
