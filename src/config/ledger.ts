/**
 * The spend ledger's options (`tokenmeter extproc` and `tokenmeter spend`) and the options of `tokenmeter spend`.
 * Parsers throw TM_CONFIG_INVALID naming the flag or variable, like every option (config.ts reads them).
 */
import { fail, parseBytes, parseSeconds } from './parsers.js';

export interface LedgerConfig {
  /** Directory for the embedded ledger (SQLite) and the spill files; created at start. */
  dataDir: string;
  /** '' = SQLite at DATA_DIR/ledger.sqlite; `sqlite:PATH`; `postgres://…`; `none` = no ledger. */
  ledgerUrl: string;
  /** Days raw records are kept (roll-ups are kept); 0 = forever. */
  ledgerRetentionDays: number;
  /** Records held in memory before the oldest spill to DATA_DIR/spill. */
  ledgerQueue: number;
  /** Records per write. */
  ledgerBatch: number;
  /** A non-empty queue is written at least this often (ms). */
  ledgerFlushMs: number;
  /** A record reaches the local journal at most this long after its request settled (ms); 0 = no journal. */
  ledgerJournalMs: number;
  /** Bytes the spill files may take. */
  ledgerSpillMaxBytes: number;
  /** PostgreSQL connections at most. */
  ledgerPool: number;
  /** Share of a limit from which tokenmeter_budget_subject_usage_ratio names a subject. */
  subjectMetricThreshold: number;
  /** Series cap of tokenmeter_budget_subject_usage_ratio. */
  subjectMetricMaxSeries: number;
}

function parseLedgerUrl(raw: string, name: string): string {
  const v = raw.trim();
  if (v === '' || v === 'none' || /^postgres(ql)?:\/\/[^\s]+$/.test(v) || /^sqlite:.+/.test(v)) return v;
  return fail(`${name}: expected postgres://…, sqlite:PATH or none (empty: SQLite in --data-dir), got "${v.replace(/\/\/[^@]*@/, '//…@')}"`);
}

const intIn = (min: number, max: number) => (raw: string, name: string): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) fail(`${name}: expected an integer from ${min} to ${max}, got "${raw}"`);
  return n;
};

function parseShare(raw: string, name: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > 1) fail(`${name}: expected a share in (0, 1], got "${raw}"`);
  return n;
}

function parseDir(raw: string, name: string): string {
  const v = raw.trim();
  if (v === '') fail(`${name}: expected a directory`);
  return v;
}

function parseFlush(raw: string, name: string): number {
  const ms = parseSeconds(raw, name);
  if (ms < 10 || ms > 60_000) fail(`${name}: expected seconds from 0.01 to 60, got "${raw}"`);
  return ms;
}

function parseJournal(raw: string, name: string): number {
  const ms = parseSeconds(raw, name);
  if (ms !== 0 && (ms < 10 || ms > 10_000)) fail(`${name}: expected 0 (no journal) or seconds from 0.01 to 10, got "${raw}"`);
  return ms;
}

export const LEDGER_OPTIONS = [
  { key: 'dataDir', flag: 'data-dir', env: 'TOKENMETER_DATA_DIR', fallback: 'data', parse: parseDir, help: 'directory of the embedded ledger (ledger.sqlite) and its spill files; created if missing' },
  { key: 'ledgerUrl', flag: 'ledger-url', env: 'TOKENMETER_LEDGER_URL', fallback: '', parse: parseLedgerUrl, help: 'spend ledger: postgres://USER:PASS@HOST/DB, sqlite:PATH, or none (empty: SQLite in --data-dir)' },
  { key: 'ledgerRetentionDays', flag: 'ledger-retention', env: 'TOKENMETER_LEDGER_RETENTION', fallback: '90', parse: intIn(0, 36500), help: 'days raw usage records are kept (daily roll-ups are kept); 0: forever' },
  { key: 'ledgerQueue', flag: 'ledger-queue', env: 'TOKENMETER_LEDGER_QUEUE', fallback: '100000', parse: intIn(100, 10_000_000), help: 'usage records held in memory before the oldest spill to disk' },
  { key: 'ledgerBatch', flag: 'ledger-batch', env: 'TOKENMETER_LEDGER_BATCH', fallback: '5000', parse: intIn(1, 50_000), help: 'usage records per ledger write' },
  { key: 'ledgerFlushMs', flag: 'ledger-flush-interval', env: 'TOKENMETER_LEDGER_FLUSH_INTERVAL', fallback: '1', parse: parseFlush, help: 'seconds a partial batch of usage records gathers before it is written (the ledger\'s lag; with no journal also what a kill -9 can lose)' },
  { key: 'ledgerJournalMs', flag: 'ledger-journal-interval', env: 'TOKENMETER_LEDGER_JOURNAL_INTERVAL', fallback: '0.1', parse: parseJournal, help: 'seconds within which a usage record reaches the local journal in DATA_DIR/journal (what a kill -9 can lose); 0: no journal' },
  { key: 'ledgerSpillMaxBytes', flag: 'ledger-spill-max', env: 'TOKENMETER_LEDGER_SPILL_MAX', fallback: '1GiB', parse: parseBytes, help: 'disk the spill files may use while the ledger store is down' },
  { key: 'ledgerPool', flag: 'ledger-pool', env: 'TOKENMETER_LEDGER_POOL', fallback: '4', parse: intIn(1, 100), help: 'PostgreSQL connections at most' },
  { key: 'subjectMetricThreshold', flag: 'subject-metric-threshold', env: 'TOKENMETER_SUBJECT_METRIC_THRESHOLD', fallback: '0.8', parse: parseShare, help: 'share of a limit from which tokenmeter_budget_subject_usage_ratio names the subject' },
  { key: 'subjectMetricMaxSeries', flag: 'subject-metric-max-series', env: 'TOKENMETER_SUBJECT_METRIC_MAX_SERIES', fallback: '100', parse: intIn(1, 10_000), help: 'series cap of tokenmeter_budget_subject_usage_ratio' },
] as const;

/** Options of `tokenmeter spend` (rejected with other commands). */
export interface SpendArgs {
  from?: string;
  to?: string;
  groupBy?: string;
  policy?: string;
  subject?: string;
  format?: string;
}

export const SPEND_FLAGS = [
  { flag: 'from', key: 'from', help: 'start, ISO 8601 date or time (default: the 1st of this month, 00:00 UTC)' },
  { flag: 'to', key: 'to', help: 'end, exclusive (default: now)' },
  { flag: 'group-by', key: 'groupBy', help: 'subject,model,policy,day,month (comma-separated; default subject)' },
  { flag: 'policy', key: 'policy', help: 'only this policy ([NS/]NAME as recorded)' },
  { flag: 'subject', key: 'subject', help: 'only this subject (the value, or its #hash)' },
  { flag: 'format', key: 'format', help: 'table (default), json or csv' },
] as const;
