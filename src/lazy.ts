/**
 * Load on first use. Importing `@agentos/skills` should not pay for zod, yaml, ajv or pino: a
 * process that opens an existing store and invokes an installed skill never needs them (they
 * serve install, policy files, args schemas and the default logger).
 *
 * `lazyRequire` uses `require()` (via `createRequire`) because it is synchronous, so synchronous
 * APIs such as `parseManifest` stay synchronous. Every package loaded this way must resolve
 * under the `require` condition (zod 4 ships `index.cjs`; ajv, yaml and pino are CommonJS).
 * Types come from `import type`, which emits nothing.
 *
 * `lazyImport` is the asynchronous form, for our own ES modules: the CLI (cli/lib.ts) loads the
 * library once before a command runs, so `--help`, `--version` and usage errors load none of it.
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

/** ES modules loaded on demand: `load()` once before use (awaited), then `get()` synchronously. */
export interface LazyImport<T> {
  /** Imports on the first call; a failed import is tried again on the next. */
  load(): Promise<T>;
  /** The loaded value; throws `notLoaded` when `load()` has not finished yet (a bug in the caller). */
  get(): T;
}

export function lazyImport<T>(importer: () => Promise<T>, notLoaded: string): LazyImport<T> {
  let loaded: { value: T } | undefined;
  return {
    async load() {
      loaded ??= { value: await importer() };
      return loaded.value;
    },
    get() {
      if (!loaded) throw new Error(notLoaded);
      return loaded.value;
    },
  };
}
