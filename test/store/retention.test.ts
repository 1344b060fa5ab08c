/**
 * Class 6 of issue 10, second half: the library keeps the audit trail bounded by default (90 days,
 * 100 000 events), applied in bounded steps at open and as rows are written, on a real SQLite file.
 */
import { openDatabase, type SqlDatabase } from '../../src/store/sqlite.js';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { AUTO_PRUNE_BATCH, DEFAULT_AUDIT_RETENTION } from '../../src/audit.js';
import { registryDbPath } from '../../src/home.js';
import { SkillRegistry, type SkillRegistryOptions } from '../../src/registry.js';
import { removeTempDirs, tempDir } from '../helpers.js';

afterAll(removeTempDirs);

const DAY = 86_400_000;

/** A fresh store with `rows` events written straight to its file, `ageDays(i)` days old each. */
async function seeded(rows: number, ageDays: (i: number) => number): Promise<string> {
  const home = await tempDir('agentos-retention-');
  new SkillRegistry({ home, auditRetention: false }).close();
  const db = openDatabase(registryDbPath(home), { timeoutMs: 5000 });
  const insert = db.prepare("INSERT INTO audit_events (at, type, skill_id, reason) VALUES (?, 'permission_denied', 'seed', ?)");
  const now = Date.now();
  db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run(new Date(now - ageDays(i) * DAY).toISOString(), `row ${i}`);
  })();
  db.close();
  return home;
}

function rowsOnDisk(home: string): { n: number; oldest: string | null } {
  const db = openDatabase(registryDbPath(home), { timeoutMs: 5000, readonly: true });
  try {
    return db.prepare('SELECT count(*) AS n, min(at) AS oldest FROM audit_events').get() as { n: number; oldest: string | null };
  } finally {
    db.close();
  }
}

async function openAndSettle(home: string, opts: Partial<SkillRegistryOptions>, expected: number): Promise<SkillRegistry> {
  const r = new SkillRegistry({ home, ...opts });
  // The first step runs at open; further steps (AUTO_PRUNE_BATCH rows each) on an unref'd timer.
  await vi.waitFor(() => expect(rowsOnDisk(home).n).toBe(expected), { timeout: 20_000, interval: 25 });
  return r;
}

describe('default audit retention', () => {
  it('is 90 days and 100 000 events', () => {
    expect(DEFAULT_AUDIT_RETENTION).toEqual({ maxAgeDays: 90, maxEvents: 100_000 });
  });

  it('by rows: a store over 100 000 events is cut to the newest 100 000 at open', async () => {
    const extra = 2 * AUTO_PRUNE_BATCH + 17; // several bounded steps
    // Row i is (extra + 100000 - i) minutes old: the first `extra` rows are the oldest.
    const total = 100_000 + extra;
    const home = await seeded(total, (i) => (total - i) / 1440);
    const r = await openAndSettle(home, {}, 100_000);
    try {
      const oldest = r.auditEvents({ skillId: 'seed', limit: 100_000 }).at(-1)!;
      expect(oldest.reason).toBe(`row ${extra}`);
    } finally {
      r.close();
    }
  }, 60_000);

  it('by age: events older than 90 days are deleted at open, younger ones kept', async () => {
    // 300 rows 91..390 days old, 200 rows 0..89 days old.
    const home = await seeded(500, (i) => (i < 300 ? 91 + i : (i - 300) * 0.45));
    const r = await openAndSettle(home, {}, 200);
    try {
      expect(Date.now() - Date.parse(rowsOnDisk(home).oldest!)).toBeLessThan(90 * DAY);
    } finally {
      r.close();
    }
  });

  it('applies as rows are written, not only at open', async () => {
    const home = await tempDir('agentos-retention-');
    const r = new SkillRegistry({ home, auditRetention: { maxEvents: 50 } });
    try {
      for (let i = 0; i < 2000; i++) r.recordAudit({ type: 'permission_denied', skillId: 'live', reason: `live ${i}` });
      await vi.waitFor(() => expect(rowsOnDisk(home).n).toBe(50), { timeout: 10_000, interval: 25 });
      expect(r.auditEvents({ skillId: 'live', limit: 1 })[0]!.reason).toBe('live 1999');
    } finally {
      r.close();
    }
  });

  const CONFIGURED = [
    { what: 'registry option maxEvents', opts: { auditRetention: { maxEvents: 7 } }, expected: 7 },
    { what: 'registry option maxAgeDays', opts: { auditRetention: { maxAgeDays: 10.5 } }, expected: 11 },
    { what: 'host policy auditMaxEvents', opts: { hostPolicy: { auditMaxEvents: 3 } }, expected: 3 },
    { what: 'host policy auditMaxAgeDays', opts: { hostPolicy: { auditMaxAgeDays: 5.5 } }, expected: 6 },
    { what: 'the option wins over the policy', opts: { auditRetention: { maxEvents: 4 }, hostPolicy: { auditMaxEvents: 2 } }, expected: 4 },
    { what: 'auditRetention: false keeps everything', opts: { auditRetention: false as const }, expected: 400 },
  ];
  for (const c of CONFIGURED) {
    it(`configured: ${c.what}`, async () => {
      // 400 rows, row i is i days old (0..399): past the 90-day default too.
      const home = await seeded(400, (i) => i);
      (await openAndSettle(home, c.opts as Partial<SkillRegistryOptions>, c.expected)).close();
    });
  }

  it('refuses a nonsensical retention', async () => {
    const home = await tempDir('agentos-retention-');
    expect(() => new SkillRegistry({ home, auditRetention: { maxEvents: 0 } })).toThrow(RangeError);
    expect(() => new SkillRegistry({ home, auditRetention: { maxAgeDays: -1 } })).toThrow(RangeError);
  });
});
