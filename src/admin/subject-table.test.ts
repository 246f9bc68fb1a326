import { describe, expect, it } from 'vitest';
import type { BudgetRow } from './budget-list.js';
import { groupBySubject, tableCsvColumns, tableCsvRecord, tablePage, type TableQuery } from './subject-table.js';
import { parsePolicies } from '../policy/parse.js';
import { hashKey } from '../policy/subject.js';
import type { PolicyWithPlans } from '../policy/describe.js';
import type { TokenPolicy } from '../policy/types.js';

const [policy] = parsePolicies(`apiVersion: tokenmeter.dev/v1alpha1
kind: TokenPolicy
metadata: {name: team}
spec:
  subject: {from: Header, name: x-tenant-id}
  limits:
  - {name: daily, tokens: 1000, window: Day}
  - {name: per-model, tokens: 100, window: 1h, perModel: true}
`).policies as [TokenPolicy];

const row = (limit: string, subject: string, used: number, budget: number, model?: string): BudgetRow => ({
  limit, window: limit === 'daily' ? 'Day' : '1h', unit: 'tokens', subject, used, budget, remaining: Math.max(0, budget - used), share: used / budget,
  reset_at: '2026-02-11T00:00:00.000Z', ...(model ? { model } : {}),
});

const ROWS = [
  row('daily', 'acme', 900, 1000), row('per-model', 'acme', 10, 100, 'gpt-4o'), row('per-model', 'acme', 50, 100, 'gpt-4o-mini'),
  row('daily', 'beta', 1200, 1000), row('daily', 'gamma', 100, 1000), row('per-model', 'gamma', 95, 100, 'gpt-4o'),
  row('daily', hashKey('sk-secret'), 10, 1000),
];
const q = (over: Partial<TableQuery> = {}): TableQuery => ({ sort: { by: 'share' }, order: 'desc', offset: 0, pageSize: 50, ...over });

describe('the policy page table', () => {
  const all = groupBySubject(policy, ROWS);

  it('one row per subject, a cell per limit; a perModel cell is its model closest to the budget', () => {
    const acme = all.find((r) => r.subject === 'acme');
    expect(acme).toMatchObject({ max_share: 0.9, limits: { daily: { used: 900, budget: 1000, share: 0.9 }, 'per-model': { used: 50, model: 'gpt-4o-mini', share: 0.5 } } });
    expect(all.find((r) => r.subject === 'beta')).toMatchObject({ max_share: 1.2, limits: { daily: { remaining: 0 } } });
  });

  it('sorted by the highest share (default), by subject, or by one limit; either order; ties by subject', () => {
    expect(tablePage(all, q()).rows.map((r) => r.subject)).toEqual(['beta', 'gamma', 'acme', hashKey('sk-secret')]);
    expect(tablePage(all, q({ sort: { by: 'subject' }, order: 'asc' })).rows.map((r) => r.subject)).toEqual([hashKey('sk-secret'), 'acme', 'beta', 'gamma']);
    expect(tablePage(all, q({ sort: { by: 'limit', limit: 'per-model' } })).rows.map((r) => r.subject)).toEqual(['gamma', 'acme', hashKey('sk-secret'), 'beta']);
    expect(tablePage(all, q({ sort: { by: 'limit', limit: 'daily' }, order: 'asc' })).rows.map((r) => r.subject)).toEqual([hashKey('sk-secret'), 'gamma', 'acme', 'beta']);
  });

  it('search: a part of the subject (any case), or the key a hashed subject was made from', () => {
    expect(tablePage(all, q({ search: 'AM' })).rows.map((r) => r.subject)).toEqual(['gamma']);
    expect(tablePage(all, q({ search: 'M' })).rows.map((r) => r.subject)).toEqual(['gamma', 'acme']);
    expect(tablePage(all, q({ search: 'sk-secret' })).rows.map((r) => r.subject)).toEqual([hashKey('sk-secret')]);
    expect(tablePage(all, q({ search: 'nobody' }))).toMatchObject({ total: 0, rows: [], next_offset: null });
  });

  it('pages: offset, page size and the next offset', () => {
    expect(tablePage(all, q({ pageSize: 2 }))).toMatchObject({ total: 4, offset: 0, next_offset: 2 });
    expect(tablePage(all, q({ pageSize: 2, offset: 2 })).rows.map((r) => r.subject)).toEqual(['acme', hashKey('sk-secret')]);
    expect(tablePage(all, q({ pageSize: 2, offset: 2 })).next_offset).toBeNull();
  });

  it("an override's budget replaces the policy's for its subject (when the policy has overrides)", () => {
    const withOverride: PolicyWithPlans = { ...policy, overrides: [{ subject: 'beta', exempt: false, limits: [{ ...(policy.limits[0] as TokenPolicy['limits'][0]), tokens: 2400 } as TokenPolicy['limits'][0]] }] };
    const beta = groupBySubject(withOverride, ROWS).find((r) => r.subject === 'beta');
    expect(beta).toMatchObject({ max_share: 0.5, limits: { daily: { used: 1200, budget: 2400, share: 0.5, remaining: 1200 } } });
  });

  it('CSV columns per limit, the model of perModel cells', () => {
    const cols = tableCsvColumns([{ name: 'daily', per_model: false }, { name: 'per-model', per_model: true }]);
    expect(cols).toEqual(['subject', 'max_share', 'daily_used', 'daily_budget', 'daily_share', 'daily_reset_at', 'per-model_used', 'per-model_budget', 'per-model_share', 'per-model_reset_at', 'per-model_model']);
    expect(tableCsvRecord(all.find((r) => r.subject === 'acme') as (typeof all)[number])).toMatchObject({ subject: 'acme', daily_used: 900, 'per-model_model': 'gpt-4o-mini' });
  });
});
