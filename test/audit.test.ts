import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, type SqlDatabase } from '../src/store/sqlite.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditTrail, createDefaultLogger, isSecretKey, REDACTED, redactSecrets, redactUrl, redactUrlsInText } from '../src/audit.js';
import type { AuditEventInput } from '../src/types.js';

let dir: string;
let db: SqlDatabase;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'agentos-audit-'));
  db = openDatabase(path.join(dir, 'audit.sqlite'), { timeoutMs: 5000 });
  db.pragma('journal_mode = WAL');
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function spy() {
  const calls: { level: 'warn' | 'info'; obj: Record<string, unknown>; msg?: string | undefined }[] = [];
  return {
    calls,
    logger: {
      warn: (obj: object, msg?: string) => calls.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
      info: (obj: object, msg?: string) => calls.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
    },
  };
}

describe('isSecretKey / redactSecrets', () => {
  it.each<[string, boolean]>([
    ['token', true],
    ['Token', true],
    ['access_token', true],
    ['accessToken', true],
    ['refreshtoken', true],
    ['csrfToken', true],
    ['secret', true],
    ['client_secret', true],
    ['clientSecret', true],
    ['password', true],
    ['PASSWORD', true],
    ['db_password', true],
    ['passwd', true],
    ['api_key', true],
    ['apiKey', true],
    ['APIKEY', true],
    ['apikey', true],
    ['x-api-key', true],
    ['X-Api-Key', true],
    ['key', true],
    ['private_key', true],
    ['privateKey', true],
    ['private', true],
    ['authorization', true],
    ['Authorization', true],
    ['proxy-authorization', true],
    ['auth', true],
    ['x-auth', true],
    ['cookie', true],
    ['Set-Cookie', true],
    ['credential', true],
    ['credentials', true],
    ['aws_credentials', true],
    // not secret
    ['name', false],
    ['author', false],
    ['authors', false],
    ['monkey', false],
    ['keyboard', false],
    ['max_tokens', false],
    ['domain', false],
    ['path', false],
    ['url', false],
    ['command', false],
    ['componentHash', false],
  ])('%s -> %s', (key, secret) => {
    expect(isSecretKey(key)).toBe(secret);
  });

  it.each<[string, unknown, unknown]>([
    ['flat', { user: 'ada', password: 'hunter2' }, { user: 'ada', password: REDACTED }],
    ['nested args', { args: { domain: 'x.com', apiKey: 'k', nested: { token: 't', ok: 1 } } }, { args: { domain: 'x.com', apiKey: REDACTED, nested: { token: REDACTED, ok: 1 } } }],
    ['object value under secret key', { credentials: { user: 'a', pass: 'b' } }, { credentials: REDACTED }],
    ['array value under secret key', { cookies: ['a', 'b'] }, { cookies: REDACTED }],
    ['arrays of objects', { items: [{ secret: 's' }, { x: 1 }] }, { items: [{ secret: REDACTED }, { x: 1 }] }],
    ['header records', { headers: [{ name: 'Authorization', value: 'Bearer x' }, { name: 'Accept', value: 'json' }] }, { headers: [{ name: 'Authorization', value: REDACTED }, { name: 'Accept', value: 'json' }] }],
    ['header map', { headers: { 'X-API-Key': 'k', 'Content-Type': 'text/plain' } }, { headers: { 'X-API-Key': REDACTED, 'Content-Type': 'text/plain' } }],
    ['url under url key', { url: 'https://u:p@x.com/a?token=abc&q=1' }, { url: 'https://REDACTED@x.com/a?token=REDACTED&q=1' }],
    ['url inside any string', { note: 'fetching https://x.com/?api_key=k now' }, { note: 'fetching https://x.com/?api_key=REDACTED now' }],
    ['null secret still redacted', { token: null }, { token: REDACTED }],
    ['primitives unchanged', 5, 5],
    ['strings unchanged', 'password', 'password'],
    ['bigint to string', { n: 10n }, { n: '10' }],
    ['functions dropped', { f: () => 1, a: 1 }, { a: 1 }],
    ['dates', { d: new Date('2024-01-01T00:00:00Z') }, { d: '2024-01-01T00:00:00.000Z' }],
    ['bytes', { body: new Uint8Array(3) }, { body: '[3 bytes]' }],
  ])('redactSecrets: %s', (_, input, expected) => {
    expect(redactSecrets(input)).toEqual(expected);
  });

  it('redactSecrets handles cycles and does not mutate its input', () => {
    const o: Record<string, unknown> = { password: 'x', a: 1 };
    o['self'] = o;
    expect(redactSecrets(o)).toEqual({ password: REDACTED, a: 1, self: '[Circular]' });
    expect(o['password']).toBe('x');
  });

  it.each<[string, string]>([
    ['https://api.example.com/x', 'https://api.example.com/x'],
    ['https://user:pw@api.example.com/x', 'https://REDACTED@api.example.com/x'],
    ['https://a.com/?api_key=1&page=2', 'https://a.com/?api_key=REDACTED&page=2'],
    ['/tmp/file', '/tmp/file'],
    ['not a url', 'not a url'],
  ])('redactUrl %s', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });

  it('redactUrlsInText', () => {
    expect(redactUrlsInText('URL "https://a.com/?token=t1" and http://u:p@b.com/x denied')).toBe(
      'URL "https://a.com/?token=REDACTED" and http://REDACTED@b.com/x denied',
    );
    expect(redactUrlsInText('no urls here')).toBe('no urls here');
  });
});

describe('AuditTrail', () => {
  it('records and fills at, nulls, meta', () => {
    const trail = new AuditTrail(db);
    const e = trail.record({ type: 'permission_denied', skillId: 's', capability: 'net', target: 'https://evil.com', operation: 'GET', reason: 'no' });
    expect(e.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(e.invocationId).toBeNull();
    expect(e.command).toBeNull();
    const [stored] = trail.query();
    expect(stored).toEqual(e);
    expect(stored).not.toHaveProperty('meta');
  });

  it('redacts meta and target before storing and logging', () => {
    const { logger, calls } = spy();
    const trail = new AuditTrail(db, { logger });
    trail.record({
      type: 'permission_denied',
      skillId: 's',
      target: 'https://x.com/?token=abc',
      reason: 'host of "https://user:abc@x.com/" is not allowed',
      meta: { args: { password: 'hunter2', q: 'x' }, authorization: 'Bearer abc' },
    });
    const [stored] = trail.query();
    expect(stored!.target).toBe('https://x.com/?token=REDACTED');
    expect(stored!.reason).toBe('host of "https://REDACTED@x.com/" is not allowed');
    expect(stored!.meta).toEqual({ args: { password: REDACTED, q: 'x' }, authorization: REDACTED });
    const raw = JSON.stringify(db.prepare('SELECT * FROM audit_events').all());
    expect(raw).not.toContain('hunter2');
    expect(raw).not.toContain('abc');
    expect(JSON.stringify(calls)).not.toContain('hunter2');
    expect(JSON.stringify(calls)).not.toContain('Bearer');
  });

  it('logs every event: security at warn, others at info', () => {
    const { logger, calls } = spy();
    const trail = new AuditTrail(db, { logger });
    trail.record({ type: 'permission_denied', skillId: 'a' });
    trail.record({ type: 'installed', skillId: 'a' });
    trail.record({ type: 'limit_exceeded', skillId: 'a' });
    expect(calls.map((c) => [c.level, c.obj['type']])).toEqual([
      ['warn', 'permission_denied'],
      ['info', 'installed'],
      ['warn', 'limit_exceeded'],
    ]);
    expect(calls[0]!.msg).toBe('audit permission_denied');
  });

  it('a throwing logger does not lose the event', () => {
    const trail = new AuditTrail(db, {
      logger: {
        warn: () => {
          throw new Error('boom');
        },
      },
    });
    trail.record({ type: 'permission_denied' });
    expect(trail.count()).toBe(1);
  });

  it('a logger with only warn or only info gets everything', () => {
    const seen: string[] = [];
    new AuditTrail(db, { logger: { warn: (o) => seen.push((o as { type: string }).type) } }).record({ type: 'installed' });
    new AuditTrail(db, { logger: { info: (o) => seen.push((o as { type: string }).type) } }).record({ type: 'phase_violation' });
    expect(seen).toEqual(['installed', 'phase_violation']);
  });

  describe('query', () => {
    let trail: AuditTrail;
    const at = (minute: number) => new Date(Date.UTC(2024, 0, 1, 0, minute)).toISOString();
    beforeEach(() => {
      trail = new AuditTrail(db);
      const events: AuditEventInput[] = [
        { type: 'installed', skillId: 'a', at: at(0) },
        { type: 'permission_denied', skillId: 'a', at: at(1) },
        { type: 'permission_denied', skillId: 'b', at: at(2) },
        { type: 'limit_exceeded', skillId: 'a', at: at(3) },
        { type: 'permission_denied', skillId: 'a', at: at(4) },
      ];
      for (const e of events) trail.record(e);
    });

    it('newest first', () => {
      expect(trail.query().map((e) => e.at)).toEqual([at(4), at(3), at(2), at(1), at(0)]);
    });
    it('same timestamp: insertion order, newest first', () => {
      trail.record({ type: 'enabled', skillId: 'x', at: at(9) });
      trail.record({ type: 'disabled', skillId: 'x', at: at(9) });
      expect(trail.query({ skillId: 'x' }).map((e) => e.type)).toEqual(['disabled', 'enabled']);
    });
    it('filters by skillId', () => {
      expect(trail.query({ skillId: 'b' }).map((e) => e.at)).toEqual([at(2)]);
    });
    it('filters by type', () => {
      expect(trail.query({ type: 'permission_denied' }).map((e) => e.skillId)).toEqual(['a', 'b', 'a']);
    });
    it('combines filters', () => {
      expect(trail.query({ type: 'permission_denied', skillId: 'a' }).map((e) => e.at)).toEqual([at(4), at(1)]);
    });
    it('since (inclusive), as string or Date', () => {
      expect(trail.query({ since: at(3) }).map((e) => e.at)).toEqual([at(4), at(3)]);
      expect(trail.query({ since: new Date(at(2)) })).toHaveLength(3);
    });
    it('limit', () => {
      expect(trail.query({ limit: 2 }).map((e) => e.at)).toEqual([at(4), at(3)]);
      expect(trail.query({ limit: 0 })).toEqual([]);
      expect(() => trail.query({ limit: -1 })).toThrow(RangeError);
    });
    it('default limit is 100', () => {
      for (let i = 0; i < 150; i++) trail.record({ type: 'installed', skillId: 'many' });
      expect(trail.query({ skillId: 'many' })).toHaveLength(100);
      expect(trail.query({ skillId: 'many', limit: 1000 })).toHaveLength(150);
    });
    it('normalizes given times to ISO', () => {
      const e = trail.record({ type: 'installed', at: '2024-01-01T01:00:00+01:00' });
      expect(e.at).toBe('2024-01-01T00:00:00.000Z');
    });
    it('an unparsable time is replaced by now, never dropped', () => {
      const e = trail.record({ type: 'installed', skillId: 'badtime', at: 'yesterday' });
      expect(e.meta).toEqual({ givenAt: 'yesterday' });
      expect(trail.query({ skillId: 'badtime' })).toHaveLength(1);
    });

    it('prune by age', () => {
      const now = new Date(Date.UTC(2024, 0, 1, 0, 2, 30));
      // 1 minute = 1/1440 day
      expect(trail.prune({ maxAgeDays: 1 / 1440, now })).toBe(2);
      expect(trail.query().map((e) => e.at)).toEqual([at(4), at(3), at(2)]);
    });
    it('prune by count keeps the newest', () => {
      expect(trail.prune({ maxEvents: 2 })).toBe(3);
      expect(trail.query().map((e) => e.at)).toEqual([at(4), at(3)]);
      expect(trail.prune({ maxEvents: 2 })).toBe(0);
    });
    it('prune with both', () => {
      expect(trail.prune({ maxAgeDays: 1 / 1440, maxEvents: 1, now: new Date(Date.UTC(2024, 0, 1, 0, 2, 30)) })).toBe(4);
      expect(trail.count()).toBe(1);
    });

    it('exportJsonLines streams newest first without default limit', () => {
      for (let i = 0; i < 120; i++) trail.record({ type: 'installed', skillId: 'bulk', at: at(10) });
      const lines: string[] = [];
      expect(trail.exportJsonLines({ skillId: 'bulk' }, (l) => lines.push(l))).toBe(120);
      const first: string[] = [];
      trail.exportJsonLines({ limit: 2 }, (l) => first.push(l));
      expect(first.map((l) => (JSON.parse(l) as { at: string }).at)).toEqual([at(10), at(10)]);
      expect(lines.every((l) => !l.includes('\n'))).toBe(true);
      const all: string[] = [];
      trail.exportJsonLines({ type: 'limit_exceeded' }, (l) => all.push(l));
      expect(JSON.parse(all[0]!)).toMatchObject({ type: 'limit_exceeded', skillId: 'a', at: at(3) });
    });
  });

  it('keeps events in memory while the database is locked, and writes them afterwards', () => {
    const file = path.join(dir, 'audit.sqlite');
    new AuditTrail(db); // create the table
    const other = openDatabase(file, { timeoutMs: 10 });
    other.pragma('busy_timeout = 10');
    const trail = new AuditTrail(other, { ensureSchema: false });
    const { logger, calls } = spy();
    const trailWithLog = new AuditTrail(other, { ensureSchema: false, logger });
    db.exec('BEGIN IMMEDIATE'); // another connection holds the write lock
    trail.record({ type: 'permission_denied', skillId: 'locked' });
    trailWithLog.record({ type: 'permission_denied', skillId: 'locked' });
    expect(trail.pendingCount).toBe(1);
    expect(calls.some((c) => c.obj['kind'] === 'audit_write_failed')).toBe(true);
    expect(calls.some((c) => c.obj['kind'] === 'audit' && c.obj['skillId'] === 'locked')).toBe(true);
    db.exec('COMMIT');
    // While a retry is scheduled, new events are only queued (no busy wait per event)...
    trail.record({ type: 'installed', skillId: 'after' });
    expect(trail.pendingCount).toBe(2);
    // ...and written by the retry, or by flush().
    trail.flush();
    expect(trail.pendingCount).toBe(0);
    trailWithLog.flush();
    expect(trail.query({ skillId: 'locked' })).toHaveLength(2);
    other.close();
  });

  it('schema creation is idempotent', () => {
    new AuditTrail(db).record({ type: 'installed' });
    new AuditTrail(db).record({ type: 'installed' });
    expect(new AuditTrail(db).count()).toBe(2);
  });
});

describe('createDefaultLogger', () => {
  it('defaults to warn, honours AGENTOS_LOG_LEVEL, silent turns it off', () => {
    expect(createDefaultLogger({}).level).toBe('warn');
    expect(createDefaultLogger({ AGENTOS_LOG_LEVEL: 'debug' }).level).toBe('debug');
    expect(createDefaultLogger({ AGENTOS_LOG_LEVEL: 'INFO' }).level).toBe('info');
    expect(createDefaultLogger({ AGENTOS_LOG_LEVEL: 'silent' }).level).toBe('silent');
    expect(createDefaultLogger({ AGENTOS_LOG_LEVEL: 'nonsense' }).level).toBe('warn');
  });
});
