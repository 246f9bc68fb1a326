/**
 * The ServiceMonitor (monitoring.coreos.com/v1) that makes Prometheus Operator scrape the ext_proc's /metrics: it
 * selects the ext_proc Service by its labels, in its namespace, on the admin port by name. Rendered only when the
 * ServiceMonitor CRD exists and `serviceMonitor.enabled` (the caller checks; pure rendering here).
 */
import { sharedMeta, sortedRecord, type RenderedObject } from './meta.js';
import { MANAGED_BY, MANAGED_BY_LABEL, type OperatorSettings } from './settings.js';

export const SERVICE_MONITOR_API_VERSION = 'monitoring.coreos.com/v1';

export interface ServiceMonitorSpec {
  selector: { matchLabels: Record<string, string> };
  namespaceSelector: { matchNames: string[] };
  endpoints: { port: string; path: string; scheme: 'http'; interval: string }[];
}

export type ServiceMonitor = RenderedObject<ServiceMonitorSpec>;

export function renderServiceMonitor(s: OperatorSettings): ServiceMonitor {
  return {
    apiVersion: SERVICE_MONITOR_API_VERSION,
    kind: 'ServiceMonitor',
    metadata: sharedMeta(s.serviceMonitor.name, s.extProc.namespace, s, { ...s.serviceMonitor.labels, [MANAGED_BY_LABEL]: MANAGED_BY }),
    spec: {
      selector: { matchLabels: sortedRecord(s.extProc.labels) },
      namespaceSelector: { matchNames: [s.extProc.namespace] },
      endpoints: [{ port: s.extProc.adminPortName, path: '/metrics', scheme: 'http', interval: s.serviceMonitor.interval }],
    },
  };
}
