/**
 * grpc.health.v1 for Kubernetes gRPC probes: SERVING while accepting work, NOT_SERVING once draining.
 */
import * as grpc from '@grpc/grpc-js';
import type { HealthHandlers } from '../gen/grpc/health/v1/Health.js';
import type { HealthCheckResponse } from '../gen/grpc/health/v1/HealthCheckResponse.js';

export const EXTPROC_SERVICE = 'envoy.service.ext_proc.v3.ExternalProcessor';
type Status = 'SERVING' | 'NOT_SERVING';

export class HealthState {
  private status: Status = 'SERVING';
  private readonly watchers = new Set<grpc.ServerWritableStream<unknown, HealthCheckResponse>>();

  get serving(): boolean {
    return this.status === 'SERVING';
  }

  set(status: Status): void {
    if (status === this.status) return;
    this.status = status;
    for (const w of this.watchers) w.write({ status });
  }

  handlers(): HealthHandlers {
    const known = (service: string): boolean => service === '' || service === EXTPROC_SERVICE;
    return {
      Check: (call, callback) => {
        if (!known(call.request.service)) {
          callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${call.request.service}` });
          return;
        }
        callback(null, { status: this.status });
      },
      Watch: (call) => {
        const stream = call as unknown as grpc.ServerWritableStream<unknown, HealthCheckResponse>;
        stream.write({ status: known(call.request.service) ? this.status : 'SERVICE_UNKNOWN' });
        this.watchers.add(stream);
        call.on('cancelled', () => this.watchers.delete(stream));
      },
    };
  }

  endWatches(): void {
    for (const w of this.watchers) w.end();
    this.watchers.clear();
  }
}
