/**
 * The version of the price data a usage record's cost was computed with (the @pydantic/genai-prices release), one
 * function so the ledger never spells it out itself.
 */
import { priceDataVersion } from '../prices/catalogue.js';

export function priceVersion(): string {
  return priceDataVersion();
}
