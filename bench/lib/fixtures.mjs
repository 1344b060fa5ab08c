// The fixtures the host-call sections share: a small file inside an allowed root, and a loopback
// HTTP server that counts the connections and requests it serves.
import { realpath, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { tempDir } from './hosts.mjs';

export const HTTP_BODY = 'ok from the loopback server';
export const SMALL_CONTENT = 'a small file for the fs host-call benchmark\n';

/** { fsRoot, smallFile, smallContent, httpBody, port, counted(fn), close() } */
export async function startFixtures() {
  const fsRoot = await realpath(await tempDir('agentos-bench-fsroot-'));
  const smallFile = join(fsRoot, 'small.txt');
  await writeFile(smallFile, SMALL_CONTENT);

  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(HTTP_BODY) });
    res.end(HTTP_BODY);
  });
  // Connections accepted, and requests served, so far: shows whether a figure reused connections.
  const served = { connections: 0, requests: 0 };
  server.on('connection', () => served.connections++);
  server.on('request', () => served.requests++);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  server.unref();

  return {
    fsRoot,
    smallFile,
    smallContent: SMALL_CONTENT,
    httpBody: HTTP_BODY,
    port: server.address().port,
    /** `fn`'s result plus the connections and requests the loopback server saw meanwhile. */
    async counted(fn) {
      const c0 = served.connections;
      const r0 = served.requests;
      const out = await fn();
      return { ...out, server_connections: served.connections - c0, server_requests: served.requests - r0 };
    },
    close: () => server.close(),
  };
}
