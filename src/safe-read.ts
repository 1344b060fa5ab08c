/**
 * Reading a file someone else controls (a skill folder, the transpile cache): only a regular
 * file, only inside the folder it must belong to, only up to a size cap, and never by a path
 * that could have changed between the check and the read.
 *
 * 1. realpath the file and the folder; the file must lie strictly inside the folder
 *    (a symlink to `/dev/zero`, `~/.aws/credentials` or anything else outside is refused);
 * 2. open the resolved path with O_NOFOLLOW (a final component swapped for a link since step 1
 *    fails) and O_NONBLOCK (opening a FIFO never waits for a writer);
 * 3. fstat the *opened* descriptor: it must be a regular file no larger than the cap (a FIFO,
 *    device, socket or directory swapped in after step 1 is caught here); where /proc exists,
 *    the descriptor's own path must still be inside the folder;
 * 4. read through that descriptor, at most cap + 1 bytes (a file growing meanwhile is refused).
 *
 * Failures are `UnsafeFileError`s with a `reason`; their messages name paths and sizes, never
 * the file's content. Synchronous on purpose: every step is bounded.
 */
import { closeSync, constants as C, fstatSync, openSync, readlinkSync, readSync, realpathSync } from 'node:fs';
import { isWithinRoot } from './guards/fs-guard.js';

export type UnsafeFileReason = 'missing' | 'directory' | 'not_regular' | 'outside' | 'too_large' | 'changed' | 'unreadable';

export class UnsafeFileError extends Error {
  readonly reason: UnsafeFileReason;
  readonly file: string;
  constructor(reason: UnsafeFileReason, file: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnsafeFileError';
    this.reason = reason;
    this.file = file;
  }
}

export interface SafeReadOptions {
  /** Largest accepted size in bytes. */
  maxBytes: number;
  /** The folder the file must lie inside (after both are realpath'd). */
  within: string;
}

function kindOf(st: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

const mib = (n: number): string => (n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(n % (1024 * 1024) ? 1 : 0)} MiB` : `${n} bytes`);

/** Read `file` under the rules above. Throws `UnsafeFileError`. */
export function readRegularFileSync(file: string, opts: SafeReadOptions): Buffer {
  let realDir: string;
  let real: string;
  try {
    realDir = realpathSync(opts.within);
    real = realpathSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new UnsafeFileError('missing', file, `${file} does not exist`, { cause: e });
    if (code === 'ELOOP') throw new UnsafeFileError('unreadable', file, `${file} is a symlink loop`, { cause: e });
    throw new UnsafeFileError('unreadable', file, `${file} cannot be resolved (${code ?? 'error'})`, { cause: e });
  }
  if (real === realDir || !isWithinRoot(realDir, real)) {
    throw new UnsafeFileError('outside', file, `${file} resolves to ${real}, outside ${realDir}`);
  }
  let fd: number;
  try {
    fd = openSync(real, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK | C.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UnsafeFileError('missing', file, `${file} does not exist`, { cause: e });
    if (code === 'ELOOP') throw new UnsafeFileError('changed', file, `${file} was replaced by a symlink while it was being read`, { cause: e });
    if (code === 'ENXIO') throw new UnsafeFileError('not_regular', file, `${file} is not a regular file (a socket or FIFO)`, { cause: e });
    throw new UnsafeFileError('unreadable', file, `${file} cannot be opened (${code ?? 'error'})`, { cause: e });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      throw new UnsafeFileError(st.isDirectory() ? 'directory' : 'not_regular', file, `${file} is ${kindOf(st)}, not a regular file`);
    }
    if (st.size > opts.maxBytes) {
      throw new UnsafeFileError('too_large', file, `${file} is ${mib(st.size)}, over the ${mib(opts.maxBytes)} limit`);
    }
    // The descriptor itself must still be inside the folder (an intermediate directory swapped
    // for a symlink after realpath). Without /proc this check is skipped; steps 1-3 still hold.
    let opened: string | undefined;
    try {
      opened = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      opened = undefined;
    }
    if (opened !== undefined && opened.startsWith('/') && !isWithinRoot(realDir, opened)) {
      throw new UnsafeFileError('changed', file, `${file} moved outside ${realDir} while it was being read`);
    }
    // One byte more than fstat reported: reading it means the file grew after the check.
    const buf = Buffer.allocUnsafe(st.size + 1);
    let off = 0;
    for (;;) {
      const n = readSync(fd, buf, off, buf.length - off, null);
      if (n === 0) break;
      off += n;
      if (off === buf.length) {
        throw new UnsafeFileError('changed', file, `${file} grew while it was being read`);
      }
    }
    return buf.subarray(0, off);
  } catch (e) {
    if (e instanceof UnsafeFileError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new UnsafeFileError('unreadable', file, `${file} cannot be read (${code ?? 'error'})`, { cause: e });
  } finally {
    closeSync(fd);
  }
}
