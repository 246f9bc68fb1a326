/**
 * The TokenPolicy CustomResourceDefinition (tokenpolicies.tokenmeter.dev), built from the spec schema the data plane
 * validates with (`src/policy/schema.ts`), the CEL rules of `rules.ts` and the status of `status.ts`. Pure: `npm run
 * gen` writes `crdYaml()` to CRD_FILE, and `npm run gen:check` (part of `npm test`) fails when that file is stale.
 */
import { stringify } from 'yaml';
import { SPEC_SCHEMA } from '../policy/schema.js';
import { KIND } from '../policy/parse.js';
import { toOpenApi, type JSONSchemaProps } from './openapi.js';
import { SPEC_EXTRAS } from './rules.js';
import { STATUS_SCHEMA } from './status.js';

export const GROUP = 'tokenmeter.dev';
export const VERSION = 'v1alpha1';
export const PLURAL = 'tokenpolicies';
export const CRD_NAME = `${PLURAL}.${GROUP}`;
/** Where `npm run gen` writes the CRD, relative to the repository root. */
export const CRD_FILE = `crds/${GROUP}_${PLURAL}.yaml`;

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  priority?: number;
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames: string[]; categories: string[] };
    scope: 'Namespaced' | 'Cluster';
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: PrinterColumn[];
      schema: { openAPIV3Schema: JSONSchemaProps };
    }[];
  };
}

const READY = '.status.conditions[?(@.type=="Ready")]';

/**
 * `kubectl get tpol`: NAME READY MODE LIMITS AGE; `-o wide` adds the subject, the targets and Ready's reason. Every
 * column selects one value: the apiserver's table printer shows only the first result of a `[*]` path, so the
 * counts of limits and targets come from status fields the operator writes (a column cannot count).
 */
export const PRINTER_COLUMNS: PrinterColumn[] = [
  { name: 'Ready', type: 'string', jsonPath: `${READY}.status`, description: 'Accepted, programmed into Envoy and loaded by the data plane.' },
  { name: 'Mode', type: 'string', jsonPath: '.spec.enforcement.mode', description: 'Enforce or DryRun.' },
  { name: 'Limits', type: 'integer', jsonPath: '.status.limitCount', description: 'How many budgets the policy defines (as of status.observedGeneration).' },
  { name: 'Subject', type: 'string', jsonPath: '.spec.subject.from', description: 'Where the counter key comes from.', priority: 1 },
  { name: 'Targets', type: 'integer', jsonPath: '.status.targetCount', description: 'How many Gateways and routes it names in targetRefs (as of status.observedGeneration).', priority: 1 },
  { name: 'Reason', type: 'string', jsonPath: `${READY}.reason`, description: 'Why it is (not) ready.', priority: 1 },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Time since creation.' },
];

/** The whole object's schema: the standard top-level fields, the converted spec and the status. */
export function openApiSchema(): JSONSchemaProps {
  return {
    description: 'TokenPolicy: token and cost budgets for LLM traffic through Envoy, enforced by the tokenmeter ' +
      'ext_proc and attached to Gateway API Gateways and routes.',
    type: 'object',
    required: ['spec'],
    properties: {
      apiVersion: {
        description: 'APIVersion defines the versioned schema of this representation of an object. Servers should ' +
          'convert recognized schemas to the latest internal value, and may reject unrecognized values.',
        type: 'string',
      },
      kind: {
        description: 'Kind is a string value representing the REST resource this object represents. Servers may infer ' +
          'this from the endpoint the client submits requests to. In CamelCase.',
        type: 'string',
      },
      // Only `type: object`: the apiserver refuses anything but name/generateName restrictions on the root metadata,
      // a description included (structural schema rule, see test/helpers/crd-structural.ts).
      metadata: { type: 'object' },
      spec: toOpenApi(SPEC_SCHEMA, SPEC_EXTRAS),
      status: STATUS_SCHEMA,
    },
  };
}

export function tokenPolicyCrd(): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: CRD_NAME,
      labels: {
        'app.kubernetes.io/name': 'tokenmeter',
        'app.kubernetes.io/part-of': 'tokenmeter',
        // Gateway API policy attachment (GEP-713): a Direct policy, it applies to exactly the objects it targets.
        'gateway.networking.k8s.io/policy': 'Direct',
      },
    },
    spec: {
      group: GROUP,
      names: {
        kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: KIND.toLowerCase(),
        shortNames: ['tpol'], categories: ['tokenmeter'],
      },
      scope: 'Namespaced',
      versions: [{
        name: VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: PRINTER_COLUMNS,
        schema: { openAPIV3Schema: openApiSchema() },
      }],
    },
  };
}

const HEADER = [
  '# Generated by `npm run gen` from src/policy/schema.ts (the TokenPolicy spec) and src/crd/. Do not edit:',
  '# change the schema or the rules and run `npm run gen` (`npm test` fails when this file is stale).',
];

/** The CRD as the YAML file `npm run gen` writes. */
export function crdYaml(): string {
  return `${HEADER.join('\n')}\n${stringify(tokenPolicyCrd(), { lineWidth: 0 })}`;
}

/** Every file the CRD generator owns: repository-relative path → content. */
export function generatedCrdFiles(): Map<string, string> {
  return new Map([[CRD_FILE, crdYaml()]]);
}
