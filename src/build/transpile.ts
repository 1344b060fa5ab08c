/**
 * Turn a skill component into JS + core wasm files the sandbox can instantiate synchronously.
 *
 * Output (for `name` = 'skill'): `skill.js` (an ES module exporting `instantiate`), the core
 * modules `skill.core.wasm`, `skill.core2.wasm`, ... (3 for StarlingMonkey, 13 for QuickJS) and
 * `.d.ts` files (`skill.d.ts`, `interfaces/agentos-skill-*.d.ts`) describing the contract.
 *
 * ```js
 * const { instantiate } = await import(pathToFileURL(dir + '/skill.js').href);
 * const exports = instantiate(
 *   (file) => compiledModules[file],            // WebAssembly.Module per core file, sync
 *   {
 *     'agentos:skill/fs':  { readFile, writeFile, listDir, stat, remove, makeDir },
 *     'agentos:skill/net': { fetch },
 *     'agentos:skill/log': { log },
 *     'agentos:skill/types': {},                 // not read by the generated code; harmless
 *   },
 *   (module, imports) => new WebAssembly.Instance(module, imports),   // optional
 * );
 * exports.invoke(command, argsJson);              // string, or throws ComponentError(.payload)
 * ```
 *
 * The import object is keyed WITHOUT the version (`agentos:skill/fs`), with camelCase function
 * names; every function of every interface must be present at instantiation, used or not. The
 * full host-side contract is described in the build report (see src/build/guest-failure.ts for
 * the err string of `invoke`).
 */


export interface TranspiledComponent {
  /** File name -> contents. Core wasm files are named `<name>.core*.wasm`. */
  files: Record<string, Uint8Array>;
  /** Interfaces the generated code reads from the import object (unversioned keys). */
  imports: string[];
  /** Exported functions/instances, e.g. ['invoke'] (QuickJS components also export 'init'). */
  exports: string[];
}

export async function transpileComponent(bytes: Uint8Array, name: string): Promise<TranspiledComponent> {
  // Loaded on first use: jco costs ~100 ms to import, and a warm disk cache never needs it.
  const { transpile } = await import('@bytecodealliance/jco');
  const out = await transpile(bytes, {
    name,
    // instantiate(getCoreModule, imports, instantiateCore) returns the exports synchronously.
    instantiation: 'sync',
    // No WASI: a skill imports only agentos:skill/*. Nothing is mapped to preview2-shim.
    wasiShim: false,
    // Node-only file reading helpers are not needed: the host hands over compiled modules.
    nodejsCompat: false,
    // Keep invoke's err as a ComponentError whose .payload is the guest's err string.
    noComponentErrorWrapping: false,
    quiet: true,
  });
  return {
    files: out.files,
    imports: out.imports,
    exports: out.exports.map(([n]) => n),
  };
}
