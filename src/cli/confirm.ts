/** A y/N question on the terminal: the question on stderr, the answer from stdin. */
import readline from 'node:readline';
import type { Writable } from 'node:stream';

/** Resolves true only for `y` / `yes` (any case); Enter, anything else, Ctrl-C or Ctrl-D is no. */
export function confirm(question: string, input: NodeJS.ReadableStream, output: Writable): Promise<boolean> {
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input, output, terminal: (input as { isTTY?: boolean }).isTTY === true });
    let settled = false;
    const done = (yes: boolean) => {
      if (settled) return;
      settled = true;
      rl.close();
      resolve(yes);
    };
    rl.on('close', () => done(false));
    rl.on('SIGINT', () => {
      output.write('\n');
      done(false);
    });
    rl.question(`${question} [y/N] `, (answer) => done(/^y(es)?$/i.test(answer.trim())));
  });
}
