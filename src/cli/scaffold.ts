/**
 * The files `agentos-skills new <dir>` writes: a TypeScript skill in the `commands` export style
 * that build-skill compiles, its manifest, a test that builds, installs, enables and invokes it
 * through the CLI, and a README whose two commands (`npm install`, `npm test`) work from an empty
 * folder: the package is linked with a `file:` spec to the copy of @agentos/skills that ran `new`
 * (it need not be on any registry), and TypeScript type-checks against its shipped guest types.
 */
import path from 'node:path';

/** A valid skill id from a folder name (`My Skill!` -> `my-skill`), or undefined if none is left. */
export function idFromDirName(dir: string): string | undefined {
  const id = path
    .basename(path.resolve(dir))
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .replace(/-+$/, '')
    .slice(0, 128);
  return id === '' ? undefined : id;
}

export interface ScaffoldOptions {
  id: string;
  name: string;
  /** npm spec of @agentos/skills to depend on, e.g. `file:/usr/lib/node_modules/@agentos/skills`. */
  hostSpec: string;
  /** npm spec of TypeScript for the type-check (the range this package is built with). */
  typescriptSpec: string;
}

/** A `file:` spec for a package folder, with forward slashes (npm accepts them on Windows too). */
export function fileSpec(dir: string): string {
  return `file:${path.resolve(dir).split(path.sep).join('/')}`;
}

export function scaffoldFiles(o: ScaffoldOptions): Record<string, string> {
  return {
    'skill.yaml': `# The skill's manifest: what it is, its commands, and what it may touch.
# Users see requires.permissions before they enable the skill: ask only for what it needs.
id: ${o.id}
name: ${JSON.stringify(o.name)}
version: 0.1.0
description: Greets someone by name.
entry: src/index.ts
component: dist/skill.wasm
commands:
  greet:
    description: Say hello to someone
    args:
      type: object
      required: [name]
      properties:
        name: { type: string, minLength: 1, maxLength: 200 }
      additionalProperties: false
requires:
  permissions: {}
  # permissions:
  #   net:
  #     allow_domains: [api.example.com]      # https on port 443; "http://host:8080" for others
  #   fs:
  #     read: true
  #     write: false
  #     paths: [/tmp/${o.id}]                  # absolute roots; none listed = no filesystem
  limits:
    timeout_ms: 2000
    memory_mb: 32
`,
    'src/index.ts': `// Each key of \`commands\` is a command of the skill (declare it in skill.yaml too).
// A handler gets the args object (already checked against the command's JSON Schema) and
// returns any JSON value. Handlers are synchronous; so are the capability calls.
// Capabilities: '@agentos/skills/guest' (readText, fetchJson, log, ...) or the raw
// 'agentos:skill/fs', 'agentos:skill/net', 'agentos:skill/log' interfaces.
import { log, type Commands } from '@agentos/skills/guest';

interface GreetArgs {
  name: string;
}

export const commands = {
  greet({ name }: GreetArgs) {
    log.info(\`greeting \${name}\`);
    return { greeting: \`Hello, \${name}!\` };
  },
} satisfies Commands;
`,
    'test/skill.test.mjs': `// Builds this skill, installs it into a throwaway agentos home, enables it and invokes it,
// all through the agentos-skills CLI. Run: npm test
// AGENTOS_SKILLS_CLI=<path of main.js> runs another copy of the CLI (e.g. a checkout).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('..', import.meta.url));
const [cmd, ...pre] = process.env.AGENTOS_SKILLS_CLI
  ? [process.execPath, process.env.AGENTOS_SKILLS_CLI]
  : ['agentos-skills'];

function agentos(...args) {
  const stdout = execFileSync(cmd, [...pre, ...args, '--json'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    shell: process.platform === 'win32' && pre.length === 0,
  });
  return JSON.parse(stdout);
}

test('greet says hello', () => {
  const home = mkdtempSync(join(tmpdir(), '${o.id}-test-'));
  try {
    agentos('build', dir);
    const { result: skill } = agentos('install', dir, '--home', home);
    agentos('enable', skill.id, '--yes', '--home', home);
    const out = agentos('invoke', skill.id, 'greet', '--args', JSON.stringify({ name: 'Ada' }), '--home', home);
    assert.deepEqual(out, { ok: true, result: { greeting: 'Hello, Ada!' } });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
`,
    'package.json': `${JSON.stringify(
      {
        name: o.id.replace(/[^a-z0-9._-]/g, '-'),
        version: '0.1.0',
        private: true,
        type: 'module',
        scripts: {
          typecheck: 'tsc -p .',
          build: 'tsc -p . && agentos-skills build .',
          test: 'tsc -p . && node test/skill.test.mjs',
        },
        devDependencies: { '@agentos/skills': o.hostSpec, typescript: o.typescriptSpec },
      },
      null,
      2,
    )}\n`,
    'tsconfig.json': `${JSON.stringify(
      {
        // No DOM and no Node types: a skill runs in a WebAssembly sandbox with only the guest imports.
        compilerOptions: {
          target: 'ES2022',
          module: 'ESNext',
          moduleResolution: 'Bundler',
          lib: ['ES2022'],
          // The guest interfaces and helpers, from the linked package (its "./guest" export).
          types: ['@agentos/skills/guest'],
          strict: true,
          skipLibCheck: false,
          noEmit: true,
        },
        include: ['src'],
      },
      null,
      2,
    )}\n`,
    '.gitignore': 'dist/\nnode_modules/\n',
    'README.md': `# ${o.name}

An agentos skill: src/index.ts, compiled to a WebAssembly component (dist/skill.wasm).

\`\`\`sh
npm install
npm test
\`\`\`

\`npm test\` type-checks src/ (strict, against the guest types of @agentos/skills), builds the
component, installs it into a throwaway store, enables it and invokes \`greet\`.
\`npm run build\` type-checks and builds only. To put it to work:
\`npx agentos-skills install .\` then \`npx agentos-skills enable ${o.id}\`.

package.json links \`@agentos/skills\` from the copy that created this skill
(\`${o.hostSpec}\`), so nothing is fetched for it; once it is on a registry you use, a version
range works as well.
`,
  };
}
