#!/usr/bin/env node
/**
 * The `tokenmeter` binary: parses the command line and hands over to a command. Wiring only. Each command's module
 * is imported when chosen, so the operator does not load the data plane (tokenizer encodings) nor the ext_proc the
 * Kubernetes operator machinery: each process holds only what it runs.
 */
import { loadConfig, usage } from '../config/config.js';
import { isTokenmeterError } from '../errors/catalogue.js';
import { createLogger } from '../log/logger.js';

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = loadConfig(argv);
  } catch (err) {
    process.stderr.write(`tokenmeter: ${isTokenmeterError(err) ? `${err.message} [${err.code}]` : String(err)}\n\n${usage()}\n`);
    return 2;
  }
  if (parsed.help || parsed.command === undefined || parsed.command === 'help') {
    process.stdout.write(`${usage()}\n`);
    return parsed.command === undefined && !parsed.help ? 2 : 0;
  }
  if (parsed.command === 'count') {
    const { runCount } = await import('./count.js');
    return runCount(parsed.rest, parsed.count, parsed.config, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
  }
  if (parsed.command === 'spend') {
    const { runSpend } = await import('./spend.js');
    return runSpend(parsed.spend, parsed.config, { stdout: process.stdout, stderr: process.stderr }, createLogger('silent'));
  }
  if (parsed.command !== 'extproc' && parsed.command !== 'operator' && parsed.command !== 'console') {
    process.stderr.write(`tokenmeter: unknown command "${parsed.command}"\n\n${usage()}\n`);
    return 2;
  }
  const operator = parsed.operator;
  const logger = createLogger(operator ? operator.logLevel : parsed.config.logLevel);
  const running = operator
    ? await (await import('./operator.js')).runOperator(operator, logger)
    : parsed.command === 'console'
      ? await (await import('./console.js')).runConsole(parsed.config, logger)
      : await (await import('./extproc.js')).runExtproc(parsed.config, logger);
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'shutdown requested');
      running.stop().then(resolve, resolve);
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  logger.flush();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`tokenmeter: ${isTokenmeterError(err) ? `${err.message} [${err.code}]` : String(err)}\n`);
    process.exitCode = 1;
  },
);
