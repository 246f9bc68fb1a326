import { describe, expect, it } from 'vitest';
import { usageRecord } from '../../test/helpers/ledger-contract.js';
import { parseRecordLine, recordLine } from './record-line.js';

describe('record lines (journal and spill files)', () => {
  it('round-trips every field, nulls and text that needs escaping included', () => {
    const odd = usageRecord({ subject: 'a "quoted"\nline\u0000', requestId: '', policy: null, limit: 'daily', tier: 'pro', override: 'acme', status: null, costUsd: 1.5e-7, rejected: true, stream: false });
    for (const r of [usageRecord(), odd]) {
      const line = recordLine(r);
      expect(line).not.toContain('\n');
      expect(parseRecordLine(line)).toEqual(r);
    }
  });

  it('is about half the bytes of the record as a JSON object', () => {
    const r = usageRecord();
    expect(recordLine(r).length).toBeLessThan(JSON.stringify(r).length * 0.6);
  });

  it('reads lines written as JSON objects (spill files of earlier versions)', () => {
    const r = usageRecord();
    expect(parseRecordLine(JSON.stringify(r))).toEqual(r);
  });

  it('refuses torn, foreign and other-format lines', () => {
    const line = recordLine(usageRecord());
    for (const bad of [line.slice(0, 40), '', 'null', '42', '"x"', '{"id":1,"ts":2}', line.replace('"u1"', '"u9"'), JSON.stringify(['u1', 'id-only'])]) {
      expect(parseRecordLine(bad)).toBeUndefined();
    }
  });
});
