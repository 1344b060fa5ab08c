/**
 * Components stored content-addressed next to the database: `<store>/components/<sha256>.wasm`,
 * one file per distinct component, written so that a file is either absent or complete (temp
 * file, fsync, rename). Which hashes are still referenced is the registry's business (under the
 * database's write lock); this file only knows bytes and names.
 */

import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { sha256 } from '../hash.js';
import { isSha256Hex } from '../home.js';

export class ComponentStore {
  /** `<store>/components`. */
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
  }

  /** Where the component with this sha256 is stored. */
  pathOf(hash: string): string {
    if (!isSha256Hex(hash)) throw new TypeError(`not a sha256 hex digest: ${JSON.stringify(hash)}`);
    return path.join(this.dir, `${hash}.wasm`);
  }

  /** Make sure `<hash>.wasm` holds `bytes` (whose sha256 is `hash`). Returns whether it wrote the file. */
  ensure(hash: string, bytes: Uint8Array): boolean {
    const target = this.pathOf(hash);
    if (existsSync(target) && fileHasHash(target, hash)) return false;
    writeFileAtomic(target, bytes);
    return true;
  }

  has(hash: string): boolean {
    return existsSync(this.pathOf(hash));
  }

  /** Delete the file of `hash`, if present (call under the write lock, once nothing references it). */
  remove(hash: string): void {
    try {
      unlinkSync(this.pathOf(hash));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  /** Temp files a crashed install left behind (older than an hour, so never one in progress). */
  removeStaleTempFiles(): void {
    try {
      const cutoff = Date.now() - 3_600_000;
      for (const name of readdirSync(this.dir)) {
        if (!name.startsWith('.tmp-')) continue;
        const file = path.join(this.dir, name);
        try {
          if (statSync(file).mtimeMs < cutoff) unlinkSync(file);
        } catch {
          /* raced with another process; fine */
        }
      }
    } catch {
      /* best effort */
    }
  }
}

function fileHasHash(file: string, hash: string): boolean {
  try {
    return sha256(readFileSync(file)) === hash;
  } catch {
    return false;
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    /* already gone */
  }
}

/** Write `bytes` to `file` so that `file` is either absent or complete: temp file, fsync, rename. */
function writeFileAtomic(file: string, bytes: Uint8Array): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.tmp-${path.basename(file)}-${process.pid}-${randomBytes(6).toString('hex')}`);
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkQuietly(tmp);
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, file);
  } catch (e) {
    unlinkQuietly(tmp);
    throw e;
  }
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Directory fsync is best effort (not supported everywhere).
  }
}
