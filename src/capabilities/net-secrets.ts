/**
 * The secret step of a `net.fetch` hop, run after the net guard's yes and before the transport:
 * the secret guard decides which headers get which secrets (secret-guard.ts), then the values are
 * looked up (the store, or the host's vault through the invoker's `secrets` seam) and put in.
 *
 * Hops keep the skill's headers with their placeholders; each hop gets its own substituted copy,
 * so a redirect is decided from the placeholders again, never from a value already put in.
 * Every value put in is reported through `ctx.onSecretUsed` (the invocation's redactor and its
 * `secret_used` audit event, through net-scope.ts); a value never appears in a Failure.
 */
import { decideSecrets, substitute, SecretRule, type SecretRules } from '../guards/secret-guard.js';
import { secretValueProblem } from '../secret-redactor.js';
import { denial, fail, type Failure } from './net-errors.js';
import type { HeaderList } from './http-headers.js';
import type { Hop } from './net-transport.js';

/** What the net capability needs to put secrets in. */
export interface NetSecrets {
  rules: SecretRules;
  /** The value of a declared secret, or undefined when it is not set. May throw (a vault error). */
  resolve(name: string): Promise<string | undefined>;
}

/** One value put into a request, reported to the invocation. */
export interface SecretUse {
  name: string;
  value: string;
  origin: string;
}

/** The hop as sent: placeholders replaced (or their headers dropped), or why not. */
export async function injectSecrets(
  secrets: NetSecrets | undefined,
  hop: Hop,
  which: 'first' | 'redirect',
  onUsed: ((use: SecretUse) => void) | undefined,
): Promise<Hop | Failure> {
  if (!hop.headers.some(([, v]) => v.includes('{{'))) return hop;
  const d = decideSecrets(secrets?.rules ?? new Map(), hop.headers, hop.url, which);
  if (!d.allow) return denial(d, hop.url.href, hop.operation);
  if (d.inject.size === 0 && d.drop.size === 0) return hop;

  const values = new Map<string, string>();
  for (const names of d.inject.values()) {
    for (const name of names) {
      if (values.has(name)) continue;
      let value: string | undefined;
      try {
        value = await secrets!.resolve(name);
      } catch {
        // The vault's own message may say anything: not passed on.
        return fail('failed', `secret ${name} could not be read from the host's secret store`);
      }
      if (value === undefined || value === null || value === '') {
        return denial(
          { allow: false, kind: 'denied', rule: SecretRule.unset, reason: `secret ${name} is not set for this skill (the operator sets it with: agentos-skills secret set <skill> ${name})` },
          hop.url.href,
          hop.operation,
        );
      }
      const problem = secretValueProblem(value);
      if (problem) return fail('failed', `secret ${name} cannot be used: ${problem}`);
      values.set(name, value);
    }
  }
  const headers: HeaderList = [];
  hop.headers.forEach(([n, v], i) => {
    if (d.drop.has(i)) return;
    headers.push([n, d.inject.has(i) ? substitute(v, values) : v]);
  });
  for (const [name, value] of values) onUsed?.({ name, value, origin: hop.url.origin });
  return { ...hop, headers };
}
