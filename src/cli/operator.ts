/**
 * `tokenmeter operator`: wires the kubeconfig, the KubeClient, the TokenPolicy informer, the reconciler, the
 * controller (work queue + leader election), the operator metrics and the admin endpoint (/healthz, /readyz,
 * /metrics) together. Wiring only; SIGTERM/SIGINT handling is in main.ts.
 */
import { randomBytes } from 'node:crypto';
import { probeRoutes, serveAdmin, type AdminServer } from '../admin/probes.js';
import type { OperatorConfig } from '../config/config.js';
import { kubeClientFor } from '../k8s/client-node.js';
import { Informer } from '../k8s/informer.js';
import { replicaProbe } from '../k8s/replica-probe.js';
import type { Logger } from '../log/logger.js';
import { Controller } from '../operator/controller.js';
import { cachedProbe } from '../operator/data-plane.js';
import { TARGET_KINDS } from '../operator/targets.js';
import { createOperatorMetrics, type OperatorMetrics } from '../operator/metrics.js';
import { Reconciler } from '../operator/reconciler.js';
import { API_VERSION, KIND } from '../policy/parse.js';
import { userAgent } from './version.js';
import type { ObjectRef } from '../k8s/client.js';
import { EG_API_VERSION } from '../render/envoy-gateway.js';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../render/settings.js';

/** The Envoy Gateway objects a TokenPolicy owns, whose status is Envoy Gateway's verdict. */
const GATEWAY_CHILD_KINDS = ['EnvoyExtensionPolicy', 'BackendTrafficPolicy'] as const;

/** How long the replicas' reported versions are reused across reconciles (converging many policies at once). */
const PROBE_CACHE_MS = 300;

export interface RunningOperator {
  controller: Controller;
  admin: AdminServer;
  metrics: OperatorMetrics;
  identity: string;
  stop(): Promise<void>;
}

export interface OperatorOverrides {
  /** Leader election timings (tests); defaults are client-go's 15 s / 10 s / 2 s. */
  lease?: { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number };
  processMetrics?: boolean;
  /** The EndpointSlice API version the data-plane probe lists (tests on Kubernetes 1.20: discovery.k8s.io/v1beta1). */
  endpointSliceApiVersion?: string;
}

export async function runOperator(config: OperatorConfig, logger: Logger, overrides: OperatorOverrides = {}): Promise<RunningOperator> {
  const client = kubeClientFor(config.kubeconfig, { userAgent: userAgent('operator') });
  const { settings } = config;
  const metrics = createOperatorMetrics({ processMetrics: overrides.processMetrics !== false });
  const log = logger.child({ component: 'operator' });
  const informer = new Informer({
    client, resource: { apiVersion: API_VERSION, kind: KIND }, namespaces: config.namespaces,
    onError: (err, context) => log.warn({ err, context }, 'TokenPolicy informer: retrying'),
  });
  // Targets are watched when their CRDs are served at start-up (installed later: the 30 s TargetNotFound retry).
  const targets: Informer[] = [];
  const routeCaches: Informer[] = [];
  for (const resource of TARGET_KINDS) {
    if (!(await client.resourceExists(resource.apiVersion, resource.kind))) continue;
    const target = new Informer({
      client, resource, namespaces: config.namespaces,
      onError: (err, context) => log.warn({ err, context, kind: resource.kind }, 'target informer: retrying'),
    });
    targets.push(target);
    if (resource.kind !== 'Gateway') routeCaches.push(target);
  }
  // The route index is built from the route informers' caches (a route that appears requeues its Gateways' policies).
  const routes = routeCaches.length > 0 ? { routes: () => routeCaches.flatMap((i) => i.list()) } : {};
  // Envoy Gateway's verdict on the policies' own objects: read from informers, a status change requeues the owner.
  const children = new Map<string, Informer>();
  for (const kind of settings.flavour === 'EnvoyGateway' ? GATEWAY_CHILD_KINDS : []) {
    if (!(await client.resourceExists(EG_API_VERSION, kind))) continue;
    children.set(kind, new Informer({
      client, resource: { apiVersion: EG_API_VERSION, kind }, namespaces: config.namespaces, labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}`,
      onError: (err, context) => log.warn({ err, context, kind }, 'gateway policy informer: retrying'),
    }));
  }
  const gatewayObjects = children.size > 0
    ? { gatewayObjects: (ref: ObjectRef) => children.get(ref.kind)?.get(`${ref.namespace ?? ''}/${ref.name}`) } : {};
  const identity = `${config.identity}-${randomBytes(4).toString('hex')}`;
  const { extProc } = settings;
  const dataPlane = cachedProbe(replicaProbe({
    client, namespace: extProc.namespace, service: extProc.name, adminPortName: extProc.adminPortName, adminPort: extProc.adminPort,
    ...(overrides.endpointSliceApiVersion ? { apiVersion: overrides.endpointSliceApiVersion } : {}),
  }), PROBE_CACHE_MS);
  const reconciler = new Reconciler({ client, settings, cache: informer, now: () => new Date(), log, dataPlane, ...routes, ...gatewayObjects });
  const controller = new Controller({
    client, informer, reconciler, metrics, log, resyncMs: config.resyncMs, concurrency: config.concurrentReconciles, targets, children: [...children.values()],
    ...(config.leaderElect ? { leaderElection: { namespace: config.leaseNamespace, name: config.leaseName, identity, ...overrides.lease } } : {}),
  });
  const admin = await serveAdmin(probeRoutes({ registry: metrics.registry, ready: () => controller.ready() }), config.admin.host, config.admin.port);
  controller.start();
  log.info({
    admin: `${config.admin.host}:${admin.port}`, identity, flavour: config.flavour, namespaces: config.namespaces.length ? config.namespaces : 'all',
    limits: `${config.limitsConfigMap.namespace}/${config.limitsConfigMap.name}`, leader_elect: config.leaderElect,
  }, 'tokenmeter operator started');
  let stopping: Promise<void> | undefined;
  return {
    controller, admin, metrics, identity,
    stop: () => {
      stopping ??= (async () => {
        log.info('stopping: finishing reconciles in flight, releasing the Lease');
        await controller.stop();
        await admin.close();
        log.info('stopped');
      })();
      return stopping;
    },
  };
}
