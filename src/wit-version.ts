/**
 * The agentos:skill WIT package, its versions and interfaces, written down once: wit/skill.wit
 * declares WIT_VERSION; the builder normalises a skill's imports to it; the component check
 * accepts every served version; the worker thread answers every spelling.
 */

/** The package every skill import belongs to. */
export const SKILL_PACKAGE = 'agentos:skill';

/** The version wit/skill.wit declares, and the one new builds import. */
export const WIT_VERSION = '0.1.1';

/** Every version the host serves: components built against any of them keep working. */
export const SERVED_WIT_VERSIONS: readonly string[] = ['0.1.0', WIT_VERSION];

/** The interfaces of agentos:skill and the versions that have each one (0.1.1 added `clock`). */
export const SKILL_INTERFACES: Readonly<Record<string, readonly string[]>> = {
  net: SERVED_WIT_VERSIONS,
  fs: SERVED_WIT_VERSIONS,
  log: SERVED_WIT_VERSIONS,
  types: SERVED_WIT_VERSIONS,
  clock: ['0.1.1'],
};

/** "net, fs, log, types at 0.1.0 or 0.1.1; clock at 0.1.1": which interface each version has. */
export function describeSkillInterfaces(): string {
  const groups = new Map<string, string[]>();
  for (const [name, versions] of Object.entries(SKILL_INTERFACES)) {
    const key = versions.join(' or ');
    groups.set(key, [...(groups.get(key) ?? []), name]);
  }
  return [...groups].map(([versions, names]) => `${names.join(', ')} at ${versions}`).join('; ');
}
