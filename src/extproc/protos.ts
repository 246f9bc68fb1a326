/**
 * Loads the project's proto/ definitions with @grpc/proto-loader (snake_case fields, enums as strings, oneof names,
 * defaults), typed by the generated src/gen typings.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';
import type { ProtoGrpcType as ExtProcProto } from '../gen/external_processor.js';
import type { ProtoGrpcType as HealthProto } from '../gen/health.js';

export const LOADER_OPTIONS: Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

/** The proto/ folder, found upwards from this file (works from src/ under vitest and from dist/src/). */
export function protoDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, 'envoy'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('proto/ directory not found next to the tokenmeter package');
}

export interface LoadedProtos {
  extProc: ExtProcProto;
  health: HealthProto;
}

export function loadProtos(): LoadedProtos {
  const includeDirs = [protoDir()];
  const extProcDef = loadSync('envoy/service/ext_proc/v3/external_processor.proto', { ...LOADER_OPTIONS, includeDirs });
  const healthDef = loadSync('grpc/health/v1/health.proto', { ...LOADER_OPTIONS, includeDirs });
  return {
    extProc: grpc.loadPackageDefinition(extProcDef) as unknown as ExtProcProto,
    health: grpc.loadPackageDefinition(healthDef) as unknown as HealthProto,
  };
}
