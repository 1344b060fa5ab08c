// Summaries of V8 .cpuprofile files: self time per function and per category.
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { ROOT } from './env.mjs';

function category(cf) {
  const { functionName: f, url } = cf;
  if (f === '(idle)') return 'idle';
  if (f === '(garbage collector)') return 'gc';
  if (f === '(program)') return 'program (native, unattributed)';
  if (f === '(root)') return 'root';
  if (url.startsWith('wasm://') || /^\$?(func|wasm-function)\[?\d/.test(f) || url.includes('wasm-function')) return 'wasm (guest)';
  if (url.startsWith('node:')) return 'node internals';
  if (url.includes('/dist/')) return 'host (dist/)';
  if (url.includes('/node_modules/')) return 'dependencies';
  if (url.includes('/cache/') && url.endsWith('skill.js')) return 'jco glue (skill.js)';
  if (url.includes('/bench/')) return 'bench driver';
  if (!url) return f ? 'native/builtin' : 'other';
  return 'other';
}

function where(cf) {
  const { url, lineNumber } = cf;
  if (!url) return '';
  let u = url.startsWith('file://') ? new URL(url).pathname : url;
  if (u.startsWith('/')) {
    const r = relative(ROOT, u);
    u = r.startsWith('..') ? u.replace(/^.*\/(cache\/[0-9a-f]{8})[0-9a-f]*\//, '$1…/') : r;
  }
  return `${u}:${lineNumber + 1}`;
}

/** { total_ms, categories: {name: ms}, top: [{fn, where, ms, pct}] } */
export async function summarizeProfile(file, { top = 15, window } = {}) {
  const prof = JSON.parse(await readFile(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  let total = 0;
  let ts = prof.startTime;
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = prof.timeDeltas[i] ?? 0;
    ts += dt;
    if (window && (ts < window.startUs || ts > window.endUs)) continue;
    total += dt;
    selfUs.set(prof.samples[i], (selfUs.get(prof.samples[i]) ?? 0) + dt);
  }
  const byFn = new Map();
  const byCat = new Map();
  for (const [id, us] of selfUs) {
    const cf = byId.get(id).callFrame;
    const key = `${cf.functionName || '(anonymous)'}\t${where(cf)}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
    const c = category(cf);
    byCat.set(c, (byCat.get(c) ?? 0) + us);
  }
  const busy = total - (byCat.get('idle') ?? 0);
  const pct = (us, of) => Math.round((1000 * us) / of) / 10;
  return {
    total_ms: Math.round(total / 1000),
    busy_ms: Math.round(busy / 1000),
    categories: Object.fromEntries(
      [...byCat].sort((a, b) => b[1] - a[1]).map(([k, us]) => [k, { ms: Math.round(us / 1000), pct_of_busy: k === 'idle' ? null : pct(us, busy) }]),
    ),
    top: [...byFn]
      .filter(([k]) => !k.startsWith('(idle)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => {
        const [fn, at] = k.split('\t');
        return { fn, where: at, ms: Math.round(us / 100) / 10, pct_of_busy: pct(us, busy) };
      }),
  };
}
