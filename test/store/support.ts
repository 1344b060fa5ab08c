/** Shared by the store suites: the denials fixture (built by `npm run build-examples`). */
import { join } from 'node:path';
import { ROOT } from '../helpers.js';

/** test/fixtures/denials: commands that loop on denied fs and net calls (no permissions at all). */
export const DENIALS = join(ROOT, 'test/fixtures/denials');
