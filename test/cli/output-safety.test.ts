/**
 * The CLI's one output choke point (Output) and the error renderer keep skill text from acting on
 * the terminal, whichever command printed it, while the CLI's own colours survive.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BuildError, ManifestError, PermissionDeniedError, SkillExecutionError } from '../../src/errors.js';
import { Output, type CliIO } from '../../src/cli/output.js';
import { renderError } from '../../src/cli/render-error.js';

function io(env: NodeJS.ProcessEnv = {}, tty = false): CliIO & { text: () => { out: string; err: string } } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (s: string) => (out += s), isTTY: tty },
    stderr: { write: (s: string) => (err += s), isTTY: tty },
    stdin: new PassThrough(),
    env,
    text: () => ({ out, err }),
  };
}

const HOSTILE = 'a\x1b]52;c;eA==\x07\x1b[8m\u009b2K\r\u202e\nb';

describe('Output: a command that forgot to sanitise still cannot write a control sequence', () => {
  it.each([
    ['off a terminal', {}, false],
    ['NO_COLOR on a terminal', { NO_COLOR: '1' }, true],
  ])('%s: no escape sequence at all, newlines kept', (_n, env, tty) => {
    const s = io(env, tty);
    const out = new Output(s, { json: false });
    out.line(`${out.c.red('x')} ${HOSTILE}`);
    out.note(HOSTILE);
    out.warn(HOSTILE);
    const { out: o, err } = s.text();
    expect(o).toBe('x a\\u001b]52;c;eA==\\u0007\\u001b[8m\\u009b2K\\r\\u202e\nb\n');
    expect(err).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/);
  });

  it('with colour: the palette passes, a foreign SGR does not', () => {
    const s = io({ FORCE_COLOR: '1' });
    const out = new Output(s, { json: false });
    out.line(`${out.c.bold(out.c.red('ok'))} ${out.c.dim('d')} ${out.c.green('g')} ${out.c.yellow('y')} ${out.c.cyan('c')} \x1b[8mhidden\x1b[30;40m`);
    const { out: o } = s.text();
    expect(o).toBe('\x1b[1m\x1b[31mok\x1b[39m\x1b[22m \x1b[2md\x1b[22m \x1b[32mg\x1b[39m \x1b[33my\x1b[39m \x1b[36mc\x1b[39m \\u001b[8mhidden\\u001b[30;40m\n');
  });

  it('--json: exact value, no raw DEL / C1 / bidi / separators', () => {
    const s = io();
    const out = new Output(s, { json: true });
    const value = { s: `\x7f\u0085\u009b\u202e\u2028${HOSTILE}` };
    out.result(value, () => {});
    const { out: o } = s.text();
    expect(o).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e\u2028]/);
    expect(JSON.parse(o)).toEqual({ ok: true, result: value });
  });
});

describe('renderError: skill text in an error never forges a line', () => {
  const opts = { bin: 'agentos-skills', debug: false };
  it.each([
    ['a guest error message', new SkillExecutionError('boom\n  forged\x1b[2K', false, { skillId: 's', command: 'c' }), ["skill 's' failed in 'c': boom\\n  forged\\u001b[2K"]],
    [
      'a denied target and reason',
      new PermissionDeniedError({ capability: 'fs', operation: 'read-file', target: '/x\u009b2K\u202e', reason: 'r\ns' }, { skillId: 's', command: 'c' }),
      ['fs read-file "/x\\u009b2K\\u202e" denied: r\\ns', "The skill's permissions: agentos-skills info s"],
    ],
    [
      'a manifest issue path and message',
      new ManifestError('/d/skill.yaml', [{ path: 'commands.a\nb', message: 'bad \x1b[8m' }]),
      ['invalid manifest /d/skill.yaml:', '  commands.a\\nb: bad \\u001b[8m'],
    ],
  ])('%s', (_n, err, human) => {
    expect(renderError(err, opts).human).toEqual(human);
  });

  it('a build error keeps its code frame lines (the host wrote them), each made visible', () => {
    const r = renderError(new BuildError('src/index.ts:1:5: error\n    let \x1b[31m = 1\n        ^'), opts);
    expect(r.human).toEqual(['src/index.ts:1:5: error', '    let \\u001b[31m = 1', '        ^']);
  });

  it('the --json error object is exact', () => {
    const err = new SkillExecutionError('boom\n\x1b[2K', false, { skillId: 's', command: 'c' });
    expect(renderError(err, opts).json['message']).toBe("skill 's' failed in 'c': boom\n\x1b[2K");
  });
});
