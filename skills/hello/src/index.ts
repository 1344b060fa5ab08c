// The smallest skill: no capabilities, two commands.
// Build: npm run build-skill -- skills/hello
import type { Commands } from '@agentos/skills/guest';

interface GreetArgs {
  name: string;
}

export const commands = {
  greet({ name }: GreetArgs) {
    return { greeting: `Hello, ${name}!` };
  },

  echo(args: Record<string, unknown>) {
    return args;
  },
} satisfies Commands;
