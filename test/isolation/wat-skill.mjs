// Hand-assembled skills: a core module written in WAT, embedded with the real WIT and wrapped
// into a component by jco's own wasm-tools (componentEmbed + componentNew), then put in a skill
// folder with a skill.yaml. For shapes no compiler would emit: the attacks on module limits.
//
// The module implements the world's `invoke` (canonical ABI: 4 x i32 in, pointer to
// {tag u8, ptr u32, len u32} out) and returns ok(<the JSON text its $answer function points at>).
import { mkdir, mkdtemp, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { componentEmbed, componentNew, parse } from '@bytecodealliance/jco';
import { stringify } from 'yaml';

const WIT = resolve(import.meta.dirname, '../../wit/skill.wit');

/**
 * A core module with `extra` WAT fields. `answer` is WAT that leaves (ptr, len) of the JSON
 * result on the stack; texts at 64.. are "\"ok\"" (64, 4), "\"refused\"" (80, 9), "\"grown\"" (96, 7).
 */
export function watModule({ memory = '(memory (export "memory") 1)', extra = '', answer = '(i32.const 64) (i32.const 4)' } = {}) {
  return `(module
  ${memory}
  (global $bump (mut i32) (i32.const 4096))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (global.get $bump) (i32.and (i32.add (local.get 3) (i32.const 7)) (i32.const -8))))
    (local.get $p))
  (data (memory 0) (i32.const 64) "\\"ok\\"")
  (data (memory 0) (i32.const 80) "\\"refused\\"")
  (data (memory 0) (i32.const 96) "\\"grown\\"")
  (func $answer (result i32 i32) ${answer})
  (func (export "invoke") (param i32 i32 i32 i32) (result i32)
    (local $ptr i32) (local $len i32)
    (call $answer)
    (local.set $len)
    (local.set $ptr)
    (i32.store8 (i32.const 0) (i32.const 0))
    (i32.store (i32.const 4) (local.get $ptr))
    (i32.store (i32.const 8) (local.get $len))
    (i32.const 0))
  ${extra}
)`;
}

/** The component bytes for a WAT core module (or for raw core module bytes). */
export async function watComponent(watOrBytes) {
  const core = typeof watOrBytes === 'string' ? await parse(watOrBytes) : watOrBytes;
  const embedded = await componentEmbed({ binary: core, witSource: await readFile(WIT, 'utf8'), world: 'skill' });
  return componentNew(embedded);
}

/** A skill folder (skill.yaml + dist/skill.wasm) for a component; returns its path. */
export async function watSkill(id, component, { memoryMb = 64, timeoutMs = 5000, parent } = {}) {
  const dir = await mkdtemp(join(parent ?? tmpdir(), 'agentos-wat-'));
  await mkdir(join(dir, 'dist'));
  await writeFile(join(dir, 'dist/skill.wasm'), component);
  const manifest = {
    id,
    name: id,
    version: '1.0.0',
    description: 'hand-assembled module-limits attack',
    component: 'dist/skill.wasm',
    commands: { run: { description: 'run the attack' } },
    requires: { limits: { timeout_ms: timeoutMs, memory_mb: memoryMb } },
  };
  await writeFile(join(dir, 'skill.yaml'), stringify(manifest));
  return dir;
}
