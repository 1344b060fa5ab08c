/**
 * Load on first use. Importing `@agentos/skills` should not pay for zod, yaml, ajv or pino: a
 * process that opens an existing store and invokes an installed skill never needs them (they
 * serve install, policy files, args schemas and the default logger).
 *
 * `lazyRequire` uses `require()` (via `createRequire`) because it is synchronous, so synchronous
 * APIs such as `parseManifest` stay synchronous. Every package loaded this way must resolve
 * under the `require` condition (zod 4 ships `index.cjs`; ajv, yaml and pino are CommonJS).
 * Types come from `import type`, which emits nothing.
 */
import { createRequire } from 'node:module';

/**
 * A function returning `build()`'s value, calling `build` on the first call only. If `build`
 * throws, nothing is cached and the next call tries again.
 */
export function lazy<T>(build: () => T): () => T {
  let done = false;
  let value: T | undefined;
  return () => {
    if (!done) {
      value = build();
      done = true;
    }
    return value as T;
  };
}

/** `require` resolving from this folder (dist/), made when a package is first needed. */
const requireHere = lazy(() => createRequire(import.meta.url));

/** A function returning `require(id)`, loaded on its first call. */
export function lazyRequire<T>(id: string): () => T {
  return lazy(() => requireHere()(id) as T);
}
