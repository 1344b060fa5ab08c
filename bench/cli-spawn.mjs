// CLI `invoke` spawn to exit against a bare `node -e 0`, interleaved (one of each per round, so
// load swings hit every variant alike). Medians of the parent's wall times.
//   node bench/cli-spawn.mjs [--runs N] [--home DIR] [--args JSON] [--skill ID] [--command C]
//                            [label=<checkout dir>[;ENV=value|;--node-flag...]] ...
// Each variant runs `node <dir>/dist/cli/main.js invoke <skill> <command> --args <json>` with
// AGENTOS_HOME=<home> (a home with the skill installed and enabled; its transpile cache is filled
// by one untimed run per variant first). Without variants: this checkout.
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  if (i < 0) return dflt;
  const v = argv[i + 1];
  argv.splice(i, 2);
  return v;
};
const runs = Number(opt('--runs', '12'));
// --cpu: run each child under /usr/bin/time to also get its CPU time (user + sys, all threads),
// a figure the machine's load moves far less than the wall time.
const cpu = argv.includes('--cpu') ? (argv.splice(argv.indexOf('--cpu'), 1), true) : false;
const home = opt('--home', process.env.AGENTOS_HOME);
const skill = opt('--skill', 'example.hello');
const command = opt('--command', 'greet');
const args = opt('--args', '{"name":"Ada"}');
if (!home) throw new Error('--home <dir> (a home with the skill installed and enabled) or AGENTOS_HOME');

const variants = (argv.length ? argv : [`this=${resolve(import.meta.dirname, '..')}`]).map((spec) => {
  const [label, rest] = spec.split('=', 2).length === 2 ? [spec.slice(0, spec.indexOf('=')), spec.slice(spec.indexOf('=') + 1)] : [spec, spec];
  const [dir, ...envs] = rest.split(';');
  const flags = envs.filter((e) => e.startsWith('--'));
  const env = Object.fromEntries(envs.filter((e) => !e.startsWith('--')).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  return { label, argv: [...flags, resolve(dir, 'dist/cli/main.js'), 'invoke', skill, command, '--args', args], env };
});
const bare = { label: 'node -e 0', argv: ['-e', '0'], env: {} };

function once(v) {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const [cmd, cmdArgs] = cpu ? ['/usr/bin/time', ['-f', 'CPU %U %S', process.execPath, ...v.argv]] : [process.execPath, v.argv];
    const p = spawn(cmd, cmdArgs, { env: { ...process.env, AGENTOS_HOME: home, ...v.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let first;
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => {
      first ??= performance.now() - t0;
      out += d;
    });
    p.stderr.on('data', (d) => (err += d));
    p.on('error', rej);
    p.on('exit', (code) => {
      const exit = performance.now() - t0;
      if (code !== 0) return rej(new Error(`${v.label} exited ${code}: ${err.slice(-1000)}`));
      const m = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(err);
      res({ exit, first: first ?? exit, out, cpu: m ? (Number(m[1]) + Number(m[2])) * 1000 : NaN });
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

for (const v of variants) console.error(`${v.label}: ${(await once(v)).out.trim().replace(/\s+/g, ' ')}`);
const all = [bare, ...variants];
const samples = new Map(all.map((v) => [v, []]));
const load0 = loadavg()[0];
for (let i = 0; i < runs; i++) {
  // Rotate the order each round so no variant always runs right after another.
  for (let j = 0; j < all.length; j++) {
    const v = all[(i + j) % all.length];
    samples.get(v).push(await once(v));
  }
}
const bareMed = median(samples.get(bare).map((r) => r.exit));
console.log(`runs ${runs} each, load ${load0.toFixed(2)} -> ${loadavg()[0].toFixed(2)}`);
for (const v of all) {
  const s = samples.get(v);
  const exit = median(s.map((r) => r.exit));
  const first = median(s.map((r) => r.first));
  const tail = median(s.map((r) => r.exit - r.first));
  console.log(
    (cpu ? `cpu ${median(s.map((r) => r.cpu)).toFixed(0).padStart(5)} ms  ` : '') +
    `${v.label.padEnd(16)} exit ${exit.toFixed(1).padStart(7)} ms (${(exit / bareMed).toFixed(2)}x)  first output ${first.toFixed(1).padStart(7)}  output->exit ${tail.toFixed(1).padStart(6)}   [min ${Math.min(...s.map((r) => r.exit)).toFixed(1)}]`,
  );
}
