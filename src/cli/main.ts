#!/usr/bin/env node
// agentos-skills: the command line of @agentos/skills. Everything lives in ./program.ts.
import { run } from './program.js';

const code = await run(process.argv.slice(2));
process.exitCode = code;
// Everything the command opened is closed by now, its store writes flushed (synchronous SQLite)
// and its output written: exit once stdout and stderr have drained, rather than wait for what
// is still winding down (a skill's worker thread takes 35-64 ms to exit). If a stream never
// drains, do not hang the shell over it.
setTimeout(() => process.exit(code), 1000).unref();
let pending = 2;
const drained = () => {
  if (--pending === 0) process.exit(code);
};
process.stdout.write('', drained);
process.stderr.write('', drained);
