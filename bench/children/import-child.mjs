// Time to import one module in a fresh process (standalone, its dependencies included).
//   node import-child.mjs <specifier>   -> prints milliseconds
const spec = process.argv[2];
const t = performance.now();
await import(spec.startsWith('.') ? new URL(spec, import.meta.url).href : spec);
process.stdout.write(String(performance.now() - t) + '\n');
