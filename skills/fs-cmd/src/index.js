// File operations through agentos:skill/fs. Paths are absolute host paths; the host allows
// only those under requires.permissions.fs.paths, and writes only with fs.write: true.
import { list, mkdir, readText, remove, stat, writeText } from '@agentos/skills/guest';

/** @type {import('@agentos/skills/guest').Commands} */
export const commands = {
  cmd({ operation, path, content }) {
    switch (operation) {
      case 'read':
        return { path, content: readText(path) };
      case 'write':
        writeText(path, content ?? '');
        return { path, written: true };
      case 'list':
        return { path, entries: list(path) };
      case 'stat':
        return { path, ...stat(path) };
      case 'remove':
        remove(path);
        return { path, removed: true };
      case 'mkdir':
        mkdir(path);
        return { path, created: true };
      default:
        throw new Error(`unknown operation '${operation}' (read, write, list, stat, remove, mkdir)`);
    }
  },
};
