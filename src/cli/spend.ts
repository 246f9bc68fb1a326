/**
 * `tokenmeter spend [--from T] [--to T] [--group-by subject,model,policy,day,month] [--policy P] [--subject S]
 * [--format table|json|csv]`: the same rows as `GET /v1/spend`, read straight from the ledger the extproc writes
 * (--ledger-url, or the SQLite file in --data-dir). Exit codes: 0 printed, 2 bad options or no ledger, 1 the ledger
 * could not be read.
 */
import { existsSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { ExtprocConfig, SpendArgs } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { createLedgerQuery, type SpendRow } from '../ledger/query.js';
import { ledgerTarget } from '../ledger/target.js';
import { parseFormat, parseGroupBy, parseRange, subjectForms, toCsv } from '../admin/ledger-params.js';
import { openLedgerStore } from './ledger.js';

const TOTALS = ['requests', 'rejected_requests', 'input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens', 'reasoning_tokens', 'cost_usd'] as const;

function table(columns: readonly string[], rows: readonly Record<string, unknown>[]): string {
  const cell = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '-');
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line([...columns]), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n') + '\n';
}

export async function runSpend(args: SpendArgs, config: ExtprocConfig, io: { stdout: Writable; stderr: Writable }, logger: Logger, now = Date.now()): Promise<number> {
  const fail = (message: string, code = 2): number => {
    io.stderr.write(`tokenmeter spend: ${message}\n`);
    return code;
  };
  const q = new URLSearchParams();
  if (args.from !== undefined) q.set('from', args.from);
  if (args.to !== undefined) q.set('to', args.to);
  const range = parseRange(q, now);
  if (!range.ok) return fail(range.message.replace(/^(from|to)=/, '--$1 '));
  const groupBy = parseGroupBy(args.groupBy ?? null, ['subject']);
  if (!groupBy.ok) return fail(groupBy.message.replace(/^group_by/, '--group-by'));
  const format = args.format === 'table' || args.format === undefined ? { ok: true as const, value: 'table' as const } : parseFormat(args.format);
  if (!format.ok) return fail(`--format ${args.format}: use table, json or csv`);
  const target = ledgerTarget(config);
  if (target.kind === 'none') return fail('--ledger-url none: there is no ledger to read');
  if (target.kind === 'sqlite' && !existsSync(target.file)) return fail(`no ledger at ${target.file} (set --data-dir or --ledger-url to where tokenmeter extproc writes it)`);
  let rows: SpendRow[];
  const store = await openLedgerStore(config, logger);
  try {
    rows = await createLedgerQuery(store as NonNullable<typeof store>).spend({
      from: range.value.from, to: range.value.to, groupBy: groupBy.value, now,
      ...(args.policy ? { policy: args.policy } : {}), ...(args.subject ? { subjects: subjectForms(args.subject) } : {}),
    });
  } catch (err) {
    return fail(`cannot read the ledger: ${err instanceof Error ? err.message : String(err)}`, 1);
  } finally {
    await store?.close();
  }
  const columns = [...groupBy.value, ...TOTALS];
  const records = rows as unknown as Record<string, unknown>[];
  if (format.value === 'json') {
    io.stdout.write(`${JSON.stringify({ from: new Date(range.value.from).toISOString(), to: new Date(range.value.to).toISOString(), time_zone: 'UTC', group_by: groupBy.value, rows }, null, 2)}\n`);
  } else if (format.value === 'csv') io.stdout.write(toCsv(columns, records));
  else io.stdout.write(`${new Date(range.value.from).toISOString()} .. ${new Date(range.value.to).toISOString()} (UTC)\n${table(columns, records)}`);
  return 0;
}
