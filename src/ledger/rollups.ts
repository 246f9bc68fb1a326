/**
 * Roll-ups: per UTC day × policy × subject × model totals (requests, rejected requests, tokens by type, cost), kept
 * in `usage_daily` by the same transaction that inserts the raw rows, from exactly the rows that were new (a
 * retried batch adds nothing). Reports over whole days read these instead of the raw rows; raw rows can then be
 * pruned by retention without losing the totals.
 */
import { ROLLUP_KEY, TOTALS } from './columns.js';

/** The roll-up table's DDL (portable SQL: SQLite and PostgreSQL). */
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
 * `INSERT … SELECT … ON CONFLICT DO UPDATE` adding the rows of `source` (a table expression with the raw record
 * columns, already restricted to new rows) to the roll-ups. Groups are written in key order, so two writers
 * upserting overlapping groups lock them in the same order (no deadlock).
 */
export function rollupUpsert(source: string): string {
  const key = ROLLUP_KEY.join(', ');
  const sums = TOTALS.map((c) => `sum(${c})`).join(', ');
  const update = ['requests', 'rejected', ...TOTALS].map((c) => `${c} = usage_daily.${c} + excluded.${c}`).join(', ');
  return `INSERT INTO usage_daily (${key}, requests, rejected, ${TOTALS.join(', ')})
    SELECT day, coalesce(policy, ''), coalesce(subject, ''), model, count(*), sum(rejected), ${sums}
    FROM ${source} WHERE true
    GROUP BY day, coalesce(policy, ''), coalesce(subject, ''), model
    ORDER BY day, coalesce(policy, ''), coalesce(subject, ''), model
    ON CONFLICT (${key}) DO UPDATE SET ${update}`;
}
