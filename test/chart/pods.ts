/** Typed views of the rendered workloads, for the chart tests. */
import type { KubeObject } from '../helpers/schemas.js';
import { one } from '../helpers/helm.js';

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
}

export interface Probe {
  grpc?: { port: number; service?: string };
  httpGet?: { path: string; port: number | string };
  tcpSocket?: { port: number | string };
  exec?: { command: string[] };
}

export interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: EnvVar[];
  ports?: { name: string; containerPort: number }[];
  securityContext?: Record<string, unknown>;
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: Record<string, unknown>;
  serviceAccountName?: string;
  terminationGracePeriodSeconds?: number;
  topologySpreadConstraints?: { topologyKey: string; labelSelector?: unknown }[];
  volumes?: { name: string; emptyDir?: object; configMap?: { name: string } }[];
}

export interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function meta(o: KubeObject): Meta {
  return o.metadata as Meta;
}

export function podSpec(deployment: KubeObject): PodSpec {
  return (deployment.spec as { template: { spec: PodSpec } }).template.spec;
}

/** The one container of a Deployment of the release. */
export function containerOf(objects: readonly KubeObject[], deployment: string): Container {
  const spec = podSpec(one(objects, 'Deployment', deployment));
  if (spec.containers.length !== 1) throw new Error(`${deployment}: expected one container`);
  return spec.containers[0] as Container;
}

/** --flag value pairs of a command line after the subcommand (every flag takes a value). */
export function flagValues(args: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 1; i < args.length; i += 2) out.set(String(args[i]).replace(/^--/, ''), String(args[i + 1]));
  return out;
}

export const EXTPROC = 'tokenmeter';
export const OPERATOR = 'tokenmeter-operator';
export const NAMESPACE = 'tokenmeter-system';
