/**
 * Counter identity: one counter per policy, limit, subject (already a bounded, hashed-if-needed key), model (perModel
 * limits only) and window. The window id is part of the key, so a new window always starts from zero.
 */
import { modelKey } from '../policy/subject.js';
import { policyKey, type Limit, type TokenPolicy } from '../policy/types.js';

export function counterKey(policy: TokenPolicy, limit: Limit, subjectKey: string, model: string | undefined, windowId: string): string {
  const m = limit.perModel ? `|${modelKey(model)}` : '';
  return `${policyKey(policy)}|${limit.name}|${subjectKey}${m}|${windowId}`;
}
