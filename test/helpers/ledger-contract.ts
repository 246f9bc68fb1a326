/**
 * The behaviour every ledger store must have, run against SQLite (src/ledger/sqlite.test.ts) and a real PostgreSQL
 * (test/integration/ledger-postgres.test.ts): idempotent batches, daily and monthly roll-ups equal to the raw rows
 * they sum (also for a batch retried with new records in it, and a late record for a past month), spend over partial
 * and whole days and whole months, a month boundary, filters, paging.
 */
import { describe, expect, it } from 'vitest';
import { createLedgerQuery, type Row, type SqlSource } from '../../src/ledger/query.js';
import type { UsageRecord } from '../../src/ledger/record.js';
import type { LedgerStore } from '../../src/ledger/writer.js';
import { uuidv7 } from '../../src/ledger/ids.js';

export type TestStore = LedgerStore & SqlSource & { prune(cutoffMs: number): Promise<number> };

let n = 0;
export function usageRecord(over: Partial<UsageRecord> = {}): UsageRecord {
  n++;
  const ts = over.ts ?? Date.UTC(2026, 0, 15, 12);
  return {
    id: uuidv7(ts), requestId: `req-${n}`, ts, policy: 'team', limit: null, tier: null, override: null, subject: 'acme',
    provider: 'openai', endpoint: 'openai.chat', requestModel: 'gpt-4o-mini', responseModel: 'gpt-4o-mini-2024-07-18',
    inputTokens: 100, cachedInputTokens: 20, cacheWriteTokens: 0, outputTokens: 50, reasoningTokens: 0, usageSource: 'provider',
    costUsd: 0.0001, priceVersion: 'builtin-2025-11-15', decision: 'allowed', rejected: false, status: 200, stream: true, durationMs: 12.5,
    ...over,
  };
}

export function ledgerStoreContract(name: string, open: () => Promise<TestStore>): void {
  describe(`${name}: the ledger store contract`, () => {
    it('writes a batch once: a retried batch (with new records in it) adds only the new ones, to rows and roll-ups', async () => {
      const store = await open();
      try {
        const q = createLedgerQuery(store);
        const a = Array.from({ length: 300 }, (_, i) => usageRecord({ subject: `s${i % 7}`, inputTokens: i, costUsd: i / 1000 }));
        expect(await store.write(a)).toEqual({ written: 300, duplicates: 0 });
        const b = [...a.slice(100), ...Array.from({ length: 50 }, () => usageRecord({ subject: 's1', inputTokens: 1000, costUsd: 1 }))];
        expect(await store.write(b)).toEqual({ written: 50, duplicates: 200 });
        const raw = await store.all('SELECT count(*) AS n, sum(input_tokens) AS t FROM usage_records');
        expect(Number(raw[0]?.n)).toBe(350);
        const wantInput = a.reduce((s, r) => s + r.inputTokens, 0) + 50 * 1000;
        expect(Number(raw[0]?.t)).toBe(wantInput);
        const roll = await store.all('SELECT sum(requests) AS n, sum(input_tokens) AS t FROM usage_daily');
        expect([Number(roll[0]?.n), Number(roll[0]?.t)]).toEqual([350, wantInput]);
        const day = await q.spend({ from: Date.UTC(2026, 0, 15), to: Date.UTC(2026, 0, 16), groupBy: ['subject'] });
        expect(day.find((r) => r.subject === 's1')?.requests).toBe(a.filter((r) => r.subject === 's1').length + 50);
        expect(day.reduce((s, r) => s + r.input_tokens, 0)).toBe(wantInput);
      } finally {
        await store.close();
      }
    });

    it('spend: partial days from raw rows, whole days from roll-ups, a month boundary, group by and filters', async () => {
      const store = await open();
      try {
        const q = createLedgerQuery(store);
        const at = (d: number, h: number, m = 0): number => Date.UTC(2026, 0, d, h, m);
        const recs = [
          usageRecord({ ts: at(31, 23, 59), subject: 'acme', costUsd: 1, inputTokens: 10 }),
          usageRecord({ ts: at(32, 0, 0), subject: 'acme', costUsd: 2, inputTokens: 20 }), // 1 February 00:00 UTC
          usageRecord({ ts: at(32, 10), subject: 'beta', costUsd: 4, inputTokens: 40, policy: 'other' }),
          usageRecord({ ts: at(33, 10), subject: 'acme', costUsd: 8, inputTokens: 80, responseModel: 'gpt-4o' }),
          usageRecord({ ts: at(33, 10), subject: null, policy: null, costUsd: 16, inputTokens: 160, decision: 'none' }),
          usageRecord({ ts: at(33, 11), subject: 'acme', costUsd: 0, inputTokens: 0, outputTokens: 0, decision: 'limited', rejected: true, status: 429 }),
        ];
        await store.write(recs);
        const january = await q.spend({ from: at(1, 0), to: at(32, 0), groupBy: ['month'] });
        expect(january).toEqual([expect.objectContaining({ month: '2026-01', requests: 1, cost_usd: 1 })]);
        const february = await q.spend({ from: at(32, 0), to: Date.UTC(2026, 2, 1), groupBy: ['subject'] });
        expect(february.map((r) => [r.subject, r.requests, r.cost_usd])).toEqual([[null, 1, 16], ['acme', 3, 10], ['beta', 1, 4]]);
        expect(february.find((r) => r.subject === 'acme')?.rejected_requests).toBe(1);
        // From 10:30 on 1 February to 10:30 on 2 February: partial days on both ends.
        const partial = await q.spend({ from: at(32, 10, 30), to: at(33, 10, 30), groupBy: [] });
        expect(partial).toEqual([expect.objectContaining({ requests: 2, cost_usd: 24, input_tokens: 240 })]);
        const byDay = await q.spend({ from: at(31, 0), to: at(34, 0), groupBy: ['day', 'policy'], policy: 'team' });
        expect(byDay.map((r) => [r.day, r.policy, r.requests])).toEqual([['2026-01-31', 'team', 1], ['2026-02-01', 'team', 1], ['2026-02-02', 'team', 2]]);
        const models = await q.spend({ from: at(31, 0), to: at(34, 0), groupBy: ['model'], subjects: ['acme'] });
        expect(models.map((r) => [r.model, r.requests])).toEqual([['gpt-4o', 1], ['gpt-4o-mini-2024-07-18', 3]]);
        expect(await q.spend({ from: at(1, 0), to: at(2, 0), groupBy: ['subject'] })).toEqual([]);
      } finally {
        await store.close();
      }
    });

    it('monthly roll-ups: equal to the raw rows across month boundaries, retried batches and late records; whole months read them', async () => {
      const store = await open();
      try {
        const at = (month: number, day: number, h = 0, ms = 0): number => Date.UTC(2026, month, day, h) + ms;
        const lastMs = 3_600_000 - 1;
        const first = [
          usageRecord({ ts: at(0, 31, 23, lastMs), subject: 'acme', costUsd: 1, inputTokens: 1 }), // January's last millisecond
          usageRecord({ ts: at(1, 1), subject: 'acme', costUsd: 2, inputTokens: 2 }), // February's first
          usageRecord({ ts: at(1, 28, 23, lastMs), subject: 'beta', costUsd: 4, inputTokens: 4, rejected: true, decision: 'limited' }),
          usageRecord({ ts: at(2, 1), subject: null, policy: null, costUsd: 8, inputTokens: 8, decision: 'none' }),
        ];
        expect(await store.write(first)).toEqual({ written: 4, duplicates: 0 });
        // The same batch again (a lost reply, a replayed spill) with a late record for January in it: only that one counts.
        const late = usageRecord({ ts: at(0, 2, 3), subject: 'acme', costUsd: 16, inputTokens: 16, responseModel: 'gpt-4o' });
        expect(await store.write([...first, late])).toEqual({ written: 1, duplicates: 4 });
        expect(await store.write([late])).toEqual({ written: 0, duplicates: 1 });
        const norm = (rows: Row[]): unknown[][] => rows.map((r) => [r.month, r.policy, r.subject, r.model, Number(r.requests), Number(r.rejected), Number(r.input_tokens), Number(r.cost_usd)]);
        const fromRaw = await store.all(`SELECT substr(day, 1, 7) AS month, coalesce(policy, '') AS policy, coalesce(subject, '') AS subject, model,
          count(*) AS requests, sum(rejected) AS rejected, sum(input_tokens) AS input_tokens, sum(cost_usd) AS cost_usd
          FROM usage_records GROUP BY substr(day, 1, 7), coalesce(policy, ''), coalesce(subject, ''), model ORDER BY 1, 2, 3, 4`);
        const monthly = await store.all('SELECT month, policy, subject, model, requests, rejected, input_tokens, cost_usd FROM usage_monthly ORDER BY 1, 2, 3, 4');
        expect(norm(monthly)).toEqual(norm(fromRaw));
        expect(norm(monthly).map((r) => r.slice(0, 3).concat(r.slice(4, 5)))).toEqual([
          ['2026-01', 'team', 'acme', 1], ['2026-01', 'team', 'acme', 1], ['2026-02', 'team', 'acme', 1], ['2026-02', 'team', 'beta', 1], ['2026-03', '', '', 1],
        ]);

        // Whole months are read from usage_monthly, and agree with the daily roll-ups and the raw rows.
        const sql: string[] = [];
        const spy: SqlSource = { dialect: store.dialect, all: (text, params) => (sql.push(text), store.all(text, params)) };
        const q = createLedgerQuery(spy);
        const byMonth = await q.spend({ from: at(0, 1), to: at(3, 1), groupBy: ['month', 'subject'] });
        expect(byMonth.map((r) => [r.month, r.subject, r.requests, r.rejected_requests, r.cost_usd])).toEqual([
          ['2026-01', 'acme', 2, 0, 17], ['2026-02', 'acme', 1, 0, 2], ['2026-02', 'beta', 1, 1, 4], ['2026-03', null, 1, 0, 8],
        ]);
        expect(sql.every((s) => /FROM usage_monthly/.test(s))).toBe(true);
        sql.length = 0;
        const byDay = await q.spend({ from: at(0, 1), to: at(3, 1), groupBy: ['day'] });
        expect(sql.some((s) => /usage_monthly/.test(s))).toBe(false);
        expect(byDay.reduce((t, r) => t + r.cost_usd, 0)).toBe(31);
        // February alone, by subject; then month to date (the clock inside March): March's roll-up, no raw rows.
        expect((await q.spend({ from: at(1, 1), to: at(2, 1), groupBy: ['subject'] })).map((r) => [r.subject, r.cost_usd])).toEqual([['beta', 4], ['acme', 2]]);
        sql.length = 0;
        const mtd = await q.spend({ from: at(2, 1), to: at(2, 1, 12), now: at(2, 1, 12), groupBy: [] });
        expect(mtd).toEqual([expect.objectContaining({ requests: 1, cost_usd: 8 })]);
        expect(sql).toEqual([expect.stringMatching(/FROM usage_monthly/)]);
        // Partial days at both ends, February whole in between: raw rows + monthly roll-up + raw rows.
        sql.length = 0;
        const span = await q.spend({ from: at(0, 31, 12), to: at(2, 1, 0, 1), groupBy: [] });
        expect(span).toEqual([expect.objectContaining({ requests: 4, cost_usd: 15, input_tokens: 15 })]);
        expect(sql.map((s) => /FROM (\w+)/.exec(s)?.[1])).toEqual(['usage_records', 'usage_monthly', 'usage_records']);
      } finally {
        await store.close();
      }
    });

    it('requests: a subject\'s raw records, newest first, paged by cursor, every column', async () => {
      const store = await open();
      try {
        const q = createLedgerQuery(store);
        const recs = Array.from({ length: 25 }, (_, i) => usageRecord({ ts: Date.UTC(2026, 0, 10, 0, i), subject: i % 5 === 0 ? 'other' : 'acme', tier: i === 1 ? 'gold' : null }));
        await store.write(recs);
        const seen: string[] = [];
        let cursor: string | undefined;
        for (let page = 0; page < 10; page++) {
          const res = await q.requests({ subjects: ['acme'], limit: 7, ...(cursor ? { cursor } : {}) });
          seen.push(...res.records.map((r) => String(r.request_id)));
          if (!res.next) break;
          cursor = res.next;
        }
        const want = recs.filter((r) => r.subject === 'acme').sort((a, b) => b.ts - a.ts).map((r) => r.requestId);
        expect(seen).toEqual(want);
        const [first] = (await q.requests({ subjects: ['acme'], limit: 1, from: Date.UTC(2026, 0, 10, 0, 1), to: Date.UTC(2026, 0, 10, 0, 2) })).records;
        const r1 = recs[1] as UsageRecord;
        expect(first).toEqual({
          id: r1.id, request_id: r1.requestId, time: '2026-01-10T00:01:00.000Z', policy: 'team', limit: null, tier: 'gold', override: null,
          subject: 'acme', provider: 'openai', endpoint: 'openai.chat', request_model: 'gpt-4o-mini', response_model: 'gpt-4o-mini-2024-07-18',
          model: 'gpt-4o-mini-2024-07-18', input_tokens: 100, cached_input_tokens: 20, cache_write_tokens: 0, output_tokens: 50, reasoning_tokens: 0,
          usage_source: 'provider', cost_usd: 0.0001, price_version: 'builtin-2025-11-15', decision: 'allowed', rejected: false, status: 200, stream: true, duration_ms: 12.5,
        });
      } finally {
        await store.close();
      }
    });

    it('retention prunes raw rows and keeps the roll-ups', async () => {
      const store = await open();
      try {
        const q = createLedgerQuery(store);
        await store.write([usageRecord({ ts: Date.UTC(2025, 10, 3), costUsd: 3 }), usageRecord({ ts: Date.UTC(2026, 0, 3), costUsd: 5 })]);
        expect(await store.prune(Date.UTC(2025, 11, 1))).toBeGreaterThanOrEqual(0);
        const raw = await store.all('SELECT count(*) AS n FROM usage_records');
        expect(Number(raw[0]?.n)).toBe(1);
        const all = await q.spend({ from: Date.UTC(2025, 0, 1), to: Date.UTC(2026, 1, 1), groupBy: ['month'] });
        expect(all.map((r) => [r.month, r.cost_usd])).toEqual([['2025-11', 3], ['2026-01', 5]]);
      } finally {
        await store.close();
      }
    });
  });
}
