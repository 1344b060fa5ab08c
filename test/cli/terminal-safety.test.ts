/**
 * Skill-controlled text never reaches the terminal raw (issue 10, class 11), through the real bin.
 * A skill whose manifest (name, description, command descriptions, args schema keys, fs roots),
 * log lines, error messages, results and audited targets carry escape sequences, C1 controls,
 * bidi overrides, lone CRs and newlines: every human output shows them escaped, no line of the
 * permission review can be forged or erased, and `--json` parses back to the exact strings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copySkill, removeTempDirs, ROOT, tempDir } from '../helpers.js';
import { cli, requireBuiltCli, requireBuiltSkill, type CliRun, type RunOptions } from './run-cli.js';

const FIXTURE = `${ROOT}/test/fixtures/hostile-text`;
const ID = 'test.hostile-text';

/** One of each: what it would do to a terminal, raw. */
const ATTACKS: [string, string, string][] = [
  ['OSC 52 clipboard write', '\x1b]52;c;cm0gLXJmIH4=\x07', '\\u001b]52;c;cm0gLXJmIH4=\\u0007'],
  ['cursor up + erase line', '\x1b[1A\x1b[2K', '\\u001b[1A\\u001b[2K'],
  ['SGR conceal', '\x1b[8m', '\\u001b[8m'],
  ['8-bit CSI erase', '\u009b2K', '\\u009b2K'],
  ['8-bit OSC', '\u009d52;c;eA==\u009c', '\\u009d52;c;eA==\\u009c'],
  ['lone CR', '\rnetwork  none', '\\rnetwork  none'],
  ['forged review line', '\n  files    none', '\\n  files    none'],
  ['RLO', '\u202egnp.', '\\u202egnp.'],
  ['isolate', '\u2066x\u2069', '\\u2066x\\u2069'],
  ['line separator', '\u2028', '\\u2028'],
  ['DEL and backspace', '\x7f\b', '\\u007f\\u0008'],
  ['zero-width space', '\u200b', '\\u200b'],
  ['tab', '\t', '\\t'],
];
const PAYLOAD = ATTACKS.map(([, raw]) => raw).join('');
const SHOWN = ATTACKS.map(([, , shown]) => shown).join('');

/** Anything a terminal would act on, or that hides or reorders text (newline apart). */
const RAW_UNSAFE = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b\u200e\u200f\u2028-\u202e\u2060-\u206f\ufeff]/;

const fields = {
  name: `Hostile ${PAYLOAD}`,
  description: `Harmless${PAYLOAD}`,
  sayDescription: `Say${PAYLOAD}`,
  argKey: `k${PAYLOAD}`,
  root: `/tmp/agentos-none-${PAYLOAD}`,
  log: `log${PAYLOAD}\0end`,
  error: `boom${PAYLOAD}`,
  target: `/etc/${PAYLOAD}`,
};

let home: string;
let dir: string;

/** Runs the bin and checks the invariant every human output must keep. */
async function run(args: string[], opts: RunOptions = {}): Promise<CliRun> {
  const r = await cli([...args, '--home', home], opts);
  if (!args.includes('--json') && !opts.env?.['FORCE_COLOR']) {
    expect(r.stdout, `stdout of ${args.join(' ')}`).not.toMatch(RAW_UNSAFE);
  }
  if (!opts.env?.['FORCE_COLOR']) expect(r.stderr, `stderr of ${args.join(' ')}`).not.toMatch(RAW_UNSAFE);
  return r;
}

beforeAll(async () => {
  requireBuiltCli();
  requireBuiltSkill(FIXTURE);
  home = await tempDir('agentos-cli-home-');
  dir = await copySkill(FIXTURE, (m) => {
    m['name'] = fields.name;
    m['description'] = fields.description;
    m['commands']['say']['description'] = fields.sayDescription;
    m['commands']['say']['args']['properties'][fields.argKey] = { enum: [PAYLOAD] };
    m['requires']['permissions'] = { fs: { read: true, write: false, paths: [fields.root] } };
  });
});
afterAll(removeTempDirs);

describe('the permission review cannot be forged or hidden', () => {
  it('install: every field shown escaped, the review has exactly its own lines', async () => {
    const r = await run(['install', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`/tmp/agentos-none-${SHOWN}  read`);
    // The forged "files none" and "network none" lines exist only inside the escaped value.
    expect(r.stdout).not.toMatch(/^ +files +none$/m);
    expect(r.stdout.match(/^ +network +none$/gm)).toHaveLength(1);
    expect(r.stdout.match(/^ +files +/gm)).toHaveLength(1);
  });

  it('install --json: the exact strings', async () => {
    const r = await run(['install', dir, '--json']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(RAW_UNSAFE); // JSON escapes C0; jsonForTerminal the rest
    expect(r.json().result.permissions.fsRoots).toEqual([{ path: fields.root, read: true, write: false }]);
    expect(r.json().result.name).toBe(fields.name);
  });

  it('info: name, description, command description, args keys and roots escaped', async () => {
    const r = await run(['info', ID]);
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toContain(`name         Hostile ${SHOWN}`);
    expect(out).toContain(`description  Harmless${SHOWN}`);
    expect(out).toContain(`say  Say${SHOWN}`);
    expect(out).toContain(`k${SHOWN} ("\\u001b]52;c;`); // the key, then its enum as JSON, both visible
    expect(out).toContain(`/tmp/agentos-none-${SHOWN}  read`);
    expect(out).not.toMatch(/^ +files +none$/m);
  });

  it('info --json: the exact strings', async () => {
    const j = (await run(['info', ID, '--json'])).json();
    expect(j.result.name).toBe(fields.name);
    expect(j.result.description).toBe(fields.description);
    expect(j.result.commands.find((c: { name: string }) => c.name === 'say').description).toBe(fields.sayDescription);
    expect(j.result.manifest.commands.say.args.properties[fields.argKey]).toEqual({ enum: [PAYLOAD] });
    expect(j.result.permissions.fsRoots[0].path).toBe(fields.root);
  });

  it('list: the root in the PERMISSIONS column escaped; --json exact', async () => {
    const r = await run(['list']);
    expect(r.stdout).toContain(`fs /tmp/agentos-none-${SHOWN} (read)`);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(2);
    const j = (await run(['list', '--json'])).json();
    expect(j.result[0].permissions.fsRoots[0].path).toBe(fields.root);
    expect(j.result[0].description).toBe(fields.description);
  });

  it('enable --yes: the review it shows is escaped', async () => {
    const r = await run(['enable', ID, '--yes']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`/tmp/agentos-none-${SHOWN}  read`);
    expect(r.stdout).not.toMatch(/^ +files +none$/m);
    expect(r.stdout).toContain(`Enabled ${ID} 1.0.0`);
  });
});

describe('what a skill says at run time', () => {
  it('invoke: each log call is one prefixed line, escaped; the result shown is JSON that means the exact value', async () => {
    const lines = [fields.log, 'second'];
    const r = await run(['invoke', ID, 'say', '--args', JSON.stringify({ lines, level: 'warn' })]);
    expect(r.code).toBe(0);
    const logLines = r.stderr.trimEnd().split('\n');
    expect(logLines).toEqual([`[${ID}] warn  log${SHOWN}\\u0000end`, `[${ID}] warn  second`]);
    expect(JSON.parse(r.stdout)).toEqual({ said: lines });
  });

  it('invoke --json: the exact result, logs on stderr escaped', async () => {
    const r = await run(['invoke', ID, 'say', '--json', '--args', JSON.stringify({ lines: [fields.log] })]);
    expect(r.stdout).not.toMatch(RAW_UNSAFE);
    expect(r.json().result).toEqual({ said: [fields.log] });
    expect(r.stderr).toBe(`[${ID}] info  log${SHOWN}\\u0000end\n`);
  });

  it('invoke: a guest error message is one escaped line', async () => {
    const r = await run(['invoke', ID, 'fail', '--args', JSON.stringify({ message: fields.error })]);
    expect(r.code).toBe(18);
    const errLines = r.stderr.trimEnd().split('\n');
    expect(errLines).toHaveLength(1);
    expect(errLines[0]).toMatch(/^error: skill 'test\.hostile-text' failed in 'fail': /);
    expect(errLines[0]).toContain(`boom${SHOWN}`);
    const j = (await run(['invoke', ID, 'fail', '--json', '--args', JSON.stringify({ message: fields.error })])).json();
    expect(j.error.code).toBe('EXECUTION_ERROR');
    expect(j.error.message).toContain(fields.error);
  });

  it('invoke: a denied target in the error message is escaped', async () => {
    const r = await run(['invoke', ID, 'read', '--args', JSON.stringify({ path: fields.target })]);
    expect(r.code).toBe(12);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(2); // the error, the hint
    expect(r.stderr).toContain('\\u001b]52;c;'); // JSON.stringify escaped ESC in the message...
    expect(r.stderr).toContain('\\u009b2K'); // ...but left C1 controls raw: made visible
    const j = (await run(['invoke', ID, 'read', '--json', '--args', JSON.stringify({ path: fields.target })])).json();
    expect(j.error.code).toBe('PERMISSION_DENIED');
    expect(j.error.target).toBe(fields.target);
  });

  it('audit: skill text in rows escaped; --json and --export jsonl exact', async () => {
    const r = await run(['audit', '--skill', ID]);
    expect(r.code).toBe(0);
    const rows = r.stdout.trimEnd().split('\n');
    for (const row of rows.slice(1)) expect(row).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ  /); // no forged row
    expect(r.stdout).toContain('permission_denied');
    expect(r.stdout).toContain('fs read-file "/etc/\\u001b]52;c;'); // JSON.stringify of the target, then made visible

    const j = (await run(['audit', '--skill', ID, '--json'])).json();
    const denied = j.result.find((e: { type: string }) => e.type === 'permission_denied');
    expect(denied.target).toBe(fields.target);
    const failed = j.result.find((e: { type: string }) => e.type === 'execution_error');
    expect(failed.reason).toContain(fields.error);

    const x = await run(['audit', '--skill', ID, '--export', 'jsonl']);
    expect(x.stdout).not.toMatch(RAW_UNSAFE);
    const events = x.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(events.find((e) => e.type === 'permission_denied').target).toBe(fields.target);
  });
});

describe('with colour on', () => {
  it("only the CLI's own colour codes reach the terminal; the skill's are shown escaped", async () => {
    const palette = new Set(['1', '22', '2', '31', '32', '33', '36', '39']);
    for (const args of [['info', ID], ['list'], ['invoke', ID, 'say', '--args', JSON.stringify({ lines: [fields.log] })]]) {
      const r = await run(args, { env: { FORCE_COLOR: '1' } });
      const text = r.stdout + r.stderr;
      expect(text).toMatch(/\x1b\[/); // colour is on
      for (const m of text.matchAll(/\x1b(\[([0-9;]*)m)?/g)) {
        expect(m[1], `a raw ESC not starting a palette SGR in ${args[0]}`).toBeDefined();
        expect(palette.has(m[2]!), `SGR ${m[2]} in ${args[0]}`).toBe(true);
      }
      expect(text.replace(/\x1b\[[0-9;]*m/g, '')).not.toMatch(RAW_UNSAFE);
      expect(text).toContain('\\u001b[8m');
    }
  });
});
