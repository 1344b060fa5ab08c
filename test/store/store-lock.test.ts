/**
 * Class 10 of issue 10: another process holding the store's write lock must not stall the
 * invocations of this one. Store writes made while skills run (audit rows, usage figures) wait
 * at most a few ms per attempt, stay queued while the store is locked, are retried off the hot
 * path, and none is lost once the lock is released. Real SQLite file, real second connection
 * or real child process holding the lock, real component in real worker threads.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { openDatabase, type SqlDatabase } from '../../src/store/sqlite.js';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { AuditTrail } from '../../src/audit.js';
import { PermissionDeniedError, SkillTimeoutError } from '../../src/errors.js';
import { StoreWriter } from '../../src/store-writer.js';
import { copySkill, host, removeTempDirs, tempDir } from '../helpers.js';
import { DENIALS } from './support.js';

afterAll(removeTempDirs);

interface Lock {
  release(): Promise<void>;
}

/** A second connection in this process holding the write lock. */
function connectionLock(file: string, mode: 'IMMEDIATE' | 'EXCLUSIVE'): Lock {
  const db = openDatabase(file, { timeoutMs: 5000 });
  db.exec(`BEGIN ${mode}`);
  db.prepare("INSERT INTO audit_events (at, type, reason) VALUES (?, 'installed', 'held by the other writer')").run(new Date().toISOString());
  return {
    async release() {
      db.exec('COMMIT');
      db.close();
    },
  };
}

/** A real child process holding BEGIN EXCLUSIVE until its stdin closes (or for `holdMs`). */
async function processLock(file: string, holdMs = 0): Promise<Lock> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '-e',
      // The store's own driver (dist/store/sqlite.js), as another agentos process would open it.
      `import(${JSON.stringify(pathToFileURL(path.resolve('dist/store/sqlite.js')).href)}).then(({ openDatabase }) => {
       const db = openDatabase(process.argv[1], { timeoutMs: 5000 }); db.exec('BEGIN EXCLUSIVE');
       db.prepare("INSERT INTO audit_events (at, type, reason) VALUES (?, 'installed', 'held by the other writer')").run(new Date().toISOString());
       const done = () => { db.exec('COMMIT'); db.close(); process.exit(0); };
       process.stdout.write('locked\\n');
       if (${holdMs} > 0) setTimeout(done, ${holdMs});
       process.stdin.on('end', done); process.stdin.resume(); });`,
      file,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'], cwd: process.cwd() },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
    child.once('exit', (c) => reject(new Error(`lock holder exited early (${c})`)));
  });
  return {
    async release() {
      const exited = new Promise((r) => child.once('exit', r));
      child.stdin!.end();
      await exited;
    },
  };
}

const LOCKS = [
  { what: 'a second connection holding BEGIN IMMEDIATE', take: async (f: string) => connectionLock(f, 'IMMEDIATE') },
  { what: 'a second connection holding BEGIN EXCLUSIVE', take: async (f: string) => connectionLock(f, 'EXCLUSIVE') },
  { what: 'another process holding BEGIN EXCLUSIVE', take: processLock },
] as const;

describe('a locked store does not stall invocations, and loses no audit row', () => {
  for (const lockCase of LOCKS) {
    it(lockCase.what, async () => {
      const h = await host([await copySkill(DENIALS)]);
      let lock: Lock | undefined;
      try {
        // Warm: the first invocation loads nothing more while the lock is held.
        await h.invoker.invoke('test.denials', 'ok', {});
        h.invoker.flushUsage();
        lock = await lockCase.take(h.registry.path);

        // A 1 s deadline while the guest makes denied calls as fast as it can: each denial and
        // the timeout are audited, the store refuses every write.
        const t0 = performance.now();
        const err = await h.invoker.invoke('test.denials', 'deny-forever', {}, { timeoutMs: 1000 }).catch((e: unknown) => e);
        const elapsed = performance.now() - t0;
        expect(err).toBeInstanceOf(SkillTimeoutError);
        expect(elapsed).toBeGreaterThanOrEqual(990);
        expect(elapsed).toBeLessThan(1000 + 400);

        // More invocations while locked: each settles promptly, its rows queued.
        for (let i = 0; i < 3; i++) {
          const t1 = performance.now();
          await expect(h.invoker.invoke('test.denials', 'deny-many', { count: 30 })).rejects.toBeInstanceOf(PermissionDeniedError);
          expect(performance.now() - t1).toBeLessThan(1000);
        }
        h.invoker.flushUsage(); // usage figures are queued like audit rows
        expect(h.registry.audit.pendingCount).toBeGreaterThan(0);

        // Reads see the queued events while the store is still locked.
        const queuedView = h.registry
          .auditEvents({ skillId: 'test.denials', limit: 1000 })
          .filter((e) => e.type !== 'installed' && e.type !== 'enabled');
        const expected = 10 + 1 + 1 + 3 * (10 + 1); // deadline run: N + summary + timeout; 3 x (N + summary)
        expect(queuedView).toHaveLength(expected);

        await lock.release();
        lock = undefined;
        // The retry timer writes everything once the lock is gone.
        await vi.waitFor(() => expect(h.registry.audit.pendingCount).toBe(0), { timeout: 5000, interval: 50 });

        // On disk, read through another connection: nothing lost, nothing duplicated.
        const reader = openDatabase(h.registry.path, { timeoutMs: 5000, readonly: true });
        try {
          const rows = reader.prepare("SELECT type, count(*) AS n FROM audit_events WHERE skill_id = 'test.denials' AND type NOT IN ('installed', 'enabled') GROUP BY type").all() as {
            type: string;
            n: number;
          }[];
          expect(Object.fromEntries(rows.map((r) => [r.type, r.n]))).toEqual({
            permission_denied: 40,
            denials_suppressed: 4,
            limit_exceeded: 1,
          });
          const usage = reader.prepare("SELECT invocations, failures FROM skill_usage WHERE skill_id = 'test.denials'").get();
          expect(usage).toEqual({ invocations: 5, failures: 4 });
          // The lock holder's own write survived too.
          expect(reader.prepare("SELECT count(*) AS n FROM audit_events WHERE reason = 'held by the other writer'").get()).toEqual({ n: 1 });
        } finally {
          reader.close();
        }
      } finally {
        await lock?.release();
        await h.close();
      }
    }, 30_000);
  }

  it('the queue is bounded: the oldest writes are dropped, and the drop count is recorded when writing resumes', async () => {
    const dir = await tempDir('agentos-lock-');
    const file = `${dir}/audit.sqlite`;
    const a = openDatabase(file, { timeoutMs: 5000 });
    a.pragma('journal_mode = WAL');
    const trail = new AuditTrail(a, { writer: new StoreWriter(a, { maxQueue: 5 }) });
    const lock = connectionLock(file, 'IMMEDIATE');
    for (let i = 0; i < 8; i++) trail.record({ type: 'permission_denied', skillId: 'q', reason: `denial ${i}` });
    expect(trail.pendingCount).toBe(5);
    expect(trail.writer.droppedCount).toBe(3);
    await lock.release();
    trail.flush();
    const events = trail.query({ limit: 100 }).filter((e) => e.skillId === 'q' || e.type === 'audit_dropped');
    expect(events.filter((e) => e.type === 'permission_denied').map((e) => e.reason)).toEqual(
      ['denial 7', 'denial 6', 'denial 5', 'denial 4', 'denial 3'],
    );
    const dropped = events.filter((e) => e.type === 'audit_dropped');
    expect(dropped).toHaveLength(1);
    expect(dropped[0]!.meta).toEqual({ dropped: 3 });
    expect(trail.writer.droppedCount).toBe(0);
    a.close();
  });

  it('close() makes a last attempt with a longer bound: rows queued during a short lock are written', async () => {
    const h = await host([await copySkill(DENIALS)]);
    // Released by the other process itself: this one's event loop is blocked inside close().
    await processLock(h.registry.path, 1500);
    await expect(h.invoker.invoke('test.denials', 'deny-many', { count: 3 })).rejects.toBeInstanceOf(PermissionDeniedError);
    expect(h.registry.audit.pendingCount).toBeGreaterThan(0);
    const path = h.registry.path;
    await h.close(); // waits for the lock (up to 5 s), then writes
    const reader = openDatabase(path, { timeoutMs: 5000, readonly: true });
    try {
      expect(reader.prepare("SELECT count(*) AS n FROM audit_events WHERE type = 'permission_denied' AND skill_id = 'test.denials'").get()).toEqual({
        n: 3,
      });
    } finally {
      reader.close();
    }
  });
});
