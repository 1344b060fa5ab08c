import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeSkillInterfaces, SERVED_WIT_VERSIONS, SKILL_INTERFACES, WIT_VERSION } from '../src/wit-version.js';
import { isSkillImport } from '../src/build/inspect-component.js';

describe('wit-version: the one place the agentos:skill versions are written', () => {
  it('matches the package line of wit/skill.wit', () => {
    const wit = readFileSync(new URL('../wit/skill.wit', import.meta.url), 'utf8');
    expect(/^package agentos:skill@([0-9.]+);/m.exec(wit)?.[1]).toBe(WIT_VERSION);
    expect(SERVED_WIT_VERSIONS).toContain(WIT_VERSION);
  });

  it('every interface of the WIT file is served at the current version', () => {
    const wit = readFileSync(new URL('../wit/skill.wit', import.meta.url), 'utf8');
    const declared = [...wit.matchAll(/^interface ([a-z][a-z0-9-]*) \{/gm)].map((m) => m[1]);
    expect(declared.sort()).toEqual(Object.keys(SKILL_INTERFACES).sort());
    for (const name of declared) expect(isSkillImport(`agentos:skill/${name}@${WIT_VERSION}`)).toBe(true);
  });

  it.each([
    ['agentos:skill/fs@0.1.0', true],
    ['agentos:skill/clock@0.1.1', true],
    ['agentos:skill/clock@0.1.0', false],
    ['agentos:skill/constructor', false],
    ['agentos:skill/toString@0.1.1', false],
    ['agentos:skill/fs@0.2.0', false],
  ])('isSkillImport(%s) is %s', (name, ok) => {
    expect(isSkillImport(name)).toBe(ok);
  });

  it('describes the interfaces per version', () => {
    expect(describeSkillInterfaces()).toBe('net, fs, log, types at 0.1.0 or 0.1.1; clock at 0.1.1');
  });
});
