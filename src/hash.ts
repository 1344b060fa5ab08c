/** The one sha256 of the host: component hashes, transpile cache records, MCP tool-name suffixes. */
import { createHash } from 'node:crypto';

/** Lowercase hex sha256 of `data` (a string is hashed as UTF-8). */
export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}
