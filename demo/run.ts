/**
 * `npm run demo [-- --grpc HOST:PORT] [--admin URL]`: fills a running `npm start` with recorded LLM traffic so the
 * budget console has something to show: several tenants and models under the demo policies
 * (examples/policies/console-demo.yaml), and one tenant that runs into its daily budget. Needs no Envoy: the traffic
 * goes through the same emulated Envoy the tests use. Then open the console it prints.
 */
import { parseArgs } from 'node:util';
import { createEnvoyClient } from '../test/envoy/emulator.js';
import { replayDemo } from './replay.js';
import { DEMO_POLICIES, HEAVY_TENANT } from './traffic.js';

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { grpc: { type: 'string', default: '127.0.0.1:50051' }, admin: { type: 'string', default: 'http://127.0.0.1:9464' }, quiet: { type: 'boolean', default: false } } });
  const admin = String(values.admin).replace(/\/+$/, '');
  let loaded: string[];
  try {
    const res = await fetch(`${admin}/v1/policies`, { signal: AbortSignal.timeout(3000) });
    loaded = ((await res.json()) as { policies: string[] }).policies;
  } catch {
    process.stderr.write(`No tokenmeter answers at ${admin}. Start it first, in another terminal:\n\n  npm start\n\nthen run npm run demo again (or pass --grpc HOST:PORT --admin URL).\n`);
    return 1;
  }
  const missing = Object.values(DEMO_POLICIES).filter((p) => !loaded.includes(p));
  if (missing.length > 0) {
    process.stderr.write(`tokenmeter at ${admin} has not loaded ${missing.join(', ')}. Start it with the example policies (npm start loads examples/policies, console-demo.yaml among them).\n`);
    return 1;
  }
  const client = createEnvoyClient(String(values.grpc));
  const started = Date.now();
  const stats = await replayDemo(client, { run: started.toString(36), paceMs: 40, onProgress: values.quiet ? undefined : (l) => process.stdout.write(`${l}\n`) });
  client.close();
  process.stdout.write(`\n${stats.sent} requests in ${((Date.now() - started) / 1000).toFixed(1)} s, ${stats.refused} refused.\n`);
  for (const [s, n] of Object.entries(stats.subjects)) process.stdout.write(`  ${s.padEnd(10)} ${String(n.sent).padStart(3)} sent${n.refused ? `, ${n.refused} refused` : ''}\n`);
  if (stats.heavyRefusedAt === null) process.stdout.write(`\n${HEAVY_TENANT} was not refused: its daily budget has room left (the demo's budgets are per UTC day).\n`);
  process.stdout.write(`\nOpen the console: ${admin}/console/\n  ${admin}/console/policy?name=${encodeURIComponent(DEMO_POLICIES.teams)}\n  ${admin}/console/subject?policy=${encodeURIComponent(DEMO_POLICIES.teams)}&subject=${HEAVY_TENANT}\n`);
  return 0;
}

main().then((code) => (process.exitCode = code), (err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
