// Types of guest/helpers.js, which skills import as '@agentos/skills/guest' (declared in
// agentos-skill.d.ts together with the agentos:skill/* interfaces).
/// <reference path="./agentos-skill.d.ts" />
export * from '@agentos/skills/guest';
