/**
 * @agentos/skills — run untrusted third-party skills (WebAssembly components) for AI agents,
 * behind a phase gate, an enable check, guarded capabilities, resource limits and an audit trail.
 */
export * from './errors.js';
export type * from './types.js';
export { SkillRegistry } from './registry.js';
export type { InstalledSkill, SkillRegistryOptions } from './registry.js';
export { SkillLoader } from './loader.js';
export type { LoadedSkill, SkillLoaderOptions } from './loader.js';
export { SkillInvoker } from './invoker.js';
export type { InvokeOptions, SkillInvokerOptions, SkillUsage } from './invoker.js';
export { DEFAULT_INVOKER_LIMITS } from './limits.js';
export type { InvokerLimits } from './limits.js';
export { parseManifest, loadManifest, permissionSummary, diffPermissions } from './manifest.js';
export { AuditTrail, redactSecrets, createDefaultLogger, DEFAULT_AUDIT_RETENTION } from './audit.js';
export type { AuditRetention } from './audit.js';
export { StoreWriter } from './store-writer.js';
export {
  DEFAULT_HOST_POLICY,
  HostPolicyError,
  checkManifestAgainstPolicy,
  effectiveLimits,
  loadHostPolicy,
  parseHostPolicy,
  resolveHostPolicy,
} from './policy.js';
export type { HostPolicy } from './policy.js';
export { decideUrl, decideAddress, compileNetPolicy, parseAllowEntry } from './guards/net-guard.js';
export type { AddressDecision, NetDecision, NetPolicy, NetRuleId } from './guards/net-guard.js';
export { decideFs, checkPathSyntax } from './guards/fs-guard.js';
export type { FsDecision, FsPolicy, FsOperation, FsRuleId } from './guards/fs-guard.js';
export type { SecretRuleId } from './guards/secret-guard.js';
export { buildSkill } from './build/build-skill.js';
export type { BuildOptions, BuildResult } from './build/build-skill.js';
export type { FetchLike, NetRequest, NetResponse, Denial, DenialOf } from './capabilities/types.js';
export type { NetResolver } from './capabilities/net.js';
export type { LogLine } from './sandbox/protocol.js';
