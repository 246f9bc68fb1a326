/**
 * The version of the price table a usage record's cost was computed with. One function, so replacing the built-in
 * table (e.g. by a maintained price package) changes only this line.
 */
import { PRICES_AS_OF } from '../policy/prices.js';

export function priceVersion(): string {
  return `builtin-${PRICES_AS_OF}`;
}
