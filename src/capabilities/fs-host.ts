/**
 * The fs capability's host functions (agentos:skill/fs): each guest call handed to the
 * FsCapability (whose guard decides before any I/O), its bytes counted against the invocation.
 */
import type { FsCapability } from './fs.js';
import { answerWith, type HostFunctions } from '../sandbox/host-function.js';
import type { HostFn } from '../sandbox/protocol.js';

export type FsHostFn = Extract<HostFn, `fs.${string}`>;

export function fsHostFunctions(fs: FsCapability): HostFunctions<FsHostFn> {
  const target = (call: { path: string }) => call.path;
  const operation = (call: { fn: FsHostFn }) => call.fn.slice('fs.'.length);
  return {
    'fs.read-file': {
      target,
      operation,
      async serve(call, io) {
        const r = await fs.readFile(call.path, io);
        if (!r.ok) return r;
        const over = io.countIo(r.value.byteLength);
        return over ? { ok: false, error: over } : { ok: true, value: { payload: r.value } };
      },
    },
    'fs.write-file': {
      target,
      operation,
      async serve(call, io) {
        const data = io.payload ?? new Uint8Array(0);
        const over = io.countIo(data.byteLength);
        if (over) return { ok: false, error: over };
        return answerWith(await fs.writeFile(call.path, data, io), () => ({}));
      },
    },
    'fs.list-dir': { target, operation, serve: async (call, io) => answerWith(await fs.listDir(call.path, io), (v) => ({ v })) },
    'fs.stat': { target, operation, serve: async (call, io) => answerWith(await fs.stat(call.path, io), (v) => ({ v })) },
    'fs.remove': { target, operation, serve: async (call, io) => answerWith(await fs.remove(call.path, io), () => ({})) },
    'fs.make-dir': { target, operation, serve: async (call, io) => answerWith(await fs.makeDir(call.path, io), () => ({})) },
  };
}
