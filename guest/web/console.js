// console.* -> the skill's log lines (agentos:skill/log). Arguments are formatted the way
// browsers and Node do: a leading format string takes %s %d %i %f %o %O %j %c %%, strings are
// written as they are, other values as a short inspection (JSON-like, cycles marked, depth 3).

import { log } from 'agentos:skill/log@0.1.1';

const MAX_DEPTH = 3;
const MAX_ITEMS = 100;
const MAX_STRING = 10000;

let live = false;
/** Called once the host has seeded the instance: before that (build-time init) lines are dropped. */
export function consoleLive() {
  live = true;
}

function emit(level, args) {
  if (!live) return;
  let text;
  try {
    text = format(args);
  } catch (e) {
    text = `[console: cannot format: ${String(e && e.message)}]`;
  }
  log(level, text);
}

export function format(args) {
  if (args.length === 0) return '';
  let i = 0;
  let out = '';
  const first = args[0];
  if (typeof first === 'string') {
    i = 1;
    out = first.replace(/%[sdifoOjc%]/g, (spec) => {
      if (spec === '%%') return '%';
      if (i >= args.length) return spec;
      const v = args[i++];
      switch (spec) {
        case '%s':
          return typeof v === 'string' ? v : typeof v === 'object' && v !== null ? inspect(v, 1) : primitive(v);
        case '%d':
        case '%i': {
          if (typeof v === 'bigint') return `${v}n`;
          if (typeof v === 'symbol') return 'NaN';
          const n = Number(v);
          return String(spec === '%i' ? Math.trunc(n) : n);
        }
        case '%f':
          return typeof v === 'symbol' ? 'NaN' : String(Number(v));
        case '%j':
          try {
            return JSON.stringify(v);
          } catch {
            return '[Circular]';
          }
        case '%c':
          return ''; // CSS: meaningless in a log line
        default:
          return inspect(v, 0);
      }
    });
  }
  for (; i < args.length; i++) {
    const v = args[i];
    const s = typeof v === 'string' ? v : inspect(v, 0);
    out = out === '' && i === 0 ? s : `${out} ${s}`;
  }
  return out;
}

function primitive(v) {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'symbol') return v.toString();
  if (Object.is(v, -0)) return '-0';
  return String(v);
}

function quote(s) {
  const t = s.length > MAX_STRING ? `${s.slice(0, MAX_STRING)}...` : s;
  return `'${t.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
}

function key(k) {
  return typeof k === 'symbol' ? `[${k.toString()}]` : /^[A-Za-z_$][\w$]*$/.test(k) ? k : quote(k);
}

/** A short, single-line description of any value (Node's util.inspect, much reduced). */
export function inspect(v, depth, seen = []) {
  if (v === null || (typeof v !== 'object' && typeof v !== 'function')) {
    return typeof v === 'string' ? (depth === 0 ? v : quote(v)) : primitive(v);
  }
  if (typeof v === 'function') return `[${isClass(v) ? 'class' : 'Function'}${v.name ? `: ${v.name}` : ' (anonymous)'}]`;
  if (seen.includes(v)) return '[Circular]';
  if (v instanceof Error) {
    const head = `${v.name || 'Error'}: ${v.message}`;
    const stack = typeof v.stack === 'string' && v.stack.trim() ? `\n${v.stack.trimEnd()}` : '';
    return stack.startsWith(`\n${head}`) ? stack.slice(1) : head + stack;
  }
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString();
  if (v instanceof RegExp) return String(v);
  if (depth > MAX_DEPTH) return Array.isArray(v) ? '[Array]' : '[Object]';
  const next = [...seen, v];
  const inner = (x) => inspect(x, depth + 1, next);
  const items = (list, open, close, prefix = '') => {
    const shown = list.slice(0, MAX_ITEMS);
    const more = list.length > MAX_ITEMS ? [`... ${list.length - MAX_ITEMS} more items`] : [];
    const all = [...shown, ...more];
    return all.length === 0 ? `${prefix}${open}${close}` : `${prefix}${open} ${all.join(', ')} ${close}`;
  };
  if (Array.isArray(v)) return items(Array.from(v, inner), '[', ']').replace(/^\[ (.*) \]$/, '[ $1 ]');
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    return items(Array.from(v, (x) => primitive(x)), '[', ']', `${v.constructor.name}(${v.length}) `);
  }
  if (v instanceof ArrayBuffer) return `ArrayBuffer { byteLength: ${v.byteLength} }`;
  if (v instanceof Map) return items([...v].map(([k, x]) => `${inner(k)} => ${inner(x)}`), '{', '}', `Map(${v.size}) `);
  if (v instanceof Set) return items([...v].map(inner), '{', '}', `Set(${v.size}) `);
  if (typeof v.then === 'function') return 'Promise { <pending> }';
  const proto = Object.getPrototypeOf(v);
  const name = proto === null ? '[Object: null prototype] ' : proto !== Object.prototype && proto.constructor && proto.constructor.name ? `${proto.constructor.name} ` : '';
  const props = Reflect.ownKeys(v)
    .filter((k) => Object.prototype.propertyIsEnumerable.call(v, k))
    .map((k) => {
      let x;
      try {
        x = v[k];
      } catch {
        x = '[Getter]';
      }
      return `${key(k)}: ${inner(x)}`;
    });
  return items(props, '{', '}', name);
}

function isClass(f) {
  try {
    return /^class[\s{]/.test(Function.prototype.toString.call(f));
  } catch {
    return false;
  }
}

export function installConsole() {
  const counts = new Map();
  const timers = new Map();
  const label = (l) => (l === undefined ? 'default' : String(l));
  const c = {
    log: (...a) => emit('info', a),
    info: (...a) => emit('info', a),
    warn: (...a) => emit('warn', a),
    error: (...a) => emit('error', a),
    debug: (...a) => emit('debug', a),
    trace: (...a) => emit('debug', ['Trace:', ...a]),
    dir: (v) => emit('info', [inspect(v, 1)]),
    table: (v) => emit('info', [v]),
    assert: (cond, ...a) => {
      if (!cond) emit('error', a.length ? ['Assertion failed:', ...a] : ['Assertion failed']);
    },
    count: (l) => {
      const k = label(l);
      const n = (counts.get(k) ?? 0) + 1;
      counts.set(k, n);
      emit('info', [`${k}: ${n}`]);
    },
    countReset: (l) => counts.delete(label(l)),
    time: (l) => timers.set(label(l), performance.now()),
    timeLog: (l, ...a) => {
      const k = label(l);
      if (timers.has(k)) emit('info', [`${k}: ${performance.now() - timers.get(k)} ms`, ...a]);
    },
    timeEnd: (l) => {
      const k = label(l);
      if (!timers.has(k)) return;
      emit('info', [`${k}: ${performance.now() - timers.get(k)} ms`]);
      timers.delete(k);
    },
    group: (...a) => a.length && emit('info', a),
    groupCollapsed: (...a) => a.length && emit('info', a),
    groupEnd: () => {},
  };
  Object.defineProperty(globalThis, 'console', { value: c, configurable: true, writable: true });
}

/** An error nobody caught (a queueMicrotask callback), reported as browsers do. */
export function reportUncaught(e) {
  emit('error', ['Uncaught', e]);
}
