/**
 * Kept for one commit: capModuleMemory now lives in module-limits.ts (the in-process benchmark
 * imports it from there once it moves to bench/).
 */
export { capModuleMemory } from './module-limits.js';
