/**
 * `tokenmeter console` on Kubernetes reads the PostgreSQL ledger the ext_proc replicas write, without running their
 * migrations: the read-only reader (src/ledger/reader.ts) answers the console's queries like the writing store does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLedgerQuery } from '../../src/ledger/query.js';
import { PostgresLedger } from '../../src/ledger/postgres.js';
import { openLedgerReader, type LedgerReader } from '../../src/ledger/reader.js';
import { createLogger } from '../../src/log/logger.js';
import { usageRecord } from '../helpers/ledger-contract.js';
import { skipWithoutPostgres, startPostgresServer, type PostgresServer } from '../helpers/postgres-server.js';

const skip = skipWithoutPostgres();
const logger = createLogger('silent');
const NOW = Date.UTC(2026, 1, 10, 12);

describe.skipIf(skip)('the console reading a PostgreSQL ledger', () => {
  let server: PostgresServer;
  let writer: PostgresLedger;
  let reader: LedgerReader;
  beforeAll(async () => {
    server = await startPostgresServer();
    writer = new PostgresLedger({ url: server.url, poolSize: 2, logger, now: () => NOW });
    await writer.open();
    await writer.write([
      usageRecord({ ts: NOW - 60_000, policy: 'llm/team', subject: 'acme', inputTokens: 100 }),
      usageRecord({ ts: NOW - 30_000, policy: 'llm/team', subject: 'acme', inputTokens: 50, decision: 'limited', rejected: true, status: 429, limit: 'daily', costUsd: 0 }),
      usageRecord({ ts: NOW - 86_400_000, policy: 'llm/team', subject: 'beta', inputTokens: 7 }),
    ]);
    reader = openLedgerReader({ kind: 'postgres', url: server.url }, { poolSize: 1, logger }) as LedgerReader;
  }, 60_000);
  afterAll(async () => {
    await reader?.close();
    await writer?.close();
    await server?.stop();
  });

  it('spend, buckets, refusals and the change mark through the reader equal the writer\'s', async () => {
    const [w, r] = [createLedgerQuery(writer), createLedgerQuery(reader)];
    const spend = { from: NOW - 2 * 86_400_000, to: NOW + 1, now: NOW, groupBy: ['subject', 'day'] as const };
    expect(await r.spend({ ...spend, groupBy: [...spend.groupBy] })).toEqual(await w.spend({ ...spend, groupBy: [...spend.groupBy] }));
    const buckets = await r.buckets({ from: NOW - 3_600_000, to: NOW + 1, bucketMs: 60_000, policy: 'llm/team' });
    // 11:59:00 and 11:59:30 share the 11:59 minute.
    expect(buckets.map((b) => [b.start, b.requests, b.rejected_requests, b.input_tokens])).toEqual([[NOW - 60_000, 2, 1, 150]]);
    expect(await r.refusals({ from: NOW - 3_600_000, to: NOW + 1 })).toEqual([{ policy: 'llm/team', limit: 'daily', decision: 'limited', status: 429, requests: 1, subjects: 1 }]);
    expect(await r.changeMark(NOW)).toBe(await w.changeMark(NOW));
    expect(reader.description).toBe(`postgres://postgres@127.0.0.1:${server.port}/postgres`);
  });
});
