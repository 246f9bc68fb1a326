/**
 * A benchmark server process: `node dist/bench/server-child.js tokenmeter|budgets|echo [REDIS_URL|-] [MESSAGE_TIMEOUT_S]`
 * (ledger off), or `ledger-sqlite` / `ledger-postgres POSTGRES_URL` (metering with the spend ledger on), or
 * `ledger-toggle-sqlite` / `ledger-toggle-postgres POSTGRES_URL` (the same, with IPC 'ledger-on' / 'ledger-off'
 * switching the ledger at run time: bench/ledger-toggle.ts), or
 * `policy-file FILE` (ledger off, budgets from the TokenPolicy file FILE, memory store). Tokenmeter flags after `--`
 * are added to its command line (e.g. `-- --ledger-flush-interval 1`). Sends its gRPC port to the parent and
 * answers IPC requests for its own CPU time (all threads, and the main thread's alone) and RSS, so the parent measures the
 * server alone. 'profile-start' and 'profile-stop:FILE' profile its main thread (V8's sampling profiler, through the
 * inspector) and write the profile to FILE: the measured load only, without start-up and warm-up. 'exit' ends it.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadConfig, type ExtprocConfig } from '../src/config/config.js';
import { createLogger } from '../src/log/logger.js';
import { runExtproc } from '../src/cli/extproc.js';
import { startLedgerToggle, type LedgerToggleServer } from './ledger-toggle.js';
import { loadProtos } from '../src/extproc/protos.js';
import { passThroughReply } from '../src/extproc/server.js';
import type { ProcessingRequest__Output } from '../src/gen/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse } from '../src/gen/envoy/service/ext_proc/v3/ProcessingResponse.js';

type Call = grpc.ServerDuplexStream<ProcessingRequest__Output, ProcessingResponse>;

/** The gRPC floor: answers every message with an empty reply of the matching kind and does nothing else. */
async function startEcho(): Promise<number> {
  const { extProc } = loadProtos();
  // The same receive cap as tokenmeter's server (64 MiB): an 8 MiB prompt is one message.
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  server.addService(extProc.envoy.service.ext_proc.v3.ExternalProcessor.service, {
    Process: (call: Call) => {
      call.on('data', (msg: ProcessingRequest__Output) => {
        const reply = passThroughReply(msg);
        if (reply) call.write(reply);
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
  });
  return new Promise((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
}

/**
 * tokenmeter, metering only; or with a budget policy (a budget large enough that every request is admitted); or with
 * the policies of `policyFile` (memory store).
 */
function tokenmeterConfig(budgets: boolean, ledger: string[], policyFile?: string): ExtprocConfig {
  const extra: string[] = [...ledger];
  if (policyFile) extra.push('--policies', policyFile);
  else if (budgets) {
    const dir = mkdtempSync(join(tmpdir(), 'tm-bench-'));
    writeFileSync(join(dir, 'policy.yaml'), [
      'apiVersion: tokenmeter.dev/v1alpha1', 'kind: TokenPolicy', 'metadata: {name: bench}', 'spec:',
      '  subject: {from: Header, name: x-tenant-id, onMissing: Shared}',
      '  limits:', '  - {name: per-minute, tokens: 1000000000000, window: 1m}', '  - {name: daily, tokens: 1000000000000, window: Day, count: Weighted, weights: {output: 4}}',
    ].join('\n'));
    extra.push('--policies', dir);
    if (args[1] && args[1] !== '-') extra.push('--redis-url', args[1]);
  }
  // The decision deadline follows Envoy's message timeout: the load runs give the emulator 60 s, the large-prompt run
  // the operator's rendered value (argv[4], seconds).
  extra.push('--message-timeout', args[2] ?? '60');
  const { config } = loadConfig(['extproc', '--grpc-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--log-level', 'silent', ...extra, ...flags], {});
  return config;
}

const sep = process.argv.indexOf('--');
/** KIND [REDIS_URL|POSTGRES_URL|FILE|-] [MESSAGE_TIMEOUT_S]; then the tokenmeter flags after `--`. */
const args = sep < 0 ? process.argv.slice(2) : process.argv.slice(2, sep);
const flags = sep < 0 ? [] : process.argv.slice(sep + 1);
const kind = args[0] ?? '';
const ledgerArgs = (): string[] => {
  const dataDir = ['--data-dir', mkdtempSync(join(tmpdir(), 'tm-bench-ledger-'))];
  if (kind === 'ledger-sqlite' || kind === 'ledger-toggle-sqlite') return dataDir;
  if (kind === 'ledger-postgres' || kind === 'ledger-toggle-postgres') return ['--ledger-url', args[1] ?? '', ...dataDir];
  return ['--ledger-url', 'none'];
};
let toggle: LedgerToggleServer | undefined;
async function start(): Promise<number> {
  if (kind === 'echo') return startEcho();
  const config = tokenmeterConfig(kind === 'budgets', ledgerArgs(), kind === 'policy-file' ? args[1] : undefined);
  if (kind.startsWith('ledger-toggle-')) {
    toggle = await startLedgerToggle(config);
    return toggle.port;
  }
  return (await runExtproc(config, createLogger('silent'))).grpc.port;
}
const port = await start();
/** The main thread's CPU time (µs; the kernel's clock ticks, USER_HZ 100 on Linux); NaN where /proc is absent. */
function mainThreadCpuUs(): number {
  try {
    const s = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) / 100) * 1e6;
  } catch {
    return NaN;
  }
}
let profiler: Session | undefined;
process.on('message', (msg: string) => {
  if (msg === 'exit') process.exit(0);
  if (msg === 'ledger-on' || msg === 'ledger-off') {
    toggle?.setLedger(msg === 'ledger-on');
    process.send?.({ ledger: toggle ? msg === 'ledger-on' : 'no toggle' });
    return;
  }
  if (msg === 'profile-start') {
    profiler = new Session();
    profiler.connect();
    profiler.post('Profiler.enable', () => profiler?.post('Profiler.start', () => process.send?.({ profiling: true })));
    return;
  }
  if (msg.startsWith('profile-stop:')) {
    profiler?.post('Profiler.stop', (err, r) => {
      if (!err) writeFileSync(msg.slice('profile-stop:'.length), JSON.stringify(r.profile));
      profiler?.disconnect();
      process.send?.({ profiled: !err });
    });
    return;
  }
  if (msg === 'gc') (globalThis as { gc?: () => void }).gc?.();
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  process.send?.({ cpuUs: cpu.user + cpu.system, mainCpuUs: mainThreadCpuUs(), rss: mem.rss, heap: mem.heapUsed + mem.external });
});
process.send?.({ port });
