/**
 * The built `tokenmeter extproc` (dist/src/cli/main.js; `npm test` builds it first) in its own process on free
 * loopback ports, with an emulated Envoy client: for tests whose timing must not share an event loop with the
 * emulator (Envoy runs in its own process too).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createEnvoyClient } from '../envoy/emulator.js';
import type { ExternalProcessorClient } from '../../src/gen/envoy/service/ext_proc/v3/ExternalProcessor.js';
import { freePort } from './free-port.js';

const BIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

export interface ExtprocBinary {
  proc: ChildProcess;
  client: ExternalProcessorClient;
  admin: number;
  metrics(): Promise<string>;
  stop(): void;
}

export async function startExtprocBinary(args: readonly string[]): Promise<ExtprocBinary> {
  const [grpc, admin] = [await freePort(), await freePort()];
  const proc = spawn(process.execPath, [BIN, 'extproc', '--grpc-address', `127.0.0.1:${grpc}`, '--admin-address', `127.0.0.1:${admin}`, '--log-level', 'warn', ...args],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  const until = Date.now() + 10_000;
  for (;;) {
    const ready = await fetch(`http://127.0.0.1:${admin}/readyz`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > until || proc.exitCode !== null) {
      proc.kill('SIGKILL');
      throw new Error('tokenmeter extproc did not start');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const client = createEnvoyClient(`127.0.0.1:${grpc}`);
  return {
    proc, client, admin,
    metrics: async () => (await fetch(`http://127.0.0.1:${admin}/metrics`)).text(),
    stop: () => {
      client.close();
      proc.kill('SIGKILL');
    },
  };
}
