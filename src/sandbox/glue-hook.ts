/**
 * jco's glue keeps the component's resource handle tables in JS, inside `instantiate`, where the
 * host cannot see them. For a snapshot reset (instance-reset.ts) the host must know they are as
 * fresh after an invocation as before it, so the glue text is given one line that hands the
 * tables to the worker. A glue with resources but without the expected line is not reset: its
 * instances are replaced instead.
 */
import { HANDLE_TABLES_HOOK } from './instance-reset.js';

const DECLARATION = 'const HANDLE_TABLES= [];';
/** Glue state a snapshot of the core instances does not cover. */
const RESOURCE_STATE = /HANDLE_TABLES|rscTable|handleTable/;

export interface HookedGlue {
  js: string;
  /** Undefined when an instance of it can be reset to a snapshot; else why not. */
  notResettable: string | undefined;
}

export function hookGlue(js: string): HookedGlue {
  const at = js.indexOf(DECLARATION);
  if (at < 0) {
    return RESOURCE_STATE.test(js)
      ? { js, notResettable: "the glue keeps resource handles where the host cannot see them (jco's handle-table declaration not found)" }
      : { js, notResettable: undefined };
  }
  if (js.indexOf(DECLARATION, at + 1) >= 0) return { js, notResettable: 'the glue declares its handle tables more than once' };
  const hook = `${DECLARATION} globalThis[Symbol.for(${JSON.stringify(HANDLE_TABLES_HOOK.description)})]?.(HANDLE_TABLES);`;
  return { js: js.slice(0, at) + hook + js.slice(at + DECLARATION.length), notResettable: undefined };
}
