/** `audit`, `audit prune` and automatic retention, through the real bin. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SkillRegistry } from '../../src/registry.js';
import { copySkill, removeTempDirs, SKILLS, tempDir } from '../helpers.js';
import { cli, requireBuiltCli, requireBuiltSkill } from './run-cli.js';

const DAY = 86_400_000;

/** A store with hello installed/enabled and `n` synthetic events spread one per day into the past. */
async function seededHome(n: number): Promise<string> {
  const home = await tempDir('agentos-cli-audit-');
  const registry = new SkillRegistry({ home });
  try {
    const s = await registry.install(await copySkill(SKILLS.hello));
    registry.enable(s.id);
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      registry.recordAudit({
        type: i % 2 ? 'permission_denied' : 'limit_exceeded',
        at: new Date(now - (i + 1) * DAY).toISOString(),
        skillId: i % 3 ? 'example.hello' : 'other.skill',
        command: 'greet',
        capability: i % 2 ? 'net' : null,
        operation: i % 2 ? 'fetch' : 'timeout',
        target: i % 2 ? `https://user:pw@evil.example/?token=abc${i}` : null,
        reason: `synthetic ${i}`,
      });
    }
  } finally {
    registry.close();
  }
  return home;
}

beforeAll(() => {
  requireBuiltCli();
  requireBuiltSkill(SKILLS.hello);
});
afterAll(removeTempDirs);

describe('audit', () => {
  let home: string;
  beforeAll(async () => {
    home = await seededHome(10);
  });

  it('human: an aligned table, newest first, secrets in URLs redacted', async () => {
    const r = await cli(['audit', '--home', home]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TIME +TYPE +SKILL +COMMAND +DETAIL$/);
    expect(lines[1]).toMatch(/ enabled +example\.hello/);
    expect(lines[2]).toMatch(/ installed +example\.hello/);
    expect(lines).toHaveLength(1 + 2 + 10);
    expect(r.stdout).toContain('net fetch "https://REDACTED@evil.example/?token=REDACTED": synthetic 1');
    expect(r.stdout).not.toContain('abc1');
  });

  it('--json: the events, newest first', async () => {
    const j = (await cli(['audit', '--json', '--home', home])).json();
    expect(j.ok).toBe(true);
    expect(j.result).toHaveLength(12);
    const times = j.result.map((e: { at: string }) => e.at);
    expect([...times].sort().reverse()).toEqual(times);
  });

  it('--skill, --type, --limit filter', async () => {
    const j = (await cli(['audit', '--json', '--skill', 'other.skill', '--home', home])).json();
    expect(j.result.map((e: { reason: string }) => e.reason)).toEqual(['synthetic 0', 'synthetic 3', 'synthetic 6', 'synthetic 9']);
    const t = (await cli(['audit', '--json', '--type', 'permission_denied', '--limit', '2', '--home', home])).json();
    expect(t.result.map((e: { reason: string }) => e.reason)).toEqual(['synthetic 1', 'synthetic 3']);
  });

  it('--since: relative ages and ISO times', async () => {
    const rel = (await cli(['audit', '--json', '--since', '3d', '--home', home])).json();
    // installed + enabled (now) + events 1 and 2 days old (the 3-day-old one is a hair older than 3d).
    expect(rel.result.map((e: { reason: string | null }) => e.reason).filter(Boolean)).toEqual(['installed 1.0.0', 'synthetic 0', 'synthetic 1']);
    const hours = (await cli(['audit', '--json', '--since', '36h', '--home', home])).json();
    expect(hours.result).toHaveLength(3);
    const iso = new Date(Date.now() - 5.5 * DAY).toISOString();
    const byIso = (await cli(['audit', '--json', '--since', iso, '--home', home])).json();
    expect(byIso.result).toHaveLength(2 + 5);
    const future = (await cli(['audit', '--json', '--since', '2999-01-01', '--home', home])).json();
    expect(future.result).toEqual([]);
    const none = await cli(['audit', '--since', '2999-01-01', '--home', home]);
    expect(none.stdout).toContain('No audit events match.');
  });

  it('bad --since, --limit: exit 2 saying what is accepted', async () => {
    const since = await cli(['audit', '--since', 'yesterday', '--home', home]);
    expect(since.code).toBe(2);
    expect(since.stderr).toContain('7d');
    const limit = await cli(['audit', '--limit', 'ten', '--json', '--home', home]);
    expect(limit.code).toBe(2);
    expect(limit.json().error.code).toBe('USAGE');
  });

  it('--export jsonl: one JSON object per line, every match, no default limit', async () => {
    const r = await cli(['audit', '--export', 'jsonl', '--home', home]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(12);
    const events = lines.map((l) => JSON.parse(l));
    expect(events[0]).toMatchObject({ type: 'enabled', skillId: 'example.hello' });
    expect(r.stderr).toContain('12 events exported');
    const filtered = await cli(['audit', '--export', 'jsonl', '--type', 'limit_exceeded', '--home', home]);
    expect(filtered.stdout.trimEnd().split('\n')).toHaveLength(5);
    const both = await cli(['audit', '--export', 'jsonl', '--json', '--home', home]);
    expect(both.code).toBe(2);
    const badFormat = await cli(['audit', '--export', 'csv', '--home', home]);
    expect(badFormat.code).toBe(2);
  });
});

describe('audit prune and automatic retention', () => {
  it('prune --max-events / --max-age-days', async () => {
    const home = await seededHome(10);
    const byAge = await cli(['audit', 'prune', '--max-age-days', '4.5', '--home', home]);
    expect(byAge.code).toBe(0);
    expect(byAge.stdout).toContain('Deleted 6 audit events; 6 left.');
    const byCount = (await cli(['audit', 'prune', '--max-events', '2', '--json', '--home', home])).json();
    expect(byCount.result).toEqual({ deleted: 4, remaining: 2, maxAgeDays: null, maxEvents: 2 });
    const left = (await cli(['audit', '--json', '--home', home])).json();
    expect(left.result.map((e: { type: string }) => e.type)).toEqual(['enabled', 'installed']);
  });

  it('prune without options and without configured retention is a usage error', async () => {
    const home = await seededHome(1);
    const r = await cli(['audit', 'prune', '--home', home]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--max-age-days');
  });

  it('prune without options uses the configured retention', async () => {
    const home = await seededHome(5);
    const r = await cli(['audit', 'prune', '--json', '--home', home], { env: { AGENTOS_AUDIT_MAX_EVENTS: '3' } });
    expect(r.json().result).toMatchObject({ deleted: 4, remaining: 3, maxEvents: 3 });
  });

  it('AGENTOS_AUDIT_MAX_AGE_DAYS / _MAX_EVENTS prune whenever a command opens the store', async () => {
    const home = await seededHome(10);
    const list = await cli(['list', '--json', '--home', home], { env: { AGENTOS_AUDIT_MAX_AGE_DAYS: '2.5' } });
    expect(list.code).toBe(0);
    let events = (await cli(['audit', '--json', '--home', home])).json().result;
    expect(events).toHaveLength(4);
    await cli(['list', '--home', home], { env: { AGENTOS_AUDIT_MAX_EVENTS: '1' } });
    events = (await cli(['audit', '--json', '--home', home])).json().result;
    expect(events.map((e: { type: string }) => e.type)).toEqual(['enabled']);
  });

  it('an invalid retention variable is exit 2 naming it', async () => {
    const home = await seededHome(0);
    for (const [name, value] of [
      ['AGENTOS_AUDIT_MAX_AGE_DAYS', 'forever'],
      ['AGENTOS_AUDIT_MAX_EVENTS', '0'],
      ['AGENTOS_AUDIT_MAX_EVENTS', '2.5'],
    ] as const) {
      const r = await cli(['list', '--json', '--home', home], { env: { [name]: value } });
      expect(r.code).toBe(2);
      expect(r.json().error.message).toContain(`$${name}`);
    }
  });

  it('the host policy can set retention when its schema has auditMaxEvents', async (t) => {
    const { parseHostPolicy } = await import('../../src/policy.js');
    try {
      parseHostPolicy({ auditMaxEvents: 1 });
    } catch {
      t.skip(); // policy.ts has no audit retention keys yet: only the environment variables apply
      return;
    }
    const home = await seededHome(3);
    const policy = join(home, 'policy.json');
    await writeFile(policy, JSON.stringify({ auditMaxEvents: 1 }));
    await cli(['list', '--policy', policy, '--home', home]);
    expect((await cli(['audit', '--json', '--home', home])).json().result).toHaveLength(1);
  });
});
