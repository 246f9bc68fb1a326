import { describe, expect, it } from 'vitest';
import { formatDataPlaneDoc, parseDataPlaneDoc, type DataPlaneDoc } from './data-plane.js';
import { RENDERED_FILTER } from './filter-facts.js';

const doc: DataPlaneDoc = { filter: RENDERED_FILTER, routes: { routes: { 'HTTPRoute/a/b': ['a/p'] }, ruleNames: {} } };

describe('the data-plane document', () => {
  it('round-trips and is byte-stable', () => {
    expect(parseDataPlaneDoc(formatDataPlaneDoc(doc))).toEqual(doc);
    expect(formatDataPlaneDoc({ routes: doc.routes, filter: { responseBodyMode: 'STREAMED', requestBodyMode: 'NONE', messageTimeoutMs: RENDERED_FILTER.messageTimeoutMs } })).toBe(formatDataPlaneDoc(doc));
  });
  it('refuses what it cannot trust', () => {
    for (const text of [undefined, '', '{', '{}', '{"filter":{},"routes":{"routes":{}}}', JSON.stringify({ ...doc, routes: { routes: [] } })]) {
      expect(parseDataPlaneDoc(text)).toBeUndefined();
    }
  });
});
