/**
 * The library modules the commands use, loaded once by a `preAction` hook (program.ts) rather
 * than at startup: `--help`, `--version` and usage errors never load SQLite, zod or pino.
 * Commands call `lib()` synchronously inside their actions. Built on lazy.ts's `lazyImport`.
 */
import { lazyImport } from '../lazy.js';

type Lib = typeof import('../registry.js') &
  typeof import('../policy.js') &
  typeof import('../policy-file.js') &
  typeof import('../manifest.js') &
  Pick<typeof import('../audit.js'), 'createDefaultLogger' | 'SECURITY_EVENT_TYPES'>;

const library = lazyImport<Lib>(async () => {
  const [registry, policy, policyFile, manifest, audit] = await Promise.all([
    import('../registry.js'),
    import('../policy.js'),
    import('../policy-file.js'),
    import('../manifest.js'),
    import('../audit.js'),
  ]);
  return {
    ...registry,
    ...policy,
    ...policyFile,
    ...manifest,
    createDefaultLogger: audit.createDefaultLogger,
    SECURITY_EVENT_TYPES: audit.SECURITY_EVENT_TYPES,
  };
}, 'internal: the library was used before loadLib() (preAction hook) ran');

export const loadLib: () => Promise<Lib> = library.load;
export const lib: () => Lib = library.get;
