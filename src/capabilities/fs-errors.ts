/**
 * The fs capability's guest results: success, a denial (with what the audit trail records), and
 * an errno mapped to a guest error. Messages name only the path as the skill gave it, never
 * canonical paths (which could name places outside the roots) or raw Node error messages.
 */
import type { FsDeniedRuleId, FsOperation } from '../guards/fs-guard.js';
import type { CapResult, DenialOf } from './types.js';

export type Fail = Extract<CapResult<never>, { ok: false }>;

export const ok = <T>(value: T): CapResult<T> => ({ ok: true, value });

export const fail = (tag: 'not-found' | 'invalid' | 'limit' | 'failed', val: string): Fail => ({ ok: false, error: { tag, val } });

/** A guard or post-open denial: the guest sees `reason`, the audit trail the whole denial. */
export function denied(op: FsOperation, shown: string, rule: FsDeniedRuleId, reason: string): Fail {
  const denial: DenialOf<'fs'> = { capability: 'fs', target: shown, operation: op, reason, rule };
  return { ok: false, error: { tag: 'denied', val: reason }, denial };
}

/** Map an errno to a guest error that names only the path as given. */
export function fromErrno(code: string | undefined, shown: string): Fail {
  const p = JSON.stringify(shown);
  switch (code) {
    case 'ENOENT':
      return fail('not-found', `no such file or directory: ${p}`);
    case 'ENOTDIR':
      return fail('failed', `a component of ${p} is not a directory`);
    case 'EISDIR':
      return fail('failed', `${p} is a directory`);
    case 'ENOTEMPTY':
      return fail('failed', `directory ${p} is not empty (remove is not recursive)`);
    case 'EEXIST':
      return fail('failed', `${p} already exists`);
    case 'EACCES':
    case 'EPERM':
      return fail('failed', `permission denied by the host operating system: ${p}`);
    case 'ELOOP':
      return fail('failed', `too many levels of symbolic links: ${p}`);
    case 'ENAMETOOLONG':
      return fail('invalid', `path too long: ${p}`);
    case 'EMFILE':
    case 'ENFILE':
      return fail('failed', 'too many open files on the host');
    case 'ENOSPC':
    case 'EDQUOT':
      return fail('failed', 'no space left on the host device');
    case 'EROFS':
      return fail('failed', `${p} is on a read-only file system`);
    default:
      return fail('failed', `I/O error (${code ?? 'unknown'}) on ${p}`);
  }
}
