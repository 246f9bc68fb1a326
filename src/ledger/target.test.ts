import { describe, expect, it } from 'vitest';
import { describeTarget, ledgerTarget } from './target.js';

describe('ledgerTarget', () => {
  it('defaults to SQLite in the data directory, relative to the working directory', () => {
    expect(ledgerTarget({ ledgerUrl: '', dataDir: 'data' }, '/srv/tm')).toEqual({ kind: 'sqlite', file: '/srv/tm/data/ledger.sqlite' });
    expect(ledgerTarget({ ledgerUrl: '', dataDir: '/var/lib/tokenmeter' }, '/srv')).toEqual({ kind: 'sqlite', file: '/var/lib/tokenmeter/ledger.sqlite' });
  });
  it('reads sqlite:PATH, sqlite:///ABS, postgres:// and none', () => {
    expect(ledgerTarget({ ledgerUrl: 'sqlite:x/l.db', dataDir: 'd' }, '/w')).toEqual({ kind: 'sqlite', file: '/w/x/l.db' });
    expect(ledgerTarget({ ledgerUrl: 'sqlite:///tmp/l.db', dataDir: 'd' }, '/w')).toEqual({ kind: 'sqlite', file: '/tmp/l.db' });
    expect(ledgerTarget({ ledgerUrl: 'postgresql://u:p@h/db', dataDir: 'd' })).toEqual({ kind: 'postgres', url: 'postgresql://u:p@h/db' });
    expect(ledgerTarget({ ledgerUrl: 'none', dataDir: 'd' })).toEqual({ kind: 'none' });
  });
  it('never shows the password', () => {
    expect(describeTarget({ kind: 'postgres', url: 'postgres://tm:s3cret@db:5432/ledger?sslmode=require' })).toBe('postgres://tm:***@db:5432/ledger?sslmode=require');
    expect(describeTarget({ kind: 'postgres', url: 'postgres://db/ledger' })).toBe('postgres://db/ledger');
  });
});
