/**
 * Usage record ids: UUID version 7 (RFC 9562) — 48 bits of Unix milliseconds, then random bits — so ids sort by
 * time and PostgreSQL's primary-key index grows at its right edge instead of being written all over.
 *
 * The random bits come from crypto.randomUUID() (a version 4 UUID: 122 random bits from Node's batched CSPRNG
 * buffer): its first 48 bits and its version digit are replaced by the time and 7; its variant bits are already
 * RFC 9562's. One id costs well under a microsecond, where a randomBytes(16) call per id cost several (README
 * "Spend ledger", bench).
 */
import { randomUUID } from 'node:crypto';

const MAX_MS = 2 ** 48;

export function uuidv7(nowMs: number = Date.now()): string {
  const ms = Math.max(0, Math.floor(nowMs)) % MAX_MS;
  const t = ms.toString(16).padStart(12, '0');
  // randomUUID(): xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx; from position 15 on: rand_a (12 bits), variant + rand_b.
  return `${t.slice(0, 8)}-${t.slice(8)}-7${randomUUID().slice(15)}`;
}
