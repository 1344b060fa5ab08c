/**
 * The net capability as one invocation sees it (the invoker wraps the skill's capability with
 * this per call): the secrets net-secrets.ts put into its requests are redacted from everything
 * the guest gets back. Apart from net.ts and net-secrets.ts so that they import each other one way.
 */
import type { SecretRedactor } from '../secret-redactor.js';
import type { NetCapability } from './net.js';
import type { SecretUse } from './net-secrets.js';

/**
 * The skill's net capability as one invocation sees it: each secret put in is added to the
 * invocation's redactor (and reported), and every answer the guest gets (status line aside) is
 * redacted with it: response header names and values, the whole body, error and denial texts.
 */
export function scopeNetToInvocation(
  net: NetCapability,
  redactor: SecretRedactor,
  onUsed: (use: Omit<SecretUse, 'value'>) => void,
): NetCapability {
  return {
    close: () => net.close(),
    async fetch(req, ctx) {
      const r = await net.fetch(req, {
        ...ctx,
        onSecretUsed: (use) => {
          redactor.add(use.value);
          onUsed({ name: use.name, origin: use.origin });
        },
      });
      if (redactor.empty) return r;
      if (r.ok) {
        const headers = r.value.headers.map((h) => ({ name: redactor.text(h.name), value: redactor.text(h.value) }));
        return { ok: true, value: { status: r.value.status, headers, body: redactor.bytes(r.value.body) } };
      }
      return redactor.json(r);
    },
  };
}
