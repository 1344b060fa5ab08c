/**
 * `audit`: read the audit trail (newest first), as a table, `--json`, or `--export jsonl`.
 * `audit prune`: retention by hand (automatic retention: see ../retention.ts).
 */
import { Option, type Command } from 'commander';
import { AUDIT_EVENT_TYPES, SECURITY_EVENT_TYPES } from '../../audit-events.js';
import type { AuditEvent, AuditQuery } from '../../types.js';
import { UsageError } from '../cli-errors.js';
import type { CliContext } from '../context.js';
import { formatTime, truncate } from '../format.js';
import { intOption, numberOption, parseSince } from '../parse.js';
import { MAX_AGE_ENV, MAX_EVENTS_ENV, resolveRetention } from '../retention.js';
import { jsonForTerminal, visible } from '../sanitize.js';
import { formatTable } from '../table.js';

/** Event types known to this version (others may appear; they are shown as stored). */
export const KNOWN_EVENT_TYPES = AUDIT_EVENT_TYPES;

interface AuditOpts {
  skill?: string;
  caller?: string;
  type?: string;
  since?: Date;
  limit?: number;
  export?: 'jsonl';
}

export function register(program: Command, ctx: CliContext): void {
  const audit = program
    .command('audit')
    .description('show the audit trail, newest first (prune: see `audit prune --help`)')
    .option('--skill <id>', 'only events of this skill')
    .option('--caller <name>', 'only events of this caller (an MCP token name, or `invoke(..., { caller })`)')
    .option('--type <type>', `only events of this type (${KNOWN_EVENT_TYPES.join(', ')})`)
    .option('--since <time>', 'only events at or after: ISO time (2025-01-31, 2025-01-31T12:00Z) or an age (30m, 1h, 7d, 2w)', (v: string) => parseSince(v))
    .option('--limit <n>', 'at most n events (default 100; no default with --export)', intOption(0))
    .addOption(new Option('--export <format>', 'print every matching event as JSON lines').choices(['jsonl']))
    .action((opts: AuditOpts, cmd: Command) => {
      const out = ctx.out;
      if (opts.export && out.json) throw new UsageError('--export jsonl and --json both choose the output format; use one of them');
      if (opts.type !== undefined && !(KNOWN_EVENT_TYPES as readonly string[]).includes(opts.type)) {
        out.warn(`'${opts.type}' is not an event type this version records (known: ${KNOWN_EVENT_TYPES.join(', ')})`);
      }
      const registry = ctx.openRegistry(cmd);
      const q: AuditQuery = { skillId: opts.skill, type: opts.type, caller: opts.caller, since: opts.since, limit: opts.limit };
      if (opts.export === 'jsonl') {
        const n = registry.audit.exportJsonLines(q, (line) => ctx.io.stdout.write(`${jsonForTerminal(line)}\n`));
        out.note(out.e.dim(`${n} event${n === 1 ? '' : 's'} exported`));
        return;
      }
      const events = registry.auditEvents(q);
      out.result(events, () => {
        const c = out.c;
        if (events.length === 0) {
          out.line('No audit events match.');
          return;
        }
        // The CALLER column only when some event has one (MCP over HTTP, library callers).
        const withCaller = events.some((e) => e.caller != null);
        // Targets, reasons, commands come from skills: every cell is shown `visible` (see sanitize.ts).
        const rows = events.map((e) => [
          c.dim(visible(formatTime(e.at))),
          (SECURITY_EVENT_TYPES.has(e.type) ? c.red : e.type === 'execution_error' ? c.yellow : c.green)(visible(e.type)),
          visible(e.skillId ?? '-'),
          visible(e.command ?? '-'),
          ...(withCaller ? [visible(e.caller ?? '-')] : []),
          truncate(visible(eventDetail(e)), 100),
        ]);
        const head = ['TIME', 'TYPE', 'SKILL', 'COMMAND', ...(withCaller ? ['CALLER'] : []), 'DETAIL'];
        out.line(formatTable(head, rows, { header: c.dim }));
        const limit = opts.limit ?? 100;
        if (events.length >= limit && limit > 0) {
          out.note(out.e.dim(`showing the newest ${events.length}; more may match (--limit <n>, or --export jsonl for all)`));
        }
      });
    });

  audit
    .command('prune')
    .description('delete old audit events now (default: the configured automatic retention)')
    .option('--max-age-days <n>', 'delete events older than n days', numberOption(0))
    .option('--max-events <n>', 'keep only the newest n events', intOption(0))
    .addHelpText(
      'after',
      `\nWithout options, prunes by the automatic retention settings ($${MAX_AGE_ENV}, $${MAX_EVENTS_ENV}, or the host policy's auditMaxAgeDays / auditMaxEvents).`,
    )
    .action((opts: { maxAgeDays?: number; maxEvents?: number }, cmd: Command) => {
      const out = ctx.out;
      let { maxAgeDays, maxEvents } = opts;
      if (maxAgeDays === undefined && maxEvents === undefined) {
        const configured = resolveRetention(ctx.io.env, ctx.hostPolicy(cmd));
        ({ maxAgeDays, maxEvents } = configured);
        if (maxAgeDays === undefined && maxEvents === undefined) {
          throw new UsageError('nothing to prune by: pass --max-age-days <n> and/or --max-events <n>', {
            hint: `(or configure automatic retention with $${MAX_AGE_ENV} / $${MAX_EVENTS_ENV})`,
          });
        }
      }
      const registry = ctx.openRegistry(cmd, { retention: false });
      const deleted = registry.audit.prune({ maxAgeDays, maxEvents });
      const remaining = registry.audit.count();
      out.result({ deleted, remaining, maxAgeDays: maxAgeDays ?? null, maxEvents: maxEvents ?? null }, () => {
        out.line(`Deleted ${deleted} audit event${deleted === 1 ? '' : 's'}; ${remaining} left.`);
      });
    });
}

/** `fs read "/etc/passwd": <reason>`-style one-liner of what happened. */
export function eventDetail(e: AuditEvent): string {
  const head = [e.capability, e.operation, e.target !== null ? JSON.stringify(e.target) : null].filter((x) => x !== null).join(' ');
  const reason = e.reason ?? '';
  return head && reason ? `${head}: ${reason}` : head || reason || '-';
}
