#!/usr/bin/env node
// agentos-skills: the command line of @agentos/skills. Everything lives in ./program.ts.
import { run } from './program.js';

const code = await run(process.argv.slice(2));
process.exitCode = code;
// Everything the command opened is closed by now; if some handle still holds the loop open,
// do not hang the shell over it.
setTimeout(() => process.exit(code), 1000).unref();
