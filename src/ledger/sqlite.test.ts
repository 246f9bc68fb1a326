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
