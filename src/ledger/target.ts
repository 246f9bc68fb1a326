/**
 * Which ledger store a configuration names: `--ledger-url` (postgres://…, sqlite:PATH, none) or, when empty, the
 * embedded SQLite file in `--data-dir`. Also the form of a URL that is safe to log (no password).
 */
import { isAbsolute, join, resolve } from 'node:path';

export type LedgerTarget = { kind: 'none' } | { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

export function ledgerTarget(cfg: { ledgerUrl: string; dataDir: string }, cwd: string = process.cwd()): LedgerTarget {
  const url = cfg.ledgerUrl.trim();
  if (url === 'none') return { kind: 'none' };
  if (/^postgres(ql)?:\/\//.test(url)) return { kind: 'postgres', url };
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    return { kind: 'sqlite', file: isAbsolute(path) ? path : resolve(cwd, path) };
  }
  return { kind: 'sqlite', file: resolve(cwd, join(cfg.dataDir, 'ledger.sqlite')) };
}

/** The target for log lines: the PostgreSQL URL without its password. */
export function describeTarget(t: LedgerTarget): string {
  if (t.kind === 'none') return 'none';
  if (t.kind === 'sqlite') return `sqlite:${t.file}`;
  return t.url.replace(/^(postgres(?:ql)?:\/\/[^:@/]*):[^@]*@/, '$1:***@');
}
