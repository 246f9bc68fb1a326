/**
 * TokenPolicy `status`, written by the operator through the status subresource: the standard metav1.Condition list
 * (Accepted, Programmed, Ready), the generation they describe and the limits version the data plane loaded.
 */
import type { JSONSchemaProps } from './openapi.js';

/** metav1.Condition, with the bounds and patterns of the upstream type (k8s.io/apimachinery). */
export const CONDITION_SCHEMA: JSONSchemaProps = {
  description: 'One aspect of the policy\'s state (metav1.Condition).',
  type: 'object',
  required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
  properties: {
    type: {
      description: 'Condition type: Accepted (spec valid, targets resolved), Programmed (Envoy objects applied and the ' +
        'data plane loaded this generation) or Ready (both).',
      type: 'string', maxLength: 316,
      pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
    },
    status: { description: 'True, False or Unknown.', type: 'string', enum: ['True', 'False', 'Unknown'] },
    observedGeneration: {
      description: 'The metadata.generation this condition was set for; older than the policy\'s generation means stale.',
      type: 'integer', format: 'int64', minimum: 0,
    },
    lastTransitionTime: {
      description: 'When the status last changed (kept when the condition is rewritten unchanged).',
      type: 'string', format: 'date-time',
    },
    reason: {
      description: 'Why, in one CamelCase word (e.g. Accepted, InvalidSpec, TargetNotFound, Programmed).',
      type: 'string', minLength: 1, maxLength: 1024, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
    },
    message: { description: 'Details for humans; may be empty.', type: 'string', maxLength: 32768 },
  },
};

export const STATUS_SCHEMA: JSONSchemaProps = {
  description: 'What the operator and the data plane made of the policy. Written by the operator only.',
  type: 'object',
  properties: {
    observedGeneration: {
      description: 'The metadata.generation the operator last reconciled.',
      type: 'integer', format: 'int64', minimum: 0,
    },
    loadedVersion: {
      description: 'Version of the compiled limits the ext_proc replicas report as loaded (also in the Programmed ' +
        'condition and the ext_proc metrics).',
      type: 'string', maxLength: 128,
    },
    conditions: {
      description: 'Accepted, Programmed and Ready, one entry each.',
      type: 'array', maxItems: 8,
      'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'],
      items: CONDITION_SCHEMA,
    },
    limitCount: {
      description: 'How many limits spec.limits held at observedGeneration (the LIMITS column of kubectl get).',
      type: 'integer', format: 'int32', minimum: 0,
    },
    targetCount: {
      description: 'How many targetRefs the spec held at observedGeneration (the TARGETS column of kubectl get -o wide).',
      type: 'integer', format: 'int32', minimum: 0,
    },
  },
};
