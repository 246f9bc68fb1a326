/**
 * The kube-apiserver's audit log (JSON lines, audit.k8s.io/v1 Events at Metadata level): who called what, with which
 * User-Agent, and what the server answered. The real-apiserver tier reads it to assert that no request of tokenmeter
 * was refused (403) and that every one names tokenmeter in its User-Agent.
 */
export interface AuditEvent {
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string; groups?: string[] };
  userAgent?: string;
  objectRef?: { resource?: string; namespace?: string; name?: string; apiGroup?: string; apiVersion?: string; subresource?: string };
  responseStatus?: { code?: number; reason?: string; message?: string };
}

export function parseAudit(text: string): AuditEvent[] {
  const out: AuditEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as AuditEvent);
    } catch {
      // a line being written while we read: the next read gets it whole
    }
  }
  return out.filter((e) => e.stage === 'ResponseComplete' || e.stage === 'Panic');
}

/** `verb resource[/subresource] namespace/name → code`, for readable failure messages. */
export function describeAudit(e: AuditEvent): string {
  const r = e.objectRef;
  const what = r ? `${r.apiGroup ? `${r.apiGroup}/` : ''}${r.resource ?? ''}${r.subresource ? `/${r.subresource}` : ''} ${r.namespace ?? ''}/${r.name ?? ''}` : e.requestURI;
  return `${e.user.username} ${e.verb} ${what} → ${e.responseStatus?.code ?? '?'} (${e.userAgent ?? 'no User-Agent'})`;
}
