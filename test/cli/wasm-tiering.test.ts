/**
 * `invoke` raises V8's wasm tiering budget for its one invocation (src/cli/wasm-tiering.ts): a
 * short invocation must not start a TurboFan compile, which the process would wait for at exit.
 * Observed through V8's own compile trace (printed to stdout), on the real bin.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copySkill, removeTempDirs, SKILLS, tempDir } from '../helpers.js';
import { cli, requireBuiltCli, requireBuiltSkill } from './run-cli.js';

let home: string;
const h = () => ['--home', home];
const TRACE = ['--trace-wasm-compilation-times'];
const greet = ['invoke', 'example.hello', 'greet', '--args', '{"name":"Ada"}'];

beforeAll(async () => {
  requireBuiltCli();
  requireBuiltSkill(SKILLS.hello);
  home = await tempDir('agentos-cli-tiering-');
  const hello = await copySkill(SKILLS.hello);
  expect((await cli(['install', hello, ...h()])).code).toBe(0);
  expect((await cli(['enable', 'example.hello', '--yes', ...h()])).code).toBe(0);
  // Fills the transpile cache, so the runs below compare like with like.
  expect((await cli([...greet, ...h()])).code).toBe(0);
});
afterAll(removeTempDirs);

describe('invoke: wasm tiering for one invocation', () => {
  it('a short invocation compiles on Liftoff only: no TurboFan job for the exit to wait on', async () => {
    const r = await cli([...greet, ...h()], { nodeArgs: TRACE });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('"greeting": "Hello, Ada!"');
    expect(r.stdout).toMatch(/using Liftoff/); // the trace is on
    expect(r.stdout).not.toMatch(/using TurboFan/);
  });

  it(`AGENTOS_CLI_WASM_TIERING=default keeps V8's tiering (same result)`, async () => {
    const r = await cli([...greet, ...h()], { env: { AGENTOS_CLI_WASM_TIERING: 'default' } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('"greeting": "Hello, Ada!"');
  });

  it('an unknown AGENTOS_CLI_WASM_TIERING value is a usage error, before anything runs', async () => {
    const r = await cli([...greet, '--json', ...h()], { env: { AGENTOS_CLI_WASM_TIERING: 'fast' } });
    expect(r.code).toBe(2);
    const j = r.json();
    expect(j.ok).toBe(false);
    expect(j.error.message).toContain('AGENTOS_CLI_WASM_TIERING');
  });
});
