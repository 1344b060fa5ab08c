/**
 * The net capability's host function (agentos:skill/net fetch): the request handed to the
 * NetCapability (guard, then the pinned transport), request and response bodies counted
 * against the invocation.
 */
import type { NetCapability } from './net.js';
import type { HostFunctions } from '../sandbox/host-function.js';

export function netHostFunctions(net: NetCapability): HostFunctions<'net.fetch'> {
  return {
    'net.fetch': {
      target: (call) => call.req.url,
      operation: (call) => call.req.method,
      async serve(call, io) {
        const over = io.countIo(io.payload?.byteLength ?? 0);
        if (over) return { ok: false, error: over };
        const r = await net.fetch({ ...call.req, body: io.payload }, io);
        if (!r.ok) return r;
        const overResponse = io.countIo(r.value.body.byteLength);
        if (overResponse) return { ok: false, error: overResponse };
        return { ok: true, value: { v: { status: r.value.status, headers: r.value.headers }, payload: r.value.body } };
      },
    },
  };
}
