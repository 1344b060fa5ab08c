// The floor: a skill component run in this thread with no host around it. Same bytes and the
// same preparation as the loader (jco transpile, memory cap written into the core modules,
// WebAssembly.compile), then `instantiate` with stub imports and `invoke(command, argsJson)`.
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DIST } from './env.mjs';

const { transpileComponent } = await import(`${DIST}/build/transpile.js`);
const { capModuleMemory } = await import(`${DIST}/sandbox/module-limits.js`);
const { ensureWasmFeatures } = await import(`${DIST}/sandbox/wasm-features.js`);

/** Imports that do the work directly, with no guard, no channel, no worker. */
export function directImports({ onLog, netResponse } = {}) {
  const fail = (tag, val) => {
    throw { tag, val };
  };
  const fs = {
    readFile: (p) => {
      try {
        return readFileSync(p);
      } catch (e) {
        return fail('failed', String(e.message));
      }
    },
    writeFile: () => fail('denied', 'stub'),
    listDir: () => [],
    stat: () => fail('denied', 'stub'),
    remove: () => fail('denied', 'stub'),
    makeDir: () => fail('denied', 'stub'),
  };
  // `netResponse`: a canned response for every fetch (what the guest does with one, no I/O).
  const net = { fetch: () => (netResponse ? { ...netResponse, body: netResponse.body.slice() } : fail('denied', 'stub')) };
  const log = { log: (level, message) => onLog?.(level, message) };
  const origin = performance.now();
  const clock = { now: () => Math.floor(Date.now()), monotonic: () => Math.floor(performance.now() - origin) };
  const imports = {};
  for (const v of ['', '@0.1.0', '@0.1.1']) {
    imports[`agentos:skill/clock${v}`] = clock;
    imports[`agentos:skill/fs${v}`] = fs;
    imports[`agentos:skill/net${v}`] = net;
    imports[`agentos:skill/log${v}`] = log;
    imports[`agentos:skill/types${v}`] = {};
  }
  return imports;
}

/**
 * Transpiles and compiles `componentPath` into `workDir`; returns timings and a factory of
 * instances. `memoryMb` is the cap the loader would write (the skill's limit).
 */
export async function prepareInProcess(componentPath, workDir, { memoryMb = 64 } = {}) {
  ensureWasmFeatures();
  const bytes = await readFile(componentPath);
  let t = performance.now();
  const out = await transpileComponent(bytes, 'skill');
  const transpileMs = performance.now() - t;
  await mkdir(workDir, { recursive: true });
  const wasm = [];
  for (const [name, data] of Object.entries(out.files)) {
    if (name === 'skill.js' || name.endsWith('.wasm')) await writeFile(join(workDir, name), data);
    if (name.endsWith('.wasm')) wasm.push(name);
  }
  t = performance.now();
  const modules = Object.fromEntries(
    await Promise.all(
      wasm.map(async (n) => [n, await WebAssembly.compile(capModuleMemory(out.files[n], memoryMb * 1024 * 1024))]),
    ),
  );
  const compileMs = performance.now() - t;
  const { instantiate } = await import(pathToFileURL(join(workDir, 'skill.js')).href);
  /** A new instance; `onInstance` sees every core instance (to find its memories). */
  const make = (imports = directImports(), onInstance) =>
    instantiate((name) => modules[name], imports, (m, i) => {
      const inst = new WebAssembly.Instance(m, i);
      onInstance?.(inst);
      return inst;
    });
  return {
    componentBytes: bytes.length,
    coreModules: wasm.length,
    transpileMs,
    compileMs,
    modules,
    make,
  };
}
