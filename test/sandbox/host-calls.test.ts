/**
 * The host-call dispatch on its own: every host function through its capability's table entry
 * (the real fs capability on a temp directory, the real net capability with its injected-fetch
 * seam), denials, each limit, an unknown function and a capability that throws. No worker: the
 * handler is what a worker's calls reach.
 */
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createFsCapability } from '../../src/capabilities/fs.js';
import { createNetCapability } from '../../src/capabilities/net.js';
import type { FetchLike } from '../../src/capabilities/types.js';
import { compileNetPolicy } from '../../src/guards/net-guard.js';
import { createHostCallHandler, type CallCaps, type InvocationRecord, type SkillCapabilities } from '../../src/sandbox/host-calls.js';
import type { CallMsg } from '../../src/sandbox/protocol.js';
import type { AuditEventInput } from '../../src/types.js';

const root = realpathSync(mkdtempSync(join(tmpdir(), 'agentos-hostcalls-')));
const outside = realpathSync(mkdtempSync(join(tmpdir(), 'agentos-hostcalls-out-')));
writeFileSync(join(root, 'hello.txt'), 'hello');
writeFileSync(join(outside, 'secret.txt'), 'secret');
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

const fetched: { url: string; method: string; body?: string }[] = [];
const fakeFetch: FetchLike = async (url, init) => {
  fetched.push({ url, method: init.method, body: init.body && Buffer.from(init.body).toString() });
  return new Response('response body', { status: 201, headers: { 'x-answer': '42' } });
};

function setup(limits: Partial<CallCaps> = {}, caps: Partial<SkillCapabilities> = {}) {
  const record: InvocationRecord = { invocationId: 'inv', skillId: 'skill', command: 'cmd', hostCalls: 0, ioBytes: 0 };
  const audit: AuditEventInput[] = [];
  const all: SkillCapabilities = {
    fs: createFsCapability({ read: true, write: true, roots: [root] }),
    net: createNetCapability({ policy: compileNetPolicy(['api.example.com']), fetch: fakeFetch }),
    ...caps,
  };
  const handle = createHostCallHandler(
    all,
    { maxHostCalls: 100, maxIoBytes: 1024 * 1024, ...limits },
    record,
    new AbortController().signal,
    (e) => audit.push(e),
  );
  return { record, audit, handle };
}

const bytes = (s: string) => new Uint8Array(Buffer.from(s));
const text = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString() : undefined);

describe('host-call dispatch: each host function reaches its capability', () => {
  it.each<[string, CallMsg, Uint8Array | undefined, (out: Awaited<ReturnType<ReturnType<typeof setup>['handle']>>) => void]>([
    ['fs.read-file', { t: 'call', fn: 'fs.read-file', path: join(root, 'hello.txt') }, undefined, (o) => {
      expect(o.reply).toEqual({ t: 'reply', ok: true });
      expect(text(o.payload)).toBe('hello');
    }],
    ['fs.write-file', { t: 'call', fn: 'fs.write-file', path: join(root, 'written.txt') }, bytes('new'), (o) => {
      expect(o.reply).toEqual({ t: 'reply', ok: true });
      expect(existsSync(join(root, 'written.txt'))).toBe(true);
    }],
    ['fs.stat', { t: 'call', fn: 'fs.stat', path: join(root, 'hello.txt') }, undefined, (o) => {
      expect(o.reply).toEqual({ t: 'reply', ok: true, v: { name: 'hello.txt', kind: 'file', size: 5 } });
    }],
    ['fs.list-dir', { t: 'call', fn: 'fs.list-dir', path: root }, undefined, (o) => {
      expect(o.reply.ok).toBe(true);
      expect((o.reply as { v: { name: string }[] }).v.map((e) => e.name)).toContain('hello.txt');
    }],
    ['fs.make-dir', { t: 'call', fn: 'fs.make-dir', path: join(root, 'sub') }, undefined, (o) => {
      expect(o.reply).toEqual({ t: 'reply', ok: true });
      expect(existsSync(join(root, 'sub'))).toBe(true);
    }],
    ['fs.remove', { t: 'call', fn: 'fs.remove', path: join(root, 'sub') }, undefined, (o) => {
      expect(o.reply).toEqual({ t: 'reply', ok: true });
      expect(existsSync(join(root, 'sub'))).toBe(false);
    }],
    ['net.fetch', { t: 'call', fn: 'net.fetch', req: { method: 'POST', url: 'https://api.example.com/x', headers: [] } }, bytes('request body'), (o) => {
      expect(o.reply).toMatchObject({ t: 'reply', ok: true, v: { status: 201 } });
      expect((o.reply as { v: { headers: { name: string; value: string }[] } }).v.headers).toContainEqual({ name: 'x-answer', value: '42' });
      expect(text(o.payload)).toBe('response body');
      expect(fetched.at(-1)).toEqual({ url: 'https://api.example.com/x', method: 'POST', body: 'request body' });
    }],
  ])('%s', async (_fn, call, payload, check) => {
    const { record, audit, handle } = setup();
    const out = await handle(call, payload);
    check(out);
    // The reply's JSON is measured once, for the channel to reuse.
    expect(out.json).toBe(JSON.stringify(out.reply));
    expect(record.hostCalls).toBe(1);
    expect(record.denial).toBeUndefined();
    expect(record.limit).toBeUndefined();
    expect(audit).toEqual([]);
  });

  it('counts the bytes of every call against the invocation', async () => {
    const { record, handle } = setup();
    await handle({ t: 'call', fn: 'fs.read-file', path: join(root, 'hello.txt') }, undefined); // 5
    await handle({ t: 'call', fn: 'fs.write-file', path: join(root, 'w2.txt') }, bytes('abc')); // 3
    await handle({ t: 'call', fn: 'net.fetch', req: { method: 'PUT', url: 'https://api.example.com/', headers: [] } }, bytes('xy')); // 2 + 13
    expect(record.ioBytes).toBe(5 + 3 + 2 + 'response body'.length);
    expect(record.hostCalls).toBe(3);
  });
});

describe('host-call dispatch: denials', () => {
  it.each<[string, CallMsg, string, string, string]>([
    ['a read outside the roots', { t: 'call', fn: 'fs.read-file', path: join(outside, 'secret.txt') }, 'fs', 'read-file', 'fs.outside_roots'],
    ['a host not allowed', { t: 'call', fn: 'net.fetch', req: { method: 'GET', url: 'https://evil.example.org/', headers: [] } }, 'net', 'GET', 'net.host_not_allowed'],
  ])('%s: denied for the guest, recorded and audited with its rule', async (_name, call, capability, operation, rule) => {
    const { record, audit, handle } = setup();
    const out = await handle(call, undefined);
    expect(out.reply).toMatchObject({ t: 'reply', ok: false, err: { tag: 'denied' } });
    expect(record.denial).toMatchObject({ capability, operation, rule });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ type: 'permission_denied', invocationId: 'inv', skillId: 'skill', command: 'cmd', capability, operation, meta: { rule } });
  });

  it("an invalid call is the guest's own mistake: not a denial, not audited", async () => {
    const { record, audit, handle } = setup();
    const out = await handle({ t: 'call', fn: 'fs.stat', path: 'relative/path' }, undefined);
    expect(out.reply).toMatchObject({ ok: false, err: { tag: 'invalid' } });
    expect(record.denial).toBeUndefined();
    expect(audit).toEqual([]);
  });

  it('past maxAuditedDenials, denials are counted per capability, not audited; the first is kept', async () => {
    const { record, audit, handle } = setup({ maxAuditedDenials: 2 });
    for (let i = 0; i < 3; i++) await handle({ t: 'call', fn: 'fs.read-file', path: join(outside, `f${i}`) }, undefined);
    await handle({ t: 'call', fn: 'net.fetch', req: { method: 'GET', url: 'https://evil.example.org/', headers: [] } }, undefined);
    expect(audit.map((e) => e.type)).toEqual(['permission_denied', 'permission_denied']);
    expect(record.denials).toBe(4);
    expect(record.suppressedDenials).toEqual({ fs: 1, net: 1 });
    expect(record.denial?.target).toBe(join(outside, 'f0'));
  });
});

describe('host-call dispatch: limits (one audit row per invocation, the guest answered `limit`)', () => {
  const big = () => writeFileSync(join(root, 'big.bin'), Buffer.alloc(4096));

  it.each<[string, Partial<CallCaps>, CallMsg[], Uint8Array | undefined, string, number]>([
    ['host_calls', { maxHostCalls: 2 }, Array.from({ length: 4 }, () => ({ t: 'call', fn: 'fs.stat', path: root }) as CallMsg), undefined, 'host_calls', 2],
    ['io_bytes on a write (nothing written)', { maxIoBytes: 3 }, [{ t: 'call', fn: 'fs.write-file', path: join(root, 'never.txt') }], bytes('four'), 'io_bytes', 3],
    ['io_bytes on a read', { maxIoBytes: 3 }, [{ t: 'call', fn: 'fs.read-file', path: join(root, 'hello.txt') }], undefined, 'io_bytes', 3],
    ['io_bytes on a response', { maxIoBytes: 5 }, [{ t: 'call', fn: 'net.fetch', req: { method: 'GET', url: 'https://api.example.com/', headers: [] } }], undefined, 'io_bytes', 5],
    ['message_size of a call the worker could not send', {}, [{ t: 'call', fn: 'fs.write-file', oversize: { part: 'message', bytes: 999, max: 100 } }], undefined, 'message_size', 100],
    ['message_size of a reply over the bounds', { bounds: { maxHeaderBytes: 1000, maxMessageBytes: 1000 } }, [{ t: 'call', fn: 'fs.read-file', path: join(root, 'big.bin') }], undefined, 'message_size', 1000],
  ])('%s', async (_name, limits, calls, payload, limit, max) => {
    big();
    const { record, audit, handle } = setup(limits);
    let last;
    for (const call of calls) last = await handle(call, payload);
    expect(last!.reply).toMatchObject({ t: 'reply', ok: false, err: { tag: 'limit' } });
    expect(record.limit).toMatchObject({ limit, max });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ type: 'limit_exceeded', meta: { limit, max } });
    expect(existsSync(join(root, 'never.txt'))).toBe(false);
  });
});

describe('host-call dispatch: what is not a host function, and a capability that throws', () => {
  it('an unknown function is `invalid`, not audited', async () => {
    const { audit, handle } = setup();
    const out = await handle({ t: 'call', fn: 'shell.exec', path: '/' } as unknown as CallMsg, undefined);
    expect(out.reply).toEqual({ t: 'reply', ok: false, err: { tag: 'invalid', val: 'unknown host function shell.exec' } });
    expect(audit).toEqual([]);
  });

  it('a prototype key is no host function', async () => {
    const { handle } = setup();
    const out = await handle({ t: 'call', fn: 'constructor', path: '/' } as unknown as CallMsg, undefined);
    expect(out.reply).toMatchObject({ ok: false, err: { tag: 'invalid' } });
  });

  it('a capability that throws answers `failed` with no host detail', async () => {
    const fs = createFsCapability({ read: true, write: false, roots: [root] });
    const throwing = { ...fs, stat: async () => { throw new Error(`secret host path ${root}`); } };
    const { handle } = setup({}, { fs: throwing });
    const out = await handle({ t: 'call', fn: 'fs.stat', path: join(root, 'hello.txt') }, undefined);
    expect(out.reply).toEqual({ t: 'reply', ok: false, err: { tag: 'failed', val: 'internal host error in fs.stat' } });
  });
});
