import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ledgerStoreContract } from '../../test/helpers/ledger-contract.js';
import { SqliteLedger } from './sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'tm-sqlite-'));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

ledgerStoreContract('SQLite', () => SqliteLedger.open(join(dir, `l${++n}`, 'ledger.sqlite')));

describe('SQLite schema', () => {
  it('creates the directory and file, is versioned, and reopens without migrating again', async () => {
    const file = join(dir, 'nested', 'deeper', 'ledger.sqlite');
    const a = await SqliteLedger.open(file);
    expect(await a.version()).toBe(1);
    await a.close();
    const b = await SqliteLedger.open(file);
    expect(await b.version()).toBe(1);
    await b.close();
  });
});

describe('splitRange', () => {
  it('whole days from roll-ups, partial days from raw rows; a range reaching now takes today from its roll-up', async () => {
    const { splitRange } = await import('./query.js');
    const d = (day: number, h = 0): number => Date.UTC(2026, 0, day, h);
    expect(splitRange(d(1), d(3))).toEqual([{ table: 'usage_daily', where: 'day >= ? AND day < ?', params: ['2026-01-01', '2026-01-03'] }]);
    expect(splitRange(d(1, 6), d(3, 6)).map((r) => [r.table, ...r.params])).toEqual([
      ['usage_records', d(1, 6), d(2)], ['usage_daily', '2026-01-02', '2026-01-03'], ['usage_records', d(3), d(3, 6)],
    ]);
    expect(splitRange(d(1), d(3, 6), d(3, 6)).map((r) => [r.table, ...r.params])).toEqual([['usage_daily', '2026-01-01', '2026-01-04']]);
    expect(splitRange(d(3, 1), d(3, 2))).toEqual([{ table: 'usage_records', where: 'ts >= ? AND ts < ?', params: [d(3, 1), d(3, 2)] }]);
  });
});
