/**
 * `enable` on a real terminal: the real bin run under a pseudo-terminal (python3's pty module),
 * so stdin is a TTY and enable asks y/N after its review. The review must show what the person is
 * agreeing to (the URL rule, each secret and where its value may go), and only `y` enables.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTempDirs, ROOT, tempDir } from '../helpers.js';
import { cli, MAIN, requireBuiltCli, requireBuiltSkill } from './run-cli.js';

const SKILL = resolve(ROOT, 'skills/github-issues');
const ID = 'example.github-issues';

/** Answers `answer` once the prompt shows; prints everything the terminal showed; exits with the bin's code. */
const PTY_DRIVER = `
import os, pty, select, sys, time
node, main, skill_id, answer = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execv(node, [node, main, 'enable', skill_id])
out = b''
answered = False
deadline = time.time() + 60
while time.time() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.2)
    if fd in ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
        if not answered and b'[y/N]' in out:
            os.write(fd, answer + b'\\r')
            answered = True
sys.stdout.buffer.write(out)
sys.stdout.flush()
_, status = os.waitpid(pid, 0)
sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 99)
`;

function enableOnATerminal(home: string, answer: string): { code: number | null; screen: string } {
  const env = { ...process.env, AGENTOS_HOME: home, NO_COLOR: '1' };
  for (const k of Object.keys(env)) if (/^(FORCE_COLOR|NODE_OPTIONS|VITEST)/.test(k)) delete env[k];
  const r = spawnSync('python3', ['-c', PTY_DRIVER, process.execPath, MAIN, ID, answer], { env, encoding: 'utf8', timeout: 90_000 });
  if (r.error) throw r.error;
  return { code: r.status, screen: r.stdout.replace(/\r/g, '') };
}

afterAll(removeTempDirs);

describe('enable on a terminal: the review, then y/N', () => {
  beforeAll(() => {
    requireBuiltCli();
    requireBuiltSkill(SKILL);
  });

  it.each([
    ['n', false],
    ['', false],
    ['yes', true],
  ])('answer %j -> enabled: %s; the screen showed the URL rule, the secret and where it may go', async (answer, enabled) => {
    const home = await tempDir('agentos-enable-tty-');
    expect((await cli(['install', SKILL], { home })).code).toBe(0);

    const { code, screen } = enableOnATerminal(home, answer);
    expect(screen).toContain(`${ID} 1.0.0 will be allowed to:`);
    expect(screen).toContain('https://api.github.com/repos/*');
    expect(screen).toMatch(/secrets\s+GITHUB_TOKEN -> https:\/\/api\.github\.com/);
    expect(screen).toContain('(a GitHub token with read access');
    expect(screen).toContain(`Enable ${ID}? [y/N]`);
    // The review comes before the question.
    expect(screen.indexOf('GITHUB_TOKEN')).toBeLessThan(screen.indexOf('[y/N]'));

    const listed = (await cli(['list', '--json'], { home })).json().result as Array<{ id: string; enabled: boolean }>;
    expect(listed.find((s) => s.id === ID)?.enabled).toBe(enabled);
    if (enabled) {
      expect(code).toBe(0);
      expect(screen).toContain(`Enabled ${ID} 1.0.0`);
    } else {
      expect(code).not.toBe(0);
      expect(screen).toContain(`'${ID}' was not enabled`);
    }
  }, 120_000);
});
