import { describe, expect, it } from 'vitest';
import { schemaErrors } from './schemas.js';

describe('schema validation helper', () => {
  it('accepts a valid ServiceMonitor and rejects a bad one', () => {
    const sm = { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 'x' }, spec: { selector: {}, endpoints: [{ port: 'admin', interval: '30s' }] } };
    expect(schemaErrors(sm)).toEqual([]);
    expect(schemaErrors({ ...sm, spec: { ...sm.spec, endpoints: [{ port: 'admin', interval: 'often' }] } }).length).toBeGreaterThan(0);
  });
  it('is strict for core kinds', () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { a: 'b' } };
    expect(schemaErrors(cm)).toEqual([]);
    expect(schemaErrors({ ...cm, bogus: 1 }).length).toBeGreaterThan(0);
  });
  it('refuses kinds it has no schema for', () => {
    expect(() => schemaErrors({ apiVersion: 'example.com/v1', kind: 'Widget' })).toThrow(/no schema/);
  });
});
