/**
 * Events on TokenPolicies (events.k8s.io/v1 through KubeClient.createEvent). Recording is best effort: a failure is
 * logged by the caller and never fails a reconcile.
 */
import type { EventRecord, KubeClient, KubeObject } from '../k8s/client.js';

export const REPORTING_CONTROLLER = 'tokenmeter.dev/operator';

export interface EventRecorder {
  record(regarding: KubeObject, type: EventRecord['type'], reason: string, note: string): Promise<void>;
}

/** Events written through `client`, reported by `instance` (the pod name). */
export function kubeEventRecorder(client: KubeClient, instance: string): EventRecorder {
  return {
    record(regarding: KubeObject, type: EventRecord['type'], reason: string, note: string): Promise<void> {
      const { name, namespace, uid, resourceVersion } = regarding.metadata;
      return client.createEvent({
        regarding: {
          apiVersion: regarding.apiVersion, kind: regarding.kind, name,
          ...(namespace === undefined ? {} : { namespace }),
          ...(uid === undefined ? {} : { uid }),
          ...(resourceVersion === undefined ? {} : { resourceVersion }),
        },
        type,
        reason,
        action: 'Reconcile',
        note: note.length <= 1024 ? note : `${note.slice(0, 1023)}…`,
        reportingController: REPORTING_CONTROLLER,
        reportingInstance: instance,
      });
    },
  };
}
