/**
 * Building google.protobuf.Struct values as @grpc/proto-loader expects them ({fields: {k: {numberValue: 1}}}), for
 * the io.tokenmeter dynamic metadata namespace.
 */
import type { Struct } from '../gen/google/protobuf/Struct.js';
import type { Value } from '../gen/google/protobuf/Value.js';

export const METADATA_NAMESPACE = 'io.tokenmeter';

export type FlatFields = Readonly<Record<string, string | number | boolean | undefined>>;

function toValue(v: string | number | boolean): Value {
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  return { stringValue: v };
}

export function toStruct(fields: FlatFields): Struct {
  const out: Record<string, Value> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = toValue(v);
  return { fields: out };
}

/** The dynamic_metadata Struct: one namespace holding the given fields. */
export function namespacedMetadata(fields: FlatFields, namespace = METADATA_NAMESPACE): Struct {
  return { fields: { [namespace]: { structValue: toStruct(fields) } } };
}
