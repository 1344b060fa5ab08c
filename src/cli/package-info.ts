/** This package's name and version, read from its package.json (works from src/ and dist/). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface PackageInfo {
  name: string;
  version: string;
  /** The TypeScript range this package is built with (its devDependency), for scaffolded skills. */
  typescript: string;
}

let cached: PackageInfo | undefined;

export function packageInfo(): PackageInfo {
  if (!cached) {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      name: string;
      version: string;
      devDependencies?: Record<string, string>;
    };
    cached = { name: pkg.name, version: pkg.version, typescript: pkg.devDependencies?.['typescript'] ?? '^5.9.3' };
  }
  return cached;
}
