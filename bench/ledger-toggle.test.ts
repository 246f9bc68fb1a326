import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.js';
import { createEnvoyClient, runExchange } from '../test/envoy/emulator.js';
import type { ExternalProcessorClient } from '../src/gen/envoy/service/ext_proc/v3/ExternalProcessor.js';
import { chatExchange } from './extproc-load.js';
import { startLedgerToggle, type LedgerToggleServer } from './ledger-toggle.js';

type Db = { prepare(sql: string): { get(): { n: number } }; close(): void };
const Sqlite = createRequire(import.meta.url)('better-sqlite3') as new (file: string, o: { readonly: boolean }) => Db;

const dir = mkdtempSync(join(tmpdir(), 'tm-ledger-toggle-'));
let server: LedgerToggleServer;
let client: ExternalProcessorClient;
const ex = chatExchange(512, 5);

/** Rows in the ledger's SQLite file now. */
function rows(): number {
  const db = new Sqlite(join(dir, 'ledger.sqlite'), { readonly: true });
  try {
    return db.prepare('SELECT count(*) AS n FROM usage_records').get().n;
  } finally {
    db.close();
  }
}

async function send(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await runExchange(client, ex, { messageTimeoutMs: 10_000 });
    expect(res.immediate).toBeUndefined();
  }
}

/** Waits until the ledger holds `n` rows (the flush interval is 50 ms), or 5 s. */
async function rowsReach(n: number): Promise<number> {
  for (let t = 0; t < 100 && rows() < n; t++) await new Promise((r) => setTimeout(r, 50));
  return rows();
}

beforeAll(async () => {
  const { config } = loadConfig(['extproc', '--grpc-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--log-level', 'silent',
    '--data-dir', dir, '--ledger-flush-interval', '0.05'], {});
  server = await startLedgerToggle(config);
  client = createEnvoyClient(`127.0.0.1:${server.port}`);
});

afterAll(async () => {
  client.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the ledger toggle server (crossover bench)', () => {
  it('writes a record per request with the ledger on, none with it off, and again when switched back on', async () => {
    await send(3);
    expect(await rowsReach(3)).toBe(3);
    server.setLedger(false);
    await send(4);
    await new Promise((r) => setTimeout(r, 500)); // ten flush intervals
    expect(rows()).toBe(3);
    server.setLedger(true);
    await send(2);
    expect(await rowsReach(5)).toBe(5);
  });
});
