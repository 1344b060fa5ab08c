/** Global behaviour of the real bin: help, version, usage errors, JSON envelope, colour. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODE_TABLE, exitCodeFor } from '../../src/cli/exit-codes.js';
import { ROOT, removeTempDirs, tempDir } from '../helpers.js';
import { cli, ESC, requireBuiltCli } from './run-cli.js';

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const SUBCOMMANDS = ['new', 'build', 'install', 'list', 'info', 'enable', 'disable', 'uninstall', 'invoke', 'audit'];

let home: string;
beforeAll(async () => {
  requireBuiltCli();
  home = await tempDir('agentos-cli-home-');
});
afterAll(removeTempDirs);

describe('help and version', () => {
  it('--version prints the package version; --json wraps it', async () => {
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
    const j = await cli(['--version', '--json']);
    expect(j.code).toBe(0);
    expect(j.json()).toEqual({ ok: true, result: { version: VERSION } });
  });

  it('--version works after a subcommand too', async () => {
    const r = await cli(['list', '--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
  });

  it('--help lists every subcommand, the environment and the exit-code table', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const c of SUBCOMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    expect(r.stdout).toContain('AGENTOS_AUDIT_MAX_AGE_DAYS');
    for (const e of EXIT_CODE_TABLE) expect(r.stdout).toMatch(new RegExp(`^ *${e.exit}  ${e.code} `, 'm'));
  });

  it('every subcommand has --help (exit 0, global options shown)', async () => {
    const runs = await Promise.all([...SUBCOMMANDS.map((c) => cli([c, '--help'])), cli(['audit', 'prune', '--help'])]);
    for (const r of runs) {
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: agentos-skills /);
      expect(r.stdout).toContain('--home <dir>');
      expect(r.stderr).toBe('');
    }
  });
});

describe('usage errors exit 2', () => {
  it('no command: help on stderr, nothing on stdout', async () => {
    const r = await cli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Usage: agentos-skills');
  });

  it('unknown command suggests the right one', async () => {
    const r = await cli(['lsit', '--home', home]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'lsit'");
    expect(r.stderr).toContain('list');
  });

  it('unknown option, missing argument, bad choice: JSON envelope under --json', async () => {
    const [unknown, missing, choice, badInt] = await Promise.all([
      cli(['list', '--bogus', '--json', '--home', home]),
      cli(['invoke', 'x', '--json', '--home', home]),
      cli(['invoke', 'x', 'y', '--phase', 'lunch', '--json', '--home', home]),
      cli(['invoke', 'x', 'y', '--timeout', '-5', '--json', '--home', home]),
    ]);
    for (const r of [unknown, missing, choice, badInt]) {
      expect(r.code).toBe(2);
      const j = r.json();
      expect(j.ok).toBe(false);
      expect(j.error.code).toBe('USAGE');
      expect(typeof j.error.message).toBe('string');
    }
    expect(unknown.json().error.message).toContain('--bogus');
    expect(missing.json().error.message).toContain("missing required argument 'command'");
    expect(choice.json().error.message).toContain('lunch');
  });

  it('no command under --json still answers with one JSON document', async () => {
    const r = await cli(['--json']);
    expect(r.code).toBe(2);
    expect(r.json().error.code).toBe('USAGE');
  });
});

describe('output format', () => {
  it('--json on success: exactly one document, ok:true', async () => {
    const r = await cli(['list', '--json', '--home', home]);
    expect(r.code).toBe(0);
    expect(r.json()).toEqual({ ok: true, result: [] });
  });

  it('$AGENTOS_HOME is used when --home is absent', async () => {
    const r = await cli(['list'], { home });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`No skills installed in ${home}`);
  });

  it('no escape codes when stdout is not a TTY, nor with NO_COLOR', async () => {
    const runs = await Promise.all([
      cli(['list', '--home', home]),
      cli(['lsit', '--home', home]),
      cli(['--help'], { env: { NO_COLOR: '1' } }),
      cli(['invoke', 'nope', 'x', '--home', home], { env: { NO_COLOR: '1', TERM: 'xterm-256color' } }),
    ]);
    for (const r of runs) {
      expect(r.stdout).not.toMatch(ESC);
      expect(r.stderr).not.toMatch(ESC);
    }
  });

  it('FORCE_COLOR colours human output even off a TTY, never --json output', async () => {
    const human = await cli(['invoke', 'nope', 'x', '--home', home], { env: { FORCE_COLOR: '1' } });
    expect(human.stderr).toMatch(ESC);
    const json = await cli(['list', '--json', '--home', home], { env: { FORCE_COLOR: '1' } });
    expect(json.stdout).not.toMatch(ESC);
  });

  it('an unexpected error is exit 1 with a short message; the stack only with AGENTOS_DEBUG=1', async () => {
    // A home that is a file: the store cannot be created there (not a SkillError).
    const file = join(home, 'not-a-dir');
    await import('node:fs/promises').then((fs) => fs.writeFile(file, 'x'));
    const plain = await cli(['list', '--home', file]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/^error: internal error: /);
    expect(plain.stderr).toContain('AGENTOS_DEBUG=1');
    expect(plain.stderr).not.toMatch(/^\s+at /m);
    const debug = await cli(['list', '--home', file], { env: { AGENTOS_DEBUG: '1' } });
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/^\s+at /m);
    const json = await cli(['list', '--home', file, '--json']);
    expect(json.json().error.code).toBe('INTERNAL');
  });
});

describe('exit code table', () => {
  it('one distinct number per code; unknown codes are 1', () => {
    const exits = EXIT_CODE_TABLE.filter((e) => e.exit > 2).map((e) => e.exit);
    expect(new Set(exits).size).toBe(exits.length);
    expect(exitCodeFor('PHASE_VIOLATION')).toBe(10);
    expect(exitCodeFor('POLICY_VIOLATION')).toBe(22);
    expect(exitCodeFor('QUEUE_FULL')).toBe(1);
    expect(exitCodeFor(undefined)).toBe(1);
  });
});
