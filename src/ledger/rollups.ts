/**
 * Roll-ups: per UTC day (`usage_daily`) and per UTC month (`usage_monthly`) × policy × subject × model totals
 * (requests, rejected requests, tokens by type, cost), kept by the same transaction that inserts the raw rows, from
 * exactly the rows that were new (a retried batch adds nothing). Reports over whole days read the daily roll-ups,
 * over whole months the monthly ones (30× fewer rows); raw rows can then be pruned by retention without losing the
 * totals. A record's month is the first seven characters of its day (`YYYY-MM-DD` → `YYYY-MM`), so a month's roll-up
 * always equals the sum of its days'.
 */
import { ROLLUP_KEY, TOTALS } from './columns.js';

export interface Rollup {
  table: 'usage_daily' | 'usage_monthly';
  /** The period column: `day` (`YYYY-MM-DD`) or `month` (`YYYY-MM`). */
  period: 'day' | 'month';
  /** How many characters of the record's day name the period (10 or 7). */
  chars: 10 | 7;
}

export const DAILY: Rollup = { table: 'usage_daily', period: 'day', chars: 10 };
export const MONTHLY: Rollup = { table: 'usage_monthly', period: 'month', chars: 7 };
/** Every roll-up a batch maintains, in the order it updates them. */
export const ROLLUPS: readonly Rollup[] = [DAILY, MONTHLY];

/** The summed columns of a roll-up row, in order. */
export const ROLLUP_SUMS = ['requests', 'rejected', ...TOTALS] as const;

const columnsDdl = ROLLUP_SUMS.map((c) => `${c} ${c === 'cost_usd' ? 'DOUBLE PRECISION' : 'BIGINT'} NOT NULL`).join(', ');

/** The daily roll-up table's DDL (portable SQL: SQLite and PostgreSQL); schema version 1 of both stores. */
export const ROLLUP_DDL = [
  `CREATE TABLE IF NOT EXISTS usage_daily (
    day TEXT NOT NULL, policy TEXT NOT NULL, subject TEXT NOT NULL, model TEXT NOT NULL,
    requests BIGINT NOT NULL, rejected BIGINT NOT NULL,
    ${TOTALS.map((c) => `${c} ${c === 'cost_usd' ? 'DOUBLE PRECISION' : 'BIGINT'} NOT NULL`).join(', ')},
    PRIMARY KEY (day, policy, subject, model))`,
  'CREATE INDEX IF NOT EXISTS usage_daily_policy_day ON usage_daily (policy, day)',
  'CREATE INDEX IF NOT EXISTS usage_daily_subject_day ON usage_daily (subject, day)',
];

/**
 * The monthly roll-up table, filled from the daily roll-ups already there (which hold every record ever written,
 * also those whose raw rows retention has pruned); schema version 2 of both stores. `tableSuffix`: SQLite's
 * `WITHOUT ROWID` (the row lives in the primary-key B-tree: one tree to update instead of two).
 */
export function monthlyDdl(tableSuffix = ''): string[] {
  return [
    `CREATE TABLE usage_monthly (
      month TEXT NOT NULL, policy TEXT NOT NULL, subject TEXT NOT NULL, model TEXT NOT NULL, ${columnsDdl},
      PRIMARY KEY (month, policy, subject, model))${tableSuffix}`,
    `INSERT INTO usage_monthly (month, policy, subject, model, ${ROLLUP_SUMS.join(', ')})
      SELECT substr(day, 1, 7), policy, subject, model, ${ROLLUP_SUMS.map((c) => `sum(${c})`).join(', ')}
      FROM usage_daily GROUP BY substr(day, 1, 7), policy, subject, model`,
  ];
}

/**
 * The daily roll-up table rebuilt `WITHOUT ROWID` (SQLite, schema version 3): the row lives in its primary-key B-tree,
 * so an upsert finds and rewrites one tree instead of the key index and then the table; data kept, indexes re-made.
 */
export function dailyWithoutRowid(): string[] {
  const [table = '', ...indexes] = ROLLUP_DDL;
  return [
    'ALTER TABLE usage_daily RENAME TO usage_daily_v2',
    'DROP INDEX usage_daily_policy_day',
    'DROP INDEX usage_daily_subject_day',
    `${table} WITHOUT ROWID`,
    `INSERT INTO usage_daily SELECT * FROM usage_daily_v2`,
    'DROP TABLE usage_daily_v2',
    ...indexes,
  ];
}

const conflict = (r: Rollup): string =>
  `ON CONFLICT (${r.period}, policy, subject, model) DO UPDATE SET ${ROLLUP_SUMS.map((c) => `${c} = ${r.table}.${c} + excluded.${c}`).join(', ')}`;

/** One roll-up row added: parameters are the key (period, policy, subject, model), then ROLLUP_SUMS in order. */
export function rollupRowUpsert(r: Rollup): string {
  return `INSERT INTO ${r.table} (${r.period}, policy, subject, model, ${ROLLUP_SUMS.join(', ')})
    VALUES (${[...ROLLUP_KEY, ...ROLLUP_SUMS].map(() => '?').join(', ')}) ${conflict(r)}`;
}

/**
 * `INSERT … SELECT … ON CONFLICT DO UPDATE` adding the rows of `source` (a table expression with the raw record
 * columns, already restricted to new rows) to a roll-up. Groups are written in key order, so two writers
 * upserting overlapping groups lock them in the same order (no deadlock).
 */
export function rollupUpsert(source: string, r: Rollup = DAILY): string {
  const key = [`substr(day, 1, ${r.chars})`, "coalesce(policy, '')", "coalesce(subject, '')", 'model'].join(', ');
  const sums = ['count(*)', 'sum(rejected)', ...TOTALS.map((c) => `sum(${c})`)].join(', ');
  return `INSERT INTO ${r.table} (${r.period}, policy, subject, model, ${ROLLUP_SUMS.join(', ')})
    SELECT ${key}, ${sums}
    FROM ${source} WHERE true
    GROUP BY ${key}
    ORDER BY ${key}
    ${conflict(r)}`;
}
