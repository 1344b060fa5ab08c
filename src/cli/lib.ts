/**
 * The library modules the commands use, loaded once by a `preAction` hook (program.ts) rather
 * than at startup: `--help`, `--version` and usage errors never load SQLite, zod or pino.
 * Commands call `lib()` synchronously inside their actions.
 */
type Lib = typeof import('../registry.js') &
  typeof import('../policy.js') &
  typeof import('../policy-file.js') &
  typeof import('../manifest.js') &
  Pick<typeof import('../audit.js'), 'createDefaultLogger' | 'SECURITY_EVENT_TYPES'>;

let loaded: Lib | undefined;

export async function loadLib(): Promise<Lib> {
  if (!loaded) {
    const [registry, policy, policyFile, manifest, audit] = await Promise.all([
      import('../registry.js'),
      import('../policy.js'),
      import('../policy-file.js'),
      import('../manifest.js'),
      import('../audit.js'),
    ]);
    loaded = {
      ...registry,
      ...policy,
      ...policyFile,
      ...manifest,
      createDefaultLogger: audit.createDefaultLogger,
      SECURITY_EVENT_TYPES: audit.SECURITY_EVENT_TYPES,
    };
  }
  return loaded;
}

export function lib(): Lib {
  if (!loaded) throw new Error('internal: the library was used before loadLib() (preAction hook) ran');
  return loaded;
}
