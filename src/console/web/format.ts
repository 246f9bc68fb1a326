/** Numbers, money and times as the console shows them (UTC, like the policies' windows). */
import { shortNumber } from '../../policy/describe.js';

/** Token counts: 950, 4,566, 41.1 k, 1.2 M (the same words as the policies' descriptions). */
export function tokens(n: number): string {
  return shortNumber(Math.round(n));
}

export function usd(n: number): string {
  if (n === 0) return '$0';
  if (Math.abs(n) >= 100) return `$${Math.round(n).toLocaleString('en-US')}`;
  if (Math.abs(n) >= 1) return `$${n.toFixed(2)}`;
  if (Math.abs(n) >= 0.01) return `$${n.toFixed(3)}`;
  return `$${n.toPrecision(2)}`;
}

export function amount(unit: 'tokens' | 'usd', n: number): string {
  return unit === 'usd' ? usd(n) : tokens(n);
}

export function percent(share: number): string {
  return `${Math.round(share * 100)} %`;
}

/** "+12 %" / "−5 %" / "new" against a previous value. */
export function change(now: number, before: number): string {
  if (before === 0) return now === 0 ? 'no change' : 'new';
  const p = Math.round(((now - before) / before) * 100);
  return `${p > 0 ? '+' : p < 0 ? '−' : '±'}${Math.abs(p)} %`;
}

/** 2026-02-10 12:03:04 UTC. */
export function time(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

export function clock(iso: string): string {
  return iso.slice(11, 19);
}

/** "in 5 min", "in 3 h", "in 2 days". */
export function until(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((Date.parse(iso) - now) / 1000));
  if (s < 120) return `in ${s} s`;
  if (s < 7200) return `in ${Math.round(s / 60)} min`;
  if (s < 172_800) return `in ${Math.round(s / 3600)} h`;
  return `in ${Math.round(s / 86_400)} days`;
}

const DECISIONS: Record<string, string> = {
  limited: 'over budget', 'subject-missing': 'no subject (header, key or claim missing)', 'store-error': 'counter store down (fail closed)',
  'dry-run-limited': 'would be refused (DryRun)', allowed: 'allowed', none: 'no policy',
};

export function decision(d: string): string {
  return DECISIONS[d] ?? d;
}
