/**
 * The built binary, as a user and Kubernetes run it: `node dist/src/cli/main.js extproc` on given ports, admin
 * endpoints, gRPC health, one metered exchange, and SIGTERM draining an open stream before exiting 0.
 * `npm test` builds before running tests; the test fails plainly if the build is missing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadProtos } from '../../src/extproc/protos.js';
import { createEnvoyClient, runExchange, FUNCTIONAL_TIMEOUT_MS } from '../envoy/emulator.js';
import type { HealthCheckResponse__Output } from '../../src/gen/grpc/health/v1/HealthCheckResponse.js';
import { freePort } from '../helpers/free-port.js';
import { waitForHttp as waitFor } from '../helpers/wait-for-http.js';

const BIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));


let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill('SIGKILL');
  child = undefined;
});

describe('tokenmeter binary', () => {
  it('is built', () => expect(existsSync(BIN), 'run `npm run build` first (npm test does)').toBe(true));

  it('prints help and rejects bad flags with exit code 2', () => {
    const help = spawnSync(process.execPath, [BIN, 'extproc', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--grpc-address');
    const bad = spawnSync(process.execPath, [BIN, 'extproc', '--grpc-address', 'nowhere'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--grpc-address: expected HOST:PORT');
    expect(bad.stderr).toContain('TM_CONFIG_INVALID');
  });

  it('serves ext_proc, health and metrics, then drains on SIGTERM and exits 0', async () => {
    const [gp, ap] = [await freePort(), await freePort()];
    child = spawn(process.execPath, [BIN, 'extproc', '--grpc-address', `127.0.0.1:${gp}`, '--admin-address', `127.0.0.1:${ap}`, '--shutdown-grace', '5'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    expect((await waitFor(`http://127.0.0.1:${ap}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${ap}/readyz`)).status).toBe(200);

    const { health } = loadProtos();
    const hc = new health.grpc.health.v1.Health(`127.0.0.1:${gp}`, grpc.credentials.createInsecure());
    const status = await new Promise<HealthCheckResponse__Output | undefined>((resolve, reject) =>
      hc.Check({ service: 'envoy.service.ext_proc.v3.ExternalProcessor' }, (e, r) => (e ? reject(e) : resolve(r))));
    expect(status?.status).toBe('SERVING');
    hc.close();

    const client = createEnvoyClient(`127.0.0.1:${gp}`);
    const body = Buffer.from(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello there' }] }));
    const resp = Buffer.from(JSON.stringify({ model: 'gpt-4o', usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } }));
    const res = await runExchange(client, { path: '/v1/chat/completions', requestChunks: [body], status: 200, responseHeaders: { 'content-type': 'application/json' }, responseChunks: [resp] }, { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });
    expect(res.dynamicMetadata['io.tokenmeter']?.total_tokens).toBe(12);
    const metrics = await (await fetch(`http://127.0.0.1:${ap}/metrics`)).text();
    expect(metrics).toMatch(/tokenmeter_tokens_total\{provider="openai",model="gpt-4o",source="provider",type="input"\} 9/);
    expect(metrics).toContain('gen_ai_client_token_usage_bucket');

    // A stream still open when SIGTERM arrives is allowed to finish.
    const slow = client.Process();
    slow.on('error', () => undefined);
    const replies: string[] = [];
    slow.on('data', (r: { response?: string }) => replies.push(r.response ?? ''));
    slow.write({ request_headers: { headers: { headers: [{ key: ':method', raw_value: Buffer.from('POST') }, { key: ':path', raw_value: Buffer.from('/v1/chat/completions') }] } } });
    await vi.waitFor(() => expect(replies).toEqual(['request_headers']), { timeout: 5000, interval: 20 });
    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    await vi.waitFor(async () => expect((await fetch(`http://127.0.0.1:${ap}/readyz`)).status).toBe(503), { timeout: 5000, interval: 20 });
    slow.write({ request_body: { body: body, end_of_stream: true } });
    await vi.waitFor(() => expect(replies).toHaveLength(2), { timeout: 5000, interval: 20 });
    slow.end();
    expect(await exited).toBe(0);
    expect(replies).toEqual(['request_headers', 'request_body']);
    expect(out).toContain('"msg":"stopped"');
    client.close();
  });
});
