#!/usr/bin/env node
// Run after `npm install` changes package-lock.json.
//
// Some native packages (rolldown, componentize-qjs, jco-node-fs) list one optional dependency
// per platform. When the registry this project installs from lacks the build for another
// platform (e.g. @rolldown/binding-darwin-x64@1.3.2), npm leaves it out of the lockfile, and
// `npm ci` then refuses the lockfile as out of sync ("Missing: ... from lock file"), even though
// that package would never be installed here. This adds each such entry back, marked optional
// and restricted to its own os/cpu, so `npm ci` validates the tree and skips it as it always would.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const require = createRequire(resolve(root, 'package.json'));
const semver = require('semver');
const file = resolve(root, 'package-lock.json');
const lock = JSON.parse(readFileSync(file, 'utf8'));
const pkgs = lock.packages;

const OS = ['darwin', 'linux', 'win32', 'freebsd', 'android', 'openharmony', 'openbsd', 'netbsd', 'sunos', 'aix'];
const CPU = ['arm64', 'x64', 'ia32', 'arm', 'ppc64', 's390x', 'riscv64', 'loong64', 'wasm32'];

function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const os = OS.find((o) => parts.includes(o));
  const cpu = CPU.find((c) => parts.includes(c) || parts.join('-').includes(`-${c}`));
  return { ...(os ? { os: [os] } : {}), ...(cpu ? { cpu: [cpu] } : {}) };
}

/** Where Node would find `dep` from the package at `at`, if the lockfile has it. */
function findEntry(at, dep) {
  let dir = at;
  for (;;) {
    const candidate = dir ? `${dir}/node_modules/${dep}` : `node_modules/${dep}`;
    if (pkgs[candidate]) return candidate;
    if (!dir) return undefined;
    const i = dir.lastIndexOf('/node_modules/');
    dir = i >= 0 ? dir.slice(0, i) : '';
  }
}

let added = 0;
for (const [at, entry] of Object.entries(pkgs)) {
  if (!at) continue;
  for (const [dep, range] of Object.entries(entry.optionalDependencies ?? {})) {
    const found = findEntry(at, dep);
    if (found && semver.satisfies(pkgs[found].version, range)) continue;
    const { os, cpu } = platformOf(dep);
    if (!os && !cpu) continue; // not a per-platform binary: leave it to npm
    const target = `${at}/node_modules/${dep}`;
    pkgs[target] = {
      version: semver.minVersion(range)?.version ?? range,
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      ...(os ? { os } : {}),
      ...(cpu ? { cpu } : {}),
    };
    added++;
  }
}

// Nothing to add: leave npm's own bytes alone, so the lockfile stays exactly what npm writes.
if (added > 0) {
  // npm orders entries with an 'en' locale comparison (@isaacs/string-locale-compare), the root first.
  const collator = new Intl.Collator('en');
  lock.packages = Object.fromEntries(Object.entries(pkgs).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : collator.compare(a, b))));
  writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
}
console.log(`fix-lockfile: added ${added} platform-only optional entries`);
