/**
 * How enabled skills become MCP tools: one tool per command of each skill, with a tool name
 * derived from (skill id, command), the manifest's description and args schema, and hints from
 * the skill's permissions. Pure functions of the manifests, so they can be tested exhaustively.
 *
 * ## Tool names
 *
 * MCP clients accept `^[a-zA-Z0-9_-]{1,64}$`. Command names already fit; skill ids may contain
 * dots. The rule, in order:
 *
 * 1. base name: `<skill id with every character outside [a-zA-Z0-9_-] replaced by '_'>__<command>`
 *    (`example.hello` + `greet` -> `example_hello__greet`);
 * 2. a base name longer than 64 characters is cut to 55 and suffixed with `_` and 8 hex digits
 *    of sha256(`<skill id>\n<command>`);
 * 3. when two or more tools would still share a name (`a.b` and `a_b` both give `a_b__...`),
 *    every one of them takes that hash suffix (cutting the base so the name stays within 64),
 *    and longer suffixes (16, then 32 hex digits) are used if that is still not enough.
 *
 * A tool's name therefore depends only on its own skill id and command, plus whether another
 * enabled skill collides with it; no ordering of installs can steal a name.
 */
import { sha256 } from '../hash.js';
import type { InstalledSkill } from '../registry.js';
import type { JsonSchema, SkillManifest } from '../types.js';

export const MAX_TOOL_NAME = 64;
export const TOOL_NAME_RE = /^[a-zA-Z0-9_-]{1,64}$/;
/** Between the skill part and the command part of a tool name. */
export const TOOL_NAME_SEPARATOR = '__';
const SUFFIX_LENGTHS = [8, 16, 32] as const;

/** One (skill, command) pair that is to be served. */
export interface ToolKey {
  skillId: string;
  command: string;
}

/** `example.hello` + `greet` -> `example_hello__greet` (before length and collision handling). */
export function baseToolName(skillId: string, command: string): string {
  const safe = (s: string) => s.replace(/[^a-zA-Z0-9_-]/g, '_');
  return `${safe(skillId)}${TOOL_NAME_SEPARATOR}${safe(command)}`;
}

/** Hex digest identifying a (skill, command) pair; the source of every hash suffix. */
export function toolKeyHash(skillId: string, command: string): string {
  return sha256(`${skillId}\n${command}`);
}

function withSuffix(base: string, hash: string, len: number): string {
  return `${base.slice(0, MAX_TOOL_NAME - 1 - len)}_${hash.slice(0, len)}`;
}

function keyOf(k: ToolKey): string {
  return `${k.skillId}\n${k.command}`;
}

/**
 * Names for every pair, unique among themselves, each matching `TOOL_NAME_RE`. Returns a map
 * keyed by `${skillId}\n${command}`. Pairs that still collide after the longest suffix
 * (a sha256 prefix collision: not expected to happen) are left out.
 */
export function assignToolNames(keys: readonly ToolKey[]): Map<string, string> {
  const entries = [...new Map(keys.map((k) => [keyOf(k), k])).values()].map((k) => {
    const base = baseToolName(k.skillId, k.command);
    const hash = toolKeyHash(k.skillId, k.command);
    const name = base.length > MAX_TOOL_NAME ? withSuffix(base, hash, SUFFIX_LENGTHS[0]) : base;
    return { key: keyOf(k), base, hash, name, level: base.length > MAX_TOOL_NAME ? 0 : -1 };
  });
  for (;;) {
    const byName = new Map<string, typeof entries>();
    for (const e of entries) byName.set(e.name, [...(byName.get(e.name) ?? []), e]);
    const clashes = [...byName.values()].filter((g) => g.length > 1);
    if (clashes.length === 0) break;
    let progressed = false;
    for (const group of clashes) {
      for (const e of group) {
        if (e.level + 1 >= SUFFIX_LENGTHS.length) continue;
        e.level++;
        e.name = withSuffix(e.base, e.hash, SUFFIX_LENGTHS[e.level]!);
        progressed = true;
      }
    }
    if (!progressed) {
      const clashing = new Set(clashes.flat().map((e) => e.key));
      return new Map(entries.filter((e) => !clashing.has(e.key)).map((e) => [e.key, e.name]));
    }
  }
  return new Map(entries.map((e) => [e.key, e.name]));
}

export function toolNameKey(skillId: string, command: string): string {
  return keyOf({ skillId, command });
}

// ---------------------------------------------------------------------------------------------
// Schemas and hints

/** An MCP tool's `inputSchema`: a JSON Schema whose root is `type: "object"`. */
export type ToolInputSchema = { type: 'object'; properties?: Record<string, object>; required?: string[] } & Record<string, unknown>;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * The command's args schema as an MCP `inputSchema`: a copy with `type: "object"` at the root
 * and `properties` present, boolean sub-schemas in `properties` spelled as objects (MCP clients
 * parse each property as an object). No schema -> `{ type: 'object', properties: {} }`, which
 * accepts any object, as the invoker does.
 */
export function toInputSchema(args: JsonSchema | undefined): ToolInputSchema {
  const schema: Record<string, unknown> = isObject(args) ? (structuredClone(args) as Record<string, unknown>) : {};
  schema['type'] = 'object';
  const props = schema['properties'];
  if (!isObject(props)) {
    schema['properties'] = {};
  } else {
    for (const [k, v] of Object.entries(props)) {
      if (v === true) props[k] = {};
      else if (v === false) props[k] = { not: {} };
    }
  }
  if (schema['required'] !== undefined && !(Array.isArray(schema['required']) && schema['required'].every((r) => typeof r === 'string'))) {
    delete schema['required'];
  }
  return schema as ToolInputSchema;
}

/** What a skill's permissions let it do, as far as the MCP hints are concerned. */
export function skillReach(manifest: SkillManifest): { net: boolean; fsWrite: boolean; fsRead: boolean } {
  const perms = manifest.requires?.permissions ?? {};
  const roots = perms.fs?.paths.length ?? 0;
  return {
    net: (perms.net?.allow_domains.length ?? 0) > 0,
    fsWrite: roots > 0 && perms.fs?.write === true,
    fsRead: roots > 0 && perms.fs?.read === true,
  };
}

export interface SkillTool {
  name: string;
  skillId: string;
  command: string;
  /** Version and component hash the definition was made from. */
  version: string;
  componentHash: string;
  /** The MCP `Tool` object served in `tools/list`. */
  definition: {
    name: string;
    title: string;
    description: string;
    inputSchema: ToolInputSchema;
    annotations: { title: string; readOnlyHint: boolean; openWorldHint: boolean };
    _meta: Record<string, unknown>;
  };
}

/**
 * Tool definitions for every command of every given (enabled, loaded) skill, sorted by skill id
 * then by the manifest's command order.
 */
export function skillTools(skills: readonly InstalledSkill[]): SkillTool[] {
  const sorted = [...skills].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const keys = sorted.flatMap((s) => Object.keys(s.manifest.commands).map((command) => ({ skillId: s.id, command })));
  const names = assignToolNames(keys);
  const out: SkillTool[] = [];
  for (const s of sorted) {
    const reach = skillReach(s.manifest);
    const readOnly = !reach.net && !reach.fsWrite;
    for (const [command, spec] of Object.entries(s.manifest.commands)) {
      const name = names.get(toolNameKey(s.id, command));
      if (name === undefined) continue;
      const title = `${s.manifest.name || s.id}: ${command}`;
      const description = spec.description?.trim() || s.manifest.description?.trim() || `${s.id} ${command}`;
      // destructiveHint is left at its default (true: "may be destructive") for any skill that is
      // not read-only: a net skill may send any method to its hosts.
      const annotations = { title, readOnlyHint: readOnly, openWorldHint: reach.net };
      out.push({
        name,
        skillId: s.id,
        command,
        version: s.version,
        componentHash: s.componentHash,
        definition: {
          name,
          title,
          description,
          inputSchema: toInputSchema(spec.args),
          annotations,
          _meta: {
            'agentos/skill': {
              id: s.id,
              version: s.version,
              command,
              permissions: {
                net: s.manifest.requires?.permissions?.net?.allow_domains ?? [],
                fs: s.manifest.requires?.permissions?.fs ?? null,
              },
            },
          },
        },
      });
    }
  }
  return out;
}
